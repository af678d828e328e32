// Redis killed mid-training and started again empty (no snapshot, no append-only file), on a
// server of this test's own: the training job loses its lock and stops, the reconciler finds the
// run without a job and queues its stage again, training resumes from its checkpoint and the run
// finishes; the job schedulers are back, and a new run starts and finishes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { ALL_WORKERS } from '../../../src/loop/jobs/worker-catalog.ts';
import {
  CRON_SCHEDULER_ID,
  FEEDBACK_CHECK_SCHEDULER_ID,
  SCHEDULER_QUEUE,
} from '../../../src/loop/jobs/scheduler-tick.job.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { activateTinyModel, seedCorrections, smallTraining } from '../../helpers/loop-runs.ts';
import { startScratchRedis, type ScratchRedis } from '../../helpers/scratch-services.ts';
import { waitFor } from '../../helpers/wait-for.ts';

describe('Redis loses its data during a loop run', () => {
  let redis: ScratchRedis;
  let t: LoopTest;
  let modelDir: string;
  let ops: TestUser;

  before(async () => {
    redis = await startScratchRedis();
    modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-models-'));
    t = await startLoopTest({
      workers: ALL_WORKERS,
      env: {
        REDIS_URL: redis.url,
        MODEL_DIR: modelDir,
        FEEDLOOP_EVAL_LIMIT: '3',
        FEEDLOOP_LOOP_RECONCILE_MS: '500',
        FEEDLOOP_WORKER_LOCK_MS: '4000',
      },
    });
    ops = await makeUser(t.app, 'ops');
    await activateTinyModel(t);
    await seedCorrections(t, await makeUser(t.app, 'user'), await makeUser(t.app, 'moderator'), 12);
  });
  after(async () => {
    await t?.close();
    await redis?.close();
    await rm(modelDir, { recursive: true, force: true });
  });

  const finished = (runId: string) =>
    waitFor(
      `run ${runId} to finish`,
      async () => {
        const run = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: runId } });
        return ['succeeded', 'failed', 'cancelled'].includes(run.status) ? run : null;
      },
      240_000,
    );
  const logsOf = async (runId: string) =>
    (await t.app.db.prisma.loopRunLog.findMany({ where: { runId }, orderBy: { id: 'asc' } })).map(
      (l) => l.message,
    );
  const schedulerIds = async () =>
    (await t.app.queues.get(SCHEDULER_QUEUE).getJobSchedulers()).map((s) => s.key ?? s.id).sort();

  test('the reconciler puts the run back, it finishes, schedules come back and a new run starts', async () => {
    assert.deepEqual(await schedulerIds(), [CRON_SCHEDULER_ID, FEEDBACK_CHECK_SCHEDULER_ID].sort());
    const created = await request(t.app.server)
      .post('/v1/loop/runs')
      .set('authorization', ops.auth)
      .send({ reason: 'redis data loss', training: smallTraining(400) });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const runId: string = created.body.run.id;
    await waitFor(
      'training step 10',
      () =>
        t.app.db.prisma.loopRunProgress.findFirst({
          where: { runId, phase: 'training', step: { gte: 10 } },
        }),
      120_000,
    );

    await redis.kill();
    await redis.start();

    const run = await finished(runId);
    const logs = await logsOf(runId);
    assert.equal(run.status, 'succeeded', `${run.error}\n${logs.join('\n')}`);
    assert.ok(
      logs.some((m) => /^reconciler: the train job of this run was missing from Redis/.test(m)),
      logs.join('\n'),
    );
    assert.ok(
      logs.some((m) => /^train: resumed from step/.test(m)),
      'training resumed from its checkpoint',
    );

    await waitFor(
      'the job schedulers to be created again',
      async () =>
        (await schedulerIds()).join() === [CRON_SCHEDULER_ID, FEEDBACK_CHECK_SCHEDULER_ID].sort().join(),
    );

    const next = await request(t.app.server)
      .post('/v1/loop/runs')
      .set('authorization', ops.auth)
      .send({ reason: 'after the outage', training: smallTraining(4) });
    assert.equal(next.status, 202, JSON.stringify(next.body));
    const second = await finished(next.body.run.id);
    assert.equal(second.status, 'succeeded', `${second.error}\n${(await logsOf(second.id)).join('\n')}`);
  });
});
