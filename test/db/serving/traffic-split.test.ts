// Which version answers: traffic splits (weights, stickiness, every process following, promotion
// ending them, the canary guard), who may name a version (issue 13, defect 14) and idle versions
// leaving the worker threads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import WebSocket from 'ws';
import { startTestApp, makeUser, type TestApp, type TestUser } from '../../helpers/app.ts';
import { startProcess, freePort, type RunningProcess } from '../../helpers/processes.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { ensureBaseModel } from '../../../src/promotion/base-model.ts';
import { registerModelVersion } from '../../../src/promotion/model-versions.ts';
import { createUser, issueApiKey } from '../../../src/platform/users/users.ts';
import type { ModelVersion } from '../../../src/generated/prisma/client.ts';

const MODEL_DIR = fileURLToPath(new URL('../../../models', import.meta.url));

describe('traffic splits and who may name a version', () => {
  let t: TestApp;
  let ops: TestUser;
  let user: TestUser;
  let canary: ModelVersion;
  let old: ModelVersion;

  /** One short answer as `who`; the model the answer says served it, and the stored message. */
  async function ask(who: { auth: string }, model?: string, server: string | object = t.app.server) {
    const res = await request(server as never)
      .post('/v1/chat/completions')
      .set('Authorization', who.auth)
      .send({ ...(model ? { model } : {}), messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1 });
    return res;
  }

  /** Ops set the traffic split: each version with its weight, in order. */
  function setSplit(weights: Record<string, number>, reason: string) {
    return request(t.app.server)
      .put('/v1/serving/traffic')
      .set('Authorization', ops.auth)
      .send({ splits: Object.entries(weights).map(([version, weight]) => ({ version, weight })), reason });
  }

  before(async () => {
    t = await startTestApp({
      MODEL_DIR,
      FEEDLOOP_MODEL_IDLE_UNLOAD_MS: '1500',
      FEEDLOOP_CANARY_GUARD: 'true',
      FEEDLOOP_CANARY_GUARD_MIN_SAMPLE: '20',
      FEEDLOOP_CANARY_GUARD_CHECK_MS: '300',
    });
    await ensureBaseModel(t.app.db.prisma, MODEL_DIR);
    await t.app.servedModels.warm();
    canary = await registerModelVersion(t.app.db.prisma, { name: 'canary', path: 'base', actorId: null });
    old = await registerModelVersion(t.app.db.prisma, { name: 'old', path: 'base', actorId: null });
    ops = await makeUser(t.app, 'ops');
    user = await makeUser(t.app);
  });
  after(() => t.close());

  test('users get the active version; naming a candidate is for ops, or for versions opened to users (defect 14)', async () => {
    const byUser = await ask(user, 'canary');
    assert.equal(byUser.status, 404, JSON.stringify(byUser.body));
    assert.equal(byUser.body.error.code, 'model_not_found');
    assert.equal(byUser.body.error.param, 'model');
    assert.equal((await ask(user)).body.model, 'base');
    assert.equal((await ask(user, 'base')).body.model, 'base');

    const byOps = await ask(ops, 'canary');
    assert.equal(byOps.status, 200, JSON.stringify(byOps.body));
    assert.equal(byOps.body.model, 'canary');

    const listed = async (who: TestUser) =>
      (await request(t.app.server).get('/v1/models').set('Authorization', who.auth)).body.data
        .map((m: { id: string }) => m.id)
        .sort();
    assert.deepEqual(await listed(user), ['base']);
    assert.deepEqual(await listed(ops), ['base', 'canary', 'old']);

    const notAllowed = await request(t.app.server)
      .put(`/v1/model-versions/${canary.id}/access`)
      .set('Authorization', user.auth)
      .send({ openToUsers: true, reason: 'try' });
    assert.equal(notAllowed.status, 403);
    const bad = await request(t.app.server)
      .put(`/v1/model-versions/${canary.id}/access`)
      .set('Authorization', ops.auth)
      .send({ openToUsers: 'yes', reason: 'try' });
    assert.equal(bad.status, 400);
    assert.ok(JSON.stringify(bad.body.error.details).includes('openToUsers'));

    const opened = await request(t.app.server)
      .put(`/v1/model-versions/${canary.id}/access`)
      .set('Authorization', ops.auth)
      .send({ openToUsers: true, reason: 'beta testers may try it' });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    assert.deepEqual(await listed(user), ['base', 'canary']);
    assert.equal((await ask(user, 'canary')).body.model, 'canary');
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({
      where: { action: 'model_version.access', target: `model_version:${canary.id}` },
    });
    assert.equal((audit?.details as { reason: string }).reason, 'beta testers may try it');

    await request(t.app.server)
      .put(`/v1/model-versions/${canary.id}/access`)
      .set('Authorization', ops.auth)
      .send({ openToUsers: false, reason: 'beta over' })
      .expect(200);
    assert.equal((await ask(user, 'canary')).status, 404);

    // The chat socket goes through the same choice.
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const socket = new WebSocket(`${address.replace(/^http/, 'ws')}/v1/chat/socket`, {
      headers: { authorization: user.auth },
    });
    const inbox: Record<string, unknown>[] = [];
    socket.on('message', (data) => inbox.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    try {
      const generate = (requestId: string, model?: string) =>
        socket.send(
          JSON.stringify({
            type: 'generate',
            requestId,
            content: 'Hi',
            options: { maxTokens: 1 },
            ...(model ? { model } : {}),
          }),
        );
      generate('named', 'canary');
      const refused = await waitFor('the refusal', () =>
        inbox.find((m) => m.type === 'error' && m.requestId === 'named'),
      );
      assert.equal((refused.error as { code: string }).code, 'not_found');
      generate('routed');
      const started = await waitFor('the answer', () =>
        inbox.find((m) => m.type === 'started' && m.requestId === 'routed'),
      );
      assert.equal(started.model, 'base');
      await waitFor('the end of the answer', () =>
        inbox.find((m) => m.type === 'done' && m.requestId === 'routed'),
      );
    } finally {
      socket.close();
    }
  });

  test('a version nobody asks for is unloaded from the worker threads; the active one stays', async () => {
    const server = await t.app.servedModels.modelServer();
    assert.equal((await ask(ops, 'old')).body.model, 'old');
    assert.ok(server.versions().some((v) => v.versionId === old.id));
    const base = await t.app.db.prisma.modelVersion.findUniqueOrThrow({ where: { name: 'base' } });
    await waitFor(
      'the idle version to be unloaded',
      () => !server.versions().some((v) => v.versionId === old.id),
      60_000,
    );
    assert.ok(
      server.versions().some((v) => v.versionId === base.id),
      'the active version stays loaded',
    );
    const stats = await server.stats();
    assert.ok(
      stats.every((s) => !s.versions.includes(old.id)),
      'every worker thread let it go',
    );
    // Asked for again, it is loaded again.
    assert.equal((await ask(ops, 'old')).body.model, 'old');
  });

  test('ops set a split; bad bodies are 400s naming the field; users cannot', async () => {
    const put = (who: TestUser, body: unknown) =>
      request(t.app.server)
        .put('/v1/serving/traffic')
        .set('Authorization', who.auth)
        .send(body as object);
    assert.equal((await put(user, { splits: [{ version: 'base', weight: 1 }], reason: 'x' })).status, 403);
    const cases: [unknown, string][] = [
      [{ splits: [], reason: 'x' }, 'splits'],
      [{ splits: [{ version: 'base', weight: 0 }], reason: 'x' }, 'splits.0.weight'],
      [
        {
          splits: [
            { version: 'base', weight: 1 },
            { version: 'base', weight: 1 },
          ],
          reason: 'x',
        },
        'splits.1.version',
      ],
      [{ splits: [{ version: 'nope', weight: 1 }], reason: 'x' }, 'splits.0.version'],
      [{ splits: [{ version: 'base', weight: 1 }] }, 'reason'],
      [{ splits: [{ version: 'base', weight: 1 }], reason: 'x', extra: 1 }, ''],
    ];
    for (const [body, field] of cases) {
      const res = await put(ops, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.ok(JSON.stringify(res.body.error.details).includes(field), JSON.stringify(res.body));
    }
    const got = await request(t.app.server).get('/v1/serving/traffic').set('Authorization', ops.auth);
    assert.deepEqual(got.body, { split: null, activeVersion: 'base' });
  });

  test('requests naming no model follow the weights within binomial bounds, sticky per user, recorded on the message', async () => {
    const set = await setSplit({ base: 1, canary: 3 }, 'canary at 75%');
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(
      set.body.arms.map((a: { version: string; share: number }) => [a.version, a.share]),
      [
        ['base', 0.25],
        ['canary', 0.75],
      ],
    );
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({
      where: { action: 'traffic_split.set', target: `traffic_split:${set.body.id}` },
    });
    assert.equal((audit?.details as { reason: string }).reason, 'canary at 75%');

    const n = 400;
    let onCanary = 0;
    const firstChoice = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      const u = await createUser(t.app.db.prisma, {
        email: `split-${i}-${Date.now()}@example.test`,
        role: 'user',
      });
      const { key } = await issueApiKey(t.app.db.prisma, u.id, 'split');
      const res = await ask({ auth: `Bearer ${key}` });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      if (res.body.model === 'canary') onCanary += 1;
      const stored = await t.app.db.prisma.message.findUniqueOrThrow({
        where: { id: res.body.id },
        include: { modelVersion: true },
      });
      assert.equal(
        stored.modelVersion?.name,
        res.body.model,
        'the message records the version that answered',
      );
      if (i < 20) firstChoice.set(key, res.body.model);
    }
    // 75% of 400 is 300, with a binomial sd of sqrt(400 * 0.75 * 0.25) = 8.7: 4 sd either side.
    const sd = Math.sqrt(n * 0.75 * 0.25);
    assert.ok(Math.abs(onCanary - 0.75 * n) <= 4 * sd, `${onCanary} of ${n} on the canary`);
    // Sticky: the same users asking again get the same versions.
    for (const [key, model] of firstChoice) {
      for (let k = 0; k < 3; k++) assert.equal((await ask({ auth: `Bearer ${key}` })).body.model, model);
    }
    // Users may name a version of the split, as they may be served it anyway.
    assert.equal((await ask(user, 'canary')).body.model, 'canary');
  });

  test('a change made through one API process reaches a second one', async () => {
    const port = await freePort();
    const api: RunningProcess = startProcess(
      ['--import', 'tsx', 'src/main.ts'],
      {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        PORT: String(port),
        DATABASE_URL: t.database.url,
        MODEL_DIR,
        FEEDLOOP_WORKERS: 'false',
        FEEDLOOP_RATE_LIMIT_PER_MINUTE: '100000',
      },
      'second api',
    );
    try {
      await api.logged(/^Server listening/, 240_000);
      const second = `http://127.0.0.1:${port}`;
      await setSplit({ canary: 1 }, 'all on the canary').expect(200);
      await waitFor(
        'the second process to route to the canary',
        async () => (await ask(user, undefined, second)).body.model === 'canary',
        60_000,
      );
      await request(t.app.server)
        .post('/v1/serving/traffic/stop')
        .set('Authorization', ops.auth)
        .send({ reason: 'done' })
        .expect(200);
      await waitFor(
        'the second process to route to the active version',
        async () => (await ask(user, undefined, second)).body.model === 'base',
        60_000,
      );
      const again = await request(t.app.server)
        .post('/v1/serving/traffic/stop')
        .set('Authorization', ops.auth)
        .send({ reason: 'twice' });
      assert.equal(again.status, 409);
    } finally {
      await api.stop();
    }
  });

  test('promoting a version ends the split, audited', async () => {
    const set = await setSplit({ base: 1, old: 1 }, 'half and half').expect(200);
    await request(t.app.server)
      .post(`/v1/model-versions/${old.id}/promote`)
      .set('Authorization', ops.auth)
      .send({ reason: 'old is better' })
      .expect(200);
    const got = await request(t.app.server).get('/v1/serving/traffic').set('Authorization', ops.auth);
    assert.deepEqual(got.body, { split: null, activeVersion: 'old' });
    const ended = await t.app.db.prisma.trafficSplit.findUniqueOrThrow({ where: { id: set.body.id } });
    assert.ok(ended.endedAt);
    assert.match(ended.endReason!, /promote/);
    assert.ok(
      await t.app.db.prisma.auditLogEntry.findFirst({
        where: { action: 'traffic_split.end', target: `traffic_split:${set.body.id}` },
      }),
    );
    await waitFor(
      'users to get the new active version',
      async () => (await ask(user)).body.model === 'old',
      30_000,
    );
    // Rolling back ends a split too.
    const again = await setSplit({ old: 1, canary: 1 }, 'again').expect(200);
    await request(t.app.server)
      .post('/v1/model-versions/rollback')
      .set('Authorization', ops.auth)
      .send({ reason: 'back to base' })
      .expect(200);
    const rolled = await t.app.db.prisma.trafficSplit.findUniqueOrThrow({ where: { id: again.body.id } });
    assert.match(rolled.endReason!, /rollback/);
  });

  test('the canary guard stops a split whose canary gets more thumbs down, and audits it', async () => {
    const set = await setSplit({ base: 9, canary: 1 }, 'guarded canary').expect(200);
    const rater = await makeUser(t.app, 'ops');
    // The baseline's answers are liked and the canary's are not: 24 of each, over the minimum of 20.
    for (const [model, value] of [
      ['base', 'up'],
      ['canary', 'down'],
    ] as const) {
      for (let i = 0; i < 24; i++) {
        const res = await ask(rater, model);
        assert.equal(res.status, 200);
        await request(t.app.server)
          .put(`/v1/messages/${res.body.id}/rating`)
          .set('Authorization', rater.auth)
          .send({ kind: 'thumbs', value })
          .expect(200);
      }
    }
    await waitFor(
      'the guard to stop the split',
      () =>
        t.app.db.prisma.auditLogEntry.findFirst({
          where: { action: 'traffic_split.guard_stop', target: `traffic_split:${set.body.id}` },
        }),
      60_000,
    );
    const stopped = await t.app.db.prisma.trafficSplit.findUniqueOrThrow({ where: { id: set.body.id } });
    assert.match(stopped.endReason!, /canary guard: canary thumbsDownRate/);
    const entry = await t.app.db.prisma.auditLogEntry.findFirstOrThrow({
      where: { action: 'traffic_split.guard_stop', target: `traffic_split:${set.body.id}` },
    });
    const findings = (entry.details as { findings: { metric: string; canary: { n: number } }[] }).findings;
    assert.equal(findings[0]!.metric, 'thumbsDownRate');
    assert.ok(findings[0]!.canary.n >= 20);
    assert.equal((await ask(user)).body.model, 'base');
  });
});
