// A cancelled run stays cancelled (issue 13, defect 2). Every status change of a run is a
// conditional update, so a cancel that lands between a stage's read of the run and its write is
// not overwritten; a stage that finds its run cancelled stops; a cancel stops a running evaluation
// at its next item, and so does a worker shutting down.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import request from 'supertest';
import { buildDatasetsJob } from '../../../src/loop/jobs/build-datasets.job.ts';
import { evaluateJob } from '../../../src/loop/jobs/evaluate.job.ts';
import { trainJob } from '../../../src/loop/jobs/train.job.ts';
import { workerFor } from '../../../src/loop/jobs/worker-catalog.ts';
import { createRun } from '../../../src/loop/runs.ts';
import { scheduleDefaults } from '../../../src/loop/schedule.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { activateTinyModel } from '../../helpers/loop-runs.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const newRun = (t: LoopTest) =>
  createRun(t.app.db.prisma, scheduleDefaults(t.config), { trigger: 'manual', actorId: null });

/** Backends of this test's database waiting for a lock (a stage blocked on the run's row). */
async function lockWaiters(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return Number(rows[0]!.n);
}

describe('a cancel between a stage reading its run and marking it running', () => {
  let t: LoopTest;
  let client: pg.Client;

  before(async () => {
    t = await startLoopTest({ workers: [workerFor(buildDatasetsJob)] });
    client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await t?.close();
  });

  test('wins: the run stays cancelled, builds nothing and queues no next stage', async () => {
    const run = await newRun(t);
    // Hold the run's row: the stage can read the run, but its write waits for this transaction.
    await client.query('BEGIN');
    await client.query('SELECT id FROM loop_runs WHERE id = $1 FOR UPDATE', [run.id]);
    await t.app.queues.enqueue(buildDatasetsJob, { runId: run.id });
    await waitFor(
      'the stage to read the run and wait on its row',
      async () => (await lockWaiters(client)) > 0,
    );
    // The cancel lands between the stage's read and its write.
    await client.query(
      `UPDATE loop_runs SET status = 'cancelled', finished_at = now(), error = 'cancelled: race' WHERE id = $1`,
      [run.id],
    );
    await client.query('COMMIT');

    const job = await waitFor('the stage job', () =>
      t.app.queues.get(buildDatasetsJob.queue).getJob(`run-${run.id}-datasets`),
    );
    await waitFor('the stage job to finish', async () => (await job.getState()) === 'completed');
    const after = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } });
    assert.equal(after.status, 'cancelled');
    assert.equal(after.phase, 'queued');
    assert.equal(after.datasetId, null);
    assert.equal(await t.app.db.prisma.dataset.count(), 0);
    assert.equal(await t.app.queues.get(trainJob.queue).getJob(`run-${run.id}-train`), undefined);
    // And the next run may start: nothing is in progress.
    const next = await newRun(t);
    assert.equal(next.status, 'queued');
    await t.app.db.prisma.loopRun.update({ where: { id: next.id }, data: { status: 'cancelled' } });
  });

  test('a run whose gate has decided cannot be cancelled; a finished one neither', async () => {
    const ops = await makeUser(t.app, 'ops');
    const run = await newRun(t);
    await t.app.db.prisma.loopRun.update({
      where: { id: run.id },
      data: { status: 'running', phase: 'gating', decision: 'promoted' },
    });
    const cancel = () =>
      request(t.app.server)
        .post(`/v1/loop/runs/${run.id}/cancel`)
        .set('authorization', ops.auth)
        .send({ reason: 'too late' });
    const decided = await cancel();
    assert.equal(decided.status, 409, JSON.stringify(decided.body));
    assert.match(decided.body.error.message, /already promoted/);
    await t.app.db.prisma.loopRun.update({ where: { id: run.id }, data: { status: 'succeeded' } });
    assert.equal((await cancel()).status, 409);
    const stored = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } });
    assert.equal(stored.status, 'succeeded');
  });
});

describe('the evaluate stage', () => {
  let t: LoopTest;
  let modelDir: string;
  let ops: TestUser;
  let versionId: string;

  before(async () => {
    modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-models-'));
    // The suites' own sizes: a whole evaluation is far longer than any wait below.
    t = await startLoopTest({ workers: [workerFor(evaluateJob)], env: { MODEL_DIR: modelDir } });
    ops = await makeUser(t.app, 'ops');
    versionId = (await activateTinyModel(t)).id;
  });
  after(async () => {
    await t?.close();
    await rm(modelDir, { recursive: true, force: true });
  });

  /** A run at its evaluate stage, evaluating the active tiny model as its candidate. */
  async function evaluating() {
    const run = await newRun(t);
    await t.app.db.prisma.loopRun.update({
      where: { id: run.id },
      data: { status: 'running', phase: 'training', candidateVersionId: versionId },
    });
    await t.app.queues.enqueue(evaluateJob, { runId: run.id });
    await waitFor(
      'evaluation progress',
      () =>
        t.app.db.prisma.loopRunProgress.count({
          where: { runId: run.id, phase: { startsWith: 'evaluating' } },
        }),
      60_000,
    );
    const job = await t.app.queues.get(evaluateJob.queue).getJob(`run-${run.id}-evaluate`);
    assert.ok(job);
    return { run, job };
  }

  test('stops at its next item when the run is cancelled: no report, the job ends', async () => {
    const { run, job } = await evaluating();
    const cancelled = await request(t.app.server)
      .post(`/v1/loop/runs/${run.id}/cancel`)
      .set('authorization', ops.auth)
      .send({ reason: 'stop evaluating' });
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
    await waitFor('the evaluate job to end', async () => (await job.getState()) === 'completed', 30_000);
    assert.equal(await t.app.db.prisma.evaluationReport.count({ where: { runId: run.id } }), 0);
    const stored = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } });
    assert.equal(stored.status, 'cancelled');
    const logs = await t.app.db.prisma.loopRunLog.findMany({ where: { runId: run.id } });
    assert.equal(
      logs.some((l) => l.message === 'evaluate: done'),
      false,
    );
  });

  test('a worker shutting down stops it too and puts the job back', async () => {
    const { run, job } = await evaluating();
    await t.workers!.close();
    assert.equal(await job.getState(), 'waiting');
    assert.equal(await t.app.db.prisma.evaluationReport.count({ where: { runId: run.id } }), 0);
    const stored = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } });
    assert.equal(stored.status, 'running');
    await t.app.db.prisma.loopRun.update({ where: { id: run.id }, data: { status: 'cancelled' } });
  });
});
