// The reconciler against the real Redis, with Redis's data loss played by deleting the test's
// queue keys: a run whose job vanished is put back after a lock duration (not at first sight), a
// run that keeps losing its job fails with a reason, a stage that failed for good in Redis fails
// its run, a live job is left alone, and missing schedulers are created again.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisLoopEvents } from '../../../src/loop/events.ts';
import type { LoopContext } from '../../../src/loop/context.ts';
import { buildDatasetsJob } from '../../../src/loop/jobs/build-datasets.job.ts';
import { runJobId } from '../../../src/loop/jobs/job-definition.ts';
import { evaluateJob } from '../../../src/loop/jobs/evaluate.job.ts';
import { trainJob } from '../../../src/loop/jobs/train.job.ts';
import {
  CRON_SCHEDULER_ID,
  FEEDBACK_CHECK_SCHEDULER_ID,
  SCHEDULER_QUEUE,
} from '../../../src/loop/jobs/scheduler-tick.job.ts';
import { MAX_RECOVERIES, Reconciler } from '../../../src/loop/reconciler.ts';
import { createRun } from '../../../src/loop/runs.ts';
import { getSchedule, scheduleDefaults, syncSchedulers } from '../../../src/loop/schedule.ts';
import { deleteQueueKeys, startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { waitFor } from '../../helpers/wait-for.ts';

describe('the reconciler', () => {
  let t: LoopTest;
  let ctx: LoopContext;
  let clock = 0;
  const GRACE_MS = 60_000;
  let reconciler: Reconciler;

  before(async () => {
    t = await startLoopTest();
    ctx = {
      config: t.config,
      prisma: t.app.db.prisma,
      queues: t.app.queues,
      events: new RedisLoopEvents(t.app.queues.connection, t.prefix),
      datasetBuilds: t.app.datasetBuilds.build,
      log: pino({ level: 'silent' }),
    };
  });
  after(() => t.close());
  beforeEach(async () => {
    // Each test starts with no run in progress and an empty Redis.
    await t.app.db.prisma.loopRun.updateMany({
      where: { status: { in: ['queued', 'running'] } },
      data: { status: 'cancelled', finishedAt: new Date() },
    });
    await deleteQueueKeys(t.config.REDIS_URL, t.prefix);
    reconciler = new Reconciler(ctx, { graceMs: GRACE_MS, now: () => clock });
  });

  const newRun = () =>
    createRun(t.app.db.prisma, scheduleDefaults(t.config), { trigger: 'manual', actorId: null });
  const checkOf = async (runId: string) =>
    (await reconciler.reconcile()).runs.find((r) => r.runId === runId)!;
  const stateOf = async (queue: string, jobId: string) =>
    (await t.app.queues.get(queue).getJob(jobId))?.getState();

  /** Runs `jobId` of `queue` through a bare BullMQ worker whose processor does `work`, until it settles. */
  async function settle(queue: string, jobId: string, work: () => void, state: 'completed' | 'failed') {
    const connection = new Redis(t.config.REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker(
      queue,
      async (job) => {
        if (job.id === jobId) work();
      },
      { connection, prefix: t.prefix },
    );
    try {
      await waitFor(`${jobId} to be ${state}`, async () => (await stateOf(queue, jobId)) === state);
    } finally {
      await worker.close();
      connection.disconnect();
    }
  }

  test('a running run whose job vanished is queued again once a lock duration has passed', async () => {
    const run = await newRun();
    await t.app.db.prisma.loopRun.update({
      where: { id: run.id },
      data: { status: 'running', phase: 'training' },
    });
    const jobId = runJobId(run.id, trainJob.name);

    clock = 1_000;
    assert.deepEqual(await checkOf(run.id), { runId: run.id, action: 'watching', stage: trainJob.name });
    clock += GRACE_MS - 1;
    assert.equal((await checkOf(run.id)).action, 'watching', 'not before a whole lock duration');
    assert.equal(await stateOf(trainJob.queue, jobId), undefined);
    clock += 1;
    assert.deepEqual(await checkOf(run.id), { runId: run.id, action: 'requeued', stage: trainJob.name });
    assert.equal(await stateOf(trainJob.queue, jobId), 'waiting');
    const logs = await t.app.db.prisma.loopRunLog.findMany({ where: { runId: run.id } });
    assert.ok(logs.some((l) => /the train job of this run was missing from Redis/.test(l.message)));
    // The job exists now: nothing more to do.
    clock += GRACE_MS;
    assert.equal((await checkOf(run.id)).action, 'ok');
  });

  test('a queued run whose first job vanished gets its datasets job back', async () => {
    const queued = await newRun();
    clock = 0;
    await reconciler.reconcile();
    clock = GRACE_MS;
    assert.deepEqual(await checkOf(queued.id), {
      runId: queued.id,
      action: 'requeued',
      stage: buildDatasetsJob.name,
    });
    assert.equal(
      await stateOf(buildDatasetsJob.queue, runJobId(queued.id, buildDatasetsJob.name)),
      'waiting',
    );
  });

  test("a stage that completed while the next stage's job vanished gets that next job", async () => {
    const run = await newRun();
    await t.app.db.prisma.loopRun.update({
      where: { id: run.id },
      data: { status: 'running', phase: 'datasets' },
    });
    await ctx.queues.enqueue(buildDatasetsJob, { runId: run.id });
    await settle(buildDatasetsJob.queue, runJobId(run.id, buildDatasetsJob.name), () => {}, 'completed');
    clock = 0;
    await reconciler.reconcile();
    clock = GRACE_MS;
    assert.deepEqual(await checkOf(run.id), { runId: run.id, action: 'requeued', stage: trainJob.name });
    assert.equal(await stateOf(trainJob.queue, runJobId(run.id, trainJob.name)), 'waiting');
  });

  test('a run that keeps losing its job fails with a reason saying so', async () => {
    const run = await newRun();
    await t.app.db.prisma.loopRun.update({
      where: { id: run.id },
      data: { status: 'running', phase: 'evaluating' },
    });
    for (let i = 1; i <= MAX_RECOVERIES; i++) {
      await deleteQueueKeys(t.config.REDIS_URL, t.prefix);
      clock = i * 10 * GRACE_MS;
      await reconciler.reconcile();
      clock += GRACE_MS;
      assert.equal((await checkOf(run.id)).action, 'requeued', `recovery ${i}`);
    }
    await deleteQueueKeys(t.config.REDIS_URL, t.prefix);
    clock += 10 * GRACE_MS;
    await reconciler.reconcile();
    clock += GRACE_MS;
    const check = await checkOf(run.id);
    assert.equal(check.action, 'failed');
    const failed = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } });
    assert.equal(failed.status, 'failed');
    assert.match(failed.error!, /evaluate: its job vanished from Redis 4 times/);
  });

  test('a stage that failed for good in Redis fails its run with the stage error', async () => {
    const run = await newRun();
    await t.app.db.prisma.loopRun.update({
      where: { id: run.id },
      data: { status: 'running', phase: 'evaluating' },
    });
    await ctx.queues.enqueue(evaluateJob, { runId: run.id });
    // Three attempts with a 50 ms backoff (FEEDLOOP_JOB_BACKOFF_MS in loop tests).
    await settle(
      evaluateJob.queue,
      runJobId(run.id, evaluateJob.name),
      () => {
        throw new Error('the evaluation exploded');
      },
      'failed',
    );
    assert.equal((await checkOf(run.id)).action, 'failed');
    const failed = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } });
    assert.equal(failed.status, 'failed');
    assert.match(failed.error!, /^evaluate: the evaluation exploded/);
  });

  test('a run whose job is waiting or delayed is left alone, however long', async () => {
    const run = await newRun();
    await ctx.queues.enqueue(buildDatasetsJob, { runId: run.id });
    for (const at of [0, GRACE_MS, 5 * GRACE_MS]) {
      clock = at;
      assert.equal((await checkOf(run.id)).action, 'ok');
    }
  });

  test('missing schedulers are created again while the schedule is enabled', async () => {
    const schedule = await getSchedule(t.app.db.prisma, scheduleDefaults(t.config));
    assert.equal(schedule.enabled, true);
    const ids = async () =>
      (await t.app.queues.get(SCHEDULER_QUEUE).getJobSchedulers()).map((s) => s.key ?? s.id).sort();
    assert.deepEqual(await ids(), [], 'Redis lost them');
    assert.equal((await reconciler.reconcile()).schedulersRestored, true);
    assert.deepEqual(await ids(), [CRON_SCHEDULER_ID, FEEDBACK_CHECK_SCHEDULER_ID].sort());
    assert.equal((await reconciler.reconcile()).schedulersRestored, false, 'present: left as they are');

    await t.app.db.prisma.loopSchedule.update({ where: { id: 1 }, data: { enabled: false } });
    await syncSchedulers(t.app.queues, { ...schedule, enabled: false }, t.config.FEEDLOOP_LOOP_CHECK_MS);
    assert.equal((await reconciler.reconcile()).schedulersRestored, false);
    assert.deepEqual(await ids(), [], 'paused: none');
    await t.app.db.prisma.loopSchedule.update({ where: { id: 1 }, data: { enabled: true } });
  });
});
