// The scheduler: a feedback check starts a run once enough newly approved feedback arrived since
// the last run was created, never while paused and never while a run is in progress.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { pino } from 'pino';
import { RedisLoopEvents } from '../../../src/loop/events.ts';
import { schedulerTick } from '../../../src/loop/jobs/scheduler-tick.handler.ts';
import type { LoopContext } from '../../../src/loop/context.ts';
import {
  CRON_SCHEDULER_ID,
  FEEDBACK_CHECK_SCHEDULER_ID,
  SCHEDULER_QUEUE,
} from '../../../src/loop/jobs/scheduler-tick.job.ts';
import { schedulerTickJob } from '../../../src/loop/jobs/scheduler-tick.job.ts';
import { workerFor } from '../../../src/loop/jobs/worker-catalog.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { startExchange } from '../../helpers/conversations.ts';
import { waitFor } from '../../helpers/wait-for.ts';

describe('the loop scheduler', () => {
  let t: LoopTest;
  let ops: TestUser;
  let user: TestUser;
  let ctx: LoopContext;

  // The scheduler worker only: a started run waits in the datasets queue, which keeps it "in progress".
  before(async () => {
    t = await startLoopTest({ workers: [workerFor(schedulerTickJob)] });
    ops = await makeUser(t.app, 'ops');
    user = await makeUser(t.app, 'user');
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

  const as = (who: TestUser) => ({
    get: (url: string) => request(t.app.server).get(url).set('authorization', who.auth),
    put: (url: string, body: object) =>
      request(t.app.server).put(url).set('authorization', who.auth).send(body),
    post: (url: string, body: object = {}) =>
      request(t.app.server).post(url).set('authorization', who.auth).send(body),
  });
  const rateUp = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const { answerId } = await startExchange(t, user, `Question number ${i} ${Date.now()}?`, 'An answer.');
      const res = await as(user).put(`/v1/messages/${answerId}/rating`, { kind: 'thumbs', value: 'up' });
      assert.equal(res.status, 200);
    }
  };
  const schedulerIds = async () =>
    (await t.app.queues.get(SCHEDULER_QUEUE).getJobSchedulers()).map((s) => s.key ?? s.id).sort();

  test('paused: no job schedulers and a tick starts nothing, whatever the feedback', async () => {
    const paused = await as(ops).post('/v1/loop/schedule/pause', { reason: 'maintenance' });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.enabled, false);
    assert.equal(paused.body.nextRunAt, null);
    assert.deepEqual(await schedulerIds(), []);
    const set = await as(ops).put('/v1/loop/schedule', { feedbackThreshold: 2 });
    assert.equal(set.status, 200);
    await rateUp(3);
    assert.equal((await as(ops).get('/v1/loop/schedule')).body.newApprovedFeedbackSinceLastRun, 3);
    assert.deepEqual(await schedulerTick(ctx, { trigger: 'feedback' }), { started: null, why: 'paused' });
    assert.deepEqual(await schedulerTick(ctx, { trigger: 'cron' }), { started: null, why: 'paused' });
    assert.equal(await t.app.db.prisma.loopRun.count(), 0);
  });

  test('resumed: the feedback check starts a run by itself, and none while it is in progress', async () => {
    const resumed = await as(ops).post('/v1/loop/schedule/resume', {});
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.enabled, true);
    assert.ok(resumed.body.nextRunAt, 'the cron has a next run');
    assert.deepEqual(await schedulerIds(), [CRON_SCHEDULER_ID, FEEDBACK_CHECK_SCHEDULER_ID].sort());

    const run = await waitFor('a feedback-triggered run', () => t.app.db.prisma.loopRun.findFirst());
    assert.equal(run.trigger, 'feedback');
    assert.equal(run.createdById, null);
    assert.match(run.reason ?? '', /3 new feedback items reached the threshold of 2/);
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({ where: { action: 'loop.run.create' } });
    assert.equal(audit?.actorId, null);

    // The cursor moved: nothing counts yet; more feedback while the run is in progress starts nothing.
    assert.equal((await as(ops).get('/v1/loop/schedule')).body.newApprovedFeedbackSinceLastRun, 0);
    await rateUp(2);
    assert.deepEqual(await schedulerTick(ctx, { trigger: 'feedback' }), {
      started: null,
      why: 'run_in_progress',
    });
    assert.deepEqual(await schedulerTick(ctx, { trigger: 'cron' }), {
      started: null,
      why: 'run_in_progress',
    });
    assert.equal(await t.app.db.prisma.loopRun.count(), 1);
  });

  test('below the threshold a check starts nothing; the cron starts a run regardless', async () => {
    assert.equal((await as(ops).put('/v1/loop/schedule', { feedbackThreshold: 50 })).status, 200);
    // Ticks are called by hand from here on: stop the frequent check and let an in-flight one end.
    const queue = t.app.queues.get(SCHEDULER_QUEUE);
    await queue.removeJobScheduler(FEEDBACK_CHECK_SCHEDULER_ID);
    await waitFor('no tick in flight', async () => (await queue.getActiveCount()) === 0);
    await t.app.db.prisma.loopRun.updateMany({ data: { status: 'cancelled' } });
    const below = await schedulerTick(ctx, { trigger: 'feedback' });
    assert.deepEqual(below, { started: null, why: 'below_threshold', newFeedback: 2 });
    const cron = await schedulerTick(ctx, { trigger: 'cron' });
    assert.ok(cron.started);
    assert.equal(cron.started.trigger, 'cron');
  });
});
