// Loop stages through real BullMQ workers: a run's stage runs once however often it is enqueued,
// and a failing stage is retried with exponential backoff, then fails the run with its reason; ops
// can see the failed job and retry it (audited).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { buildDatasetsJob } from '../../../../src/loop/jobs/build-datasets.job.ts';
import { trainJob } from '../../../../src/loop/jobs/train.job.ts';
import { workerFor } from '../../../../src/loop/jobs/worker-catalog.ts';
import { makeUser, type TestUser } from '../../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../../helpers/loop.ts';
import { waitFor } from '../../../helpers/wait-for.ts';

describe('a run stage enqueued several times', () => {
  let t: LoopTest;
  let ops: TestUser;

  before(async () => {
    // The datasets worker only: the run stops at the train job, which stays queued.
    t = await startLoopTest({ workers: [workerFor(buildDatasetsJob)] });
    ops = await makeUser(t.app, 'ops');
  });
  after(() => t.close());

  test('runs once and queues the next stage once', async () => {
    const res = await request(t.app.server)
      .post('/v1/loop/runs')
      .set('authorization', ops.auth)
      .send({ reason: 'idempotency' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const runId: string = res.body.run.id;
    assert.equal(res.body.run.status, 'queued');
    // The API enqueued it; enqueue it twice more as a retrying producer would.
    await t.app.queues.enqueue(buildDatasetsJob, { runId });
    await t.app.queues.enqueue(buildDatasetsJob, { runId });

    const run = await waitFor('the dataset snapshot', async () => {
      const r = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: runId } });
      return r.datasetId ? r : null;
    });
    assert.equal(run.status, 'running');
    assert.equal(run.phase, 'datasets');
    await waitFor('the train job', () => t.app.queues.get(trainJob.queue).getJob(`run-${runId}-train`));
    const trainJobs = await t.app.queues.get(trainJob.queue).getJobs(['waiting', 'delayed', 'active']);
    assert.deepEqual(
      trainJobs.map((j) => j.id),
      [`run-${runId}-train`],
    );
    // A re-delivered job for a run past this stage does nothing.
    await t.app.queues.get(buildDatasetsJob.queue).add('datasets', { runId }, { jobId: `again-${runId}` });
    await waitFor('the re-delivered job to finish', async () =>
      (await t.app.queues.get(buildDatasetsJob.queue).getJob(`again-${runId}`))?.isCompleted(),
    );
    const logs = await t.app.db.prisma.loopRunLog.findMany({ where: { runId }, orderBy: { id: 'asc' } });
    const started = logs.filter((l) => l.message.startsWith('datasets: started'));
    assert.equal(started.length, 2, logs.map((l) => l.message).join('\n'));
    const built = logs.filter((l) => /datasets: (built|reused) snapshot/.test(l.message));
    assert.equal(built.length, 2, 'the second delivery found the same content-addressed snapshot');
    assert.equal(await t.app.db.prisma.dataset.count(), 1);
    assert.equal(await t.app.queues.get(buildDatasetsJob.queue).getCompletedCount(), 2);

    const cancelled = await request(t.app.server)
      .post(`/v1/loop/runs/${runId}/cancel`)
      .set('authorization', ops.auth)
      .send({ reason: 'test over' });
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.run.status, 'cancelled');
  });
});

describe('a failing stage', () => {
  let t: LoopTest;
  let ops: TestUser;

  before(async () => {
    const base = await import('node:os').then((os) => os.tmpdir());
    // The data folder is a file: every dataset build fails writing into it.
    const notAFolder = path.join(base, `feedloop-not-a-folder-${process.pid}-${Date.now()}`);
    await writeFile(notAFolder, 'x');
    t = await startLoopTest({
      workers: [workerFor(buildDatasetsJob)],
      env: { FEEDLOOP_DATA_DIR: notAFolder },
    });
    ops = await makeUser(t.app, 'ops');
  });
  after(() => t.close());

  test('is retried with exponential backoff, then fails the run; ops see it and can retry it', async () => {
    const res = await request(t.app.server).post('/v1/loop/runs').set('authorization', ops.auth).send({});
    assert.equal(res.status, 202);
    const runId: string = res.body.run.id;

    const run = await waitFor('the run to fail', async () => {
      const r = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: runId } });
      return r.status === 'failed' ? r : null;
    });
    assert.match(run.error ?? '', /^datasets: .*(ENOTDIR|not a directory)/i);
    const logs = (await request(t.app.server).get(`/v1/loop/runs/${runId}`).set('authorization', ops.auth))
      .body.logs as { level: string; message: string }[];
    const retries = logs.filter((l) => l.level === 'warn').map((l) => l.message);
    assert.equal(retries.length, 2, JSON.stringify(logs));
    assert.match(retries[0]!, /attempt 1 of 3 failed, retrying in 50 ms/);
    assert.match(retries[1]!, /attempt 2 of 3 failed, retrying in 100 ms/);
    assert.ok(logs.some((l) => l.level === 'error' && /failed for good after 3 attempt/.test(l.message)));

    const job = await t.app.queues.get(buildDatasetsJob.queue).getJob(`run-${runId}-datasets`);
    assert.equal(job?.attemptsMade, 3);

    const health = await request(t.app.server).get('/v1/jobs/queues').set('authorization', ops.auth);
    assert.equal(health.status, 200);
    const datasets = health.body.queues.find((q: { name: string }) => q.name === buildDatasetsJob.queue);
    assert.equal(datasets.counts.failed, 1);
    assert.equal(datasets.failed[0].id, `run-${runId}-datasets`);
    assert.equal(datasets.failed[0].attemptsMade, 3);

    const retried = await request(t.app.server)
      .post(`/v1/jobs/${buildDatasetsJob.queue}/run-${runId}-datasets/retry`)
      .set('authorization', ops.auth)
      .send({ reason: 'disk fixed' });
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.deepEqual(retried.body, { retried: true });
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({ where: { action: 'job.retry' } });
    assert.equal(audit?.actorId, ops.id);
    assert.equal((audit?.details as { reason: string }).reason, 'disk fixed');
    // Still broken: the retried job fails the run again.
    await waitFor('the retried job to fail the run again', async () => {
      const logsAfter = await t.app.db.prisma.loopRunLog.count({
        where: { runId, level: 'error' },
      });
      return logsAfter >= 2;
    });

    // A failed job of a run cancelled meanwhile does not bring the run back.
    await waitFor('the job to fail again', async () =>
      (await t.app.queues.get(buildDatasetsJob.queue).getJob(`run-${runId}-datasets`))?.isFailed(),
    );
    await t.app.db.prisma.loopRun.update({ where: { id: runId }, data: { status: 'cancelled' } });
    const revived = await request(t.app.server)
      .post(`/v1/jobs/${buildDatasetsJob.queue}/run-${runId}-datasets/retry`)
      .set('authorization', ops.auth)
      .send({});
    assert.equal(revived.status, 409, JSON.stringify(revived.body));
    const still = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: runId } });
    assert.equal(still.status, 'cancelled');

    const again = await request(t.app.server)
      .post(`/v1/jobs/${buildDatasetsJob.queue}/no-such-job/retry`)
      .set('authorization', ops.auth)
      .send({});
    assert.equal(again.status, 404);
  });
});
