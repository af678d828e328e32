// The loop's ops routes: who may call them, what they answer, and the audit entries they leave.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { placeTinyModel } from '../../helpers/llm.ts';
import { errorPaths } from '../../helpers/conversations.ts';

describe('loop routes', () => {
  let t: LoopTest;
  let ops: TestUser;
  let admin: TestUser;
  let moderator: TestUser;
  let user: TestUser;

  // No workers: runs stay queued, which is all these routes need.
  before(async () => {
    t = await startLoopTest();
    [ops, admin, moderator, user] = await Promise.all([
      makeUser(t.app, 'ops'),
      makeUser(t.app, 'admin'),
      makeUser(t.app, 'moderator'),
      makeUser(t.app, 'user'),
    ]);
  });
  after(() => t.close());

  const call = (who: TestUser | null, method: 'get' | 'put' | 'post', url: string, body?: object) => {
    let req = request(t.app.server)[method](url);
    if (who) req = req.set('authorization', who.auth);
    return body ? req.send(body) : req;
  };

  test('ops routes refuse anonymous callers, users and moderators; reports are readable by moderators', async () => {
    const opsOnly: ['get' | 'put' | 'post', string, object?][] = [
      ['get', '/v1/loop/schedule'],
      ['put', '/v1/loop/schedule', { feedbackThreshold: 5 }],
      ['post', '/v1/loop/schedule/pause', {}],
      ['post', '/v1/loop/schedule/resume', {}],
      ['post', '/v1/loop/runs', {}],
      ['get', '/v1/loop/runs'],
      ['get', '/v1/jobs/queues'],
      ['post', '/v1/jobs/loop-train/x/retry', {}],
      ['get', '/v1/audit'],
      ['post', '/v1/model-versions/rollback', { reason: 'r' }],
    ];
    for (const [method, url, body] of opsOnly) {
      assert.equal((await call(null, method, url, body)).status, 401, `${method} ${url} anonymous`);
      assert.equal((await call(user, method, url, body)).status, 403, `${method} ${url} user`);
      assert.equal((await call(moderator, method, url, body)).status, 403, `${method} ${url} moderator`);
    }
    assert.equal((await call(user, 'get', '/v1/reports')).status, 403);
    for (const who of [moderator, ops, admin]) {
      const res = await call(who, 'get', '/v1/reports');
      assert.equal(res.status, 200, who.role);
      assert.deepEqual(res.body, { reports: [], nextCursor: null });
    }
    assert.equal((await call(ops, 'get', '/v1/reports/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  test('the schedule: seeded from the environment, changed and paused with audit entries', async () => {
    const initial = await call(ops, 'get', '/v1/loop/schedule');
    assert.equal(initial.status, 200);
    assert.equal(initial.body.enabled, true);
    assert.equal(initial.body.cron, t.config.FEEDLOOP_LOOP_CRON);
    assert.equal(initial.body.feedbackThreshold, 1_000_000);
    assert.deepEqual(initial.body.training, {});
    assert.deepEqual(initial.body.datasets, {});
    assert.equal(initial.body.updatedBy, null);

    const bad = await call(ops, 'put', '/v1/loop/schedule', {
      cron: 'every day',
      feedbackThreshold: 0,
      training: { methods: ['sft', 'sft'] },
      datasets: { window: {}, stars: { positiveMin: 9 } },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(errorPaths(bad.body).sort(), [
      'body.cron',
      'body.datasets.stars.positiveMin',
      'body.datasets.window',
      'body.feedbackThreshold',
      'body.training.methods',
    ]);
    const unparseable = await call(ops, 'put', '/v1/loop/schedule', { cron: '99 99 * * *' });
    assert.equal(unparseable.status, 400, JSON.stringify(unparseable.body));
    assert.equal((await call(ops, 'get', '/v1/loop/schedule')).body.cron, t.config.FEEDLOOP_LOOP_CRON);

    const changed = await call(ops, 'put', '/v1/loop/schedule', {
      cron: '30 2 * * *',
      feedbackThreshold: 25,
      training: { sft: { epochs: 1 } },
      datasets: { raters: { minSecondsBetweenRatings: 1 } },
      reason: 'nightly',
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.cron, '30 2 * * *');
    assert.equal(changed.body.feedbackThreshold, 25);
    assert.deepEqual(changed.body.training, { sft: { epochs: 1 } });
    assert.deepEqual(changed.body.datasets, { raters: { minSecondsBetweenRatings: 1 } });
    assert.equal(changed.body.updatedBy, ops.email);
    const next = new Date(changed.body.nextRunAt);
    assert.equal(next.getUTCHours(), 2);
    assert.equal(next.getUTCMinutes(), 30);

    const paused = await call(admin, 'post', '/v1/loop/schedule/pause', { reason: 'incident' });
    assert.equal(paused.body.enabled, false);
    assert.equal(paused.body.nextRunAt, null);
    const resumed = await call(ops, 'post', '/v1/loop/schedule/resume');
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.equal(resumed.body.enabled, true);

    const entries = (await call(ops, 'get', '/v1/audit?action=loop.schedule.update')).body.entries;
    assert.equal(entries.length, 1);
    assert.equal(entries[0].actorId, ops.id);
    assert.equal(entries[0].actorEmail, ops.email);
    assert.equal(entries[0].target, 'loop_schedule');
    assert.equal(entries[0].details.reason, 'nightly');
    assert.deepEqual(entries[0].details.changed.feedbackThreshold, { from: 1_000_000, to: 25 });
    const pause = (await call(ops, 'get', '/v1/audit?action=loop.schedule.pause')).body.entries;
    assert.equal(pause[0].actorId, admin.id);
    assert.equal(pause[0].details.reason, 'incident');
    assert.equal((await call(ops, 'get', '/v1/audit?action=loop.schedule.resume')).body.entries.length, 1);
  });

  test('runs: one at a time, with the schedule overrides under the request overrides; cancel frees the slot', async () => {
    const mixed = await call(ops, 'post', '/v1/loop/runs', { training: { precision: 'mixed' } });
    assert.equal(mixed.status, 400);
    assert.deepEqual(errorPaths(mixed.body), ['body.training.precision']);
    assert.match(mixed.body.error.message, /float16|TensorFlow\.js/);
    const negative = await call(ops, 'post', '/v1/loop/runs', {
      training: { batchSize: -1, sft: { lr: 0 } },
    });
    assert.equal(negative.status, 400);
    assert.deepEqual(errorPaths(negative.body).sort(), ['body.training.batchSize', 'body.training.sft.lr']);
    const badDatasets = await call(ops, 'post', '/v1/loop/runs', { datasets: { sft: { minStars: 6 } } });
    assert.equal(badDatasets.status, 400);
    assert.deepEqual(errorPaths(badDatasets.body), ['body.datasets.sft.minStars']);
    assert.equal(await t.app.db.prisma.loopRun.count(), 0, 'refused runs leave nothing behind');

    const created = await call(ops, 'post', '/v1/loop/runs', {
      reason: 'try it',
      training: { batchSize: 4, sft: { lr: 0.01 } },
      datasets: { raters: { fastShare: 0.9 } },
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const run = created.body.run;
    assert.equal(run.status, 'queued');
    assert.equal(run.phase, 'queued');
    assert.equal(run.trigger, 'manual');
    assert.equal(run.reason, 'try it');
    // Nested overrides merge: the schedule's sft.epochs stays beside the request's sft.lr.
    assert.deepEqual(run.trainingConfig, { sft: { epochs: 1, lr: 0.01 }, batchSize: 4 });
    assert.deepEqual(run.datasetConfig, { raters: { minSecondsBetweenRatings: 1, fastShare: 0.9 } });
    const jobs = await t.app.queues.get('loop-datasets').getWaiting();
    assert.deepEqual(
      jobs.map((j) => j.id),
      [`run-${run.id}-datasets`],
    );

    const second = await call(admin, 'post', '/v1/loop/runs', {});
    assert.equal(second.status, 409);
    assert.equal(second.body.error.details.runId, run.id);

    const list = await call(ops, 'get', '/v1/loop/runs?limit=5');
    assert.deepEqual(
      list.body.runs.map((r: { id: string }) => r.id),
      [run.id],
    );
    const detail = await call(ops, 'get', `/v1/loop/runs/${run.id}`);
    assert.equal(detail.status, 200);
    assert.deepEqual(detail.body.progress, []);
    assert.equal(detail.body.run.id, run.id);
    assert.equal((await call(ops, 'get', '/v1/loop/runs/00000000-0000-4000-8000-000000000000')).status, 404);
    assert.equal((await call(ops, 'get', '/v1/loop/runs/nope')).status, 400);

    const cancel = await call(ops, 'post', `/v1/loop/runs/${run.id}/cancel`, { reason: 'wrong config' });
    assert.equal(cancel.status, 200);
    assert.equal(cancel.body.run.status, 'cancelled');
    assert.equal(
      (await call(ops, 'post', `/v1/loop/runs/${run.id}/cancel`, { reason: 'again' })).status,
      409,
    );
    const next = await call(ops, 'post', '/v1/loop/runs', {});
    assert.equal(next.status, 202);
    await call(ops, 'post', `/v1/loop/runs/${next.body.run.id}/cancel`, { reason: 'done testing' });

    const audit = (await call(ops, 'get', '/v1/audit?action=loop.run.create&limit=10')).body.entries;
    assert.equal(audit.length, 2);
    assert.equal(audit[1].target, `loop_run:${run.id}`);
    assert.equal(audit[1].details.reason, 'try it');
    assert.equal((await call(ops, 'get', '/v1/audit?action=loop.run.cancel')).body.entries.length, 2);
  });

  test('model versions: promote, reject and rollback are ops actions with reasons, audited', async () => {
    const register = async (name: string) => {
      // Registration reads the folder: a real (tiny) model, removed again from the shared MODEL_DIR.
      const folder = placeTinyModel(t.config.MODEL_DIR, name);
      let res;
      try {
        res = await call(ops, 'post', '/v1/model-versions', { name, path: name });
      } finally {
        folder.remove();
      }
      assert.equal(res.status, 201);
      return res.body.id as string;
    };
    const a = await register('route-a');
    const b = await register('route-b');
    const c = await register('route-c');
    assert.equal((await call(user, 'post', `/v1/model-versions/${a}/promote`, { reason: 'x' })).status, 403);
    assert.equal((await call(ops, 'post', `/v1/model-versions/${a}/promote`, {})).status, 400);

    const promotedA = await call(ops, 'post', `/v1/model-versions/${a}/promote`, { reason: 'first' });
    assert.equal(promotedA.status, 200, JSON.stringify(promotedA.body));
    assert.equal(promotedA.body.version.status, 'active');
    const promotedB = await call(admin, 'post', `/v1/model-versions/${b}/promote`, { reason: 'better' });
    assert.equal(promotedB.body.version.status, 'active');
    // A retired version is not a candidate: promote refuses it (rollback is the way back).
    assert.equal((await call(ops, 'post', `/v1/model-versions/${a}/promote`, { reason: 'x' })).status, 409);

    const rejected = await call(ops, 'post', `/v1/model-versions/${c}/reject`, { reason: 'biased' });
    assert.equal(rejected.status, 200);
    assert.equal(rejected.body.version.status, 'rejected');
    assert.equal(
      (await call(ops, 'post', `/v1/model-versions/${c}/reject`, { reason: 'again' })).status,
      409,
    );
    assert.equal((await call(ops, 'post', `/v1/model-versions/${c}/promote`, { reason: 'no' })).status, 409);

    const rollback = await call(ops, 'post', '/v1/model-versions/rollback', { reason: 'b answers worse' });
    assert.equal(rollback.status, 200, JSON.stringify(rollback.body));
    assert.equal(rollback.body.version.id, a);
    assert.equal(rollback.body.version.status, 'active');
    const statuses = await t.app.db.prisma.modelVersion.findMany({ where: { id: { in: [a, b, c] } } });
    assert.deepEqual(Object.fromEntries(statuses.map((v) => [v.name, v.status])), {
      'route-a': 'active',
      'route-b': 'retired',
      'route-c': 'rejected',
    });

    const actions = (await call(ops, 'get', '/v1/audit?limit=100')).body.entries as {
      action: string;
      actorId: string;
      target: string;
      details: { reason?: string; rolledBackFromId?: string };
    }[];
    const find = (action: string, target: string) =>
      actions.find((e) => e.action === action && e.target === target);
    assert.equal(find('model_version.promote', `model_version:${b}`)?.actorId, admin.id);
    assert.equal(find('model_version.reject', `model_version:${c}`)?.details.reason, 'biased');
    const rolled = find('model_version.rollback', `model_version:${a}`);
    assert.equal(rolled?.actorId, ops.id);
    assert.equal(rolled?.details.reason, 'b answers worse');
    assert.equal(rolled?.details.rolledBackFromId, b);
  });

  test('queue health lists every queue with its counts', async () => {
    const res = await call(ops, 'get', '/v1/jobs/queues');
    assert.equal(res.status, 200);
    const names = res.body.queues.map((q: { name: string }) => q.name);
    assert.deepEqual(names, [
      'loop-datasets',
      'loop-train',
      'loop-evaluate',
      'loop-report',
      'loop-promote',
      'loop-scheduler',
    ]);
    const datasets = res.body.queues[0];
    assert.deepEqual(Object.keys(datasets.counts).sort(), [
      'active',
      'completed',
      'delayed',
      'failed',
      'paused',
      'waiting',
    ]);
    assert.equal(datasets.counts.waiting, 2, 'the two runs above were queued');
    assert.equal((await call(ops, 'post', '/v1/jobs/no-such-queue/x/retry', {})).status, 400);
  });
});
