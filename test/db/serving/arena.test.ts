// The arena: two versions answer one prompt through the completion path, sides at random and names
// hidden until the vote; votes are pairwise votes that know both versions; the leaderboard is a
// Bradley–Terry fit of the votes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { startTestApp, makeUser, type TestApp, type TestUser } from '../../helpers/app.ts';
import { startExchange, modelAnswer } from '../../helpers/conversations.ts';
import { ensureBaseModel } from '../../../src/promotion/base-model.ts';
import { registerModelVersion } from '../../../src/promotion/model-versions.ts';
import type { ModelVersion } from '../../../src/generated/prisma/client.ts';

const MODEL_DIR = fileURLToPath(new URL('../../../models', import.meta.url));

/** Every string anywhere in a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

describe('arena battles', () => {
  let t: TestApp;
  let ops: TestUser;
  let user: TestUser;
  let other: TestUser;
  let base: ModelVersion;
  let rival: ModelVersion;

  before(async () => {
    t = await startTestApp({ MODEL_DIR });
    base = (await ensureBaseModel(t.app.db.prisma, MODEL_DIR))!;
    await t.app.servedModels.warm();
    rival = await registerModelVersion(t.app.db.prisma, { name: 'rival', path: 'base', actorId: null });
    await registerModelVersion(t.app.db.prisma, { name: 'hidden', path: 'base', actorId: null });
    ops = await makeUser(t.app, 'ops');
    user = await makeUser(t.app);
    other = await makeUser(t.app);
  });
  after(() => t.close());

  const battle = (who: TestUser, body: object) =>
    request(t.app.server).post('/v1/arena/battles').set('Authorization', who.auth).send(body);

  test('with one version users may be served there is no arena; bad bodies are 400s naming the field', async () => {
    const none = await battle(user, { prompt: 'Hello' });
    assert.equal(none.status, 409, JSON.stringify(none.body));
    for (const [body, path] of [
      [{ prompt: '' }, 'body.prompt'],
      [{ prompt: 'x', models: ['base', 'base'] }, 'body.models.1'],
      [{ prompt: 'x', models: ['base', 'hidden'] }, 'body.models.1'],
      [{ prompt: 'x', options: { temperature: 9 } }, 'body.options.temperature'],
    ] as const) {
      const res = await battle(user, body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(JSON.stringify(res.body.error.details).includes(path), JSON.stringify(res.body));
    }
    // Ops may pit any two versions.
    const byOps = await battle(ops, {
      prompt: 'Hello',
      models: ['base', 'hidden'],
      options: { maxTokens: 2 },
    });
    assert.equal(byOps.status, 201, JSON.stringify(byOps.body));
  });

  test('sides are drawn at random, names are hidden until the vote, and the vote names both versions', async () => {
    await request(t.app.server)
      .put(`/v1/model-versions/${rival.id}/access`)
      .set('Authorization', ops.auth)
      .send({ openToUsers: true, reason: 'arena' })
      .expect(200);
    const hidden = [base.id, rival.id, base.name, rival.name];
    const n = 40;
    let baseOnA = 0;
    for (let i = 0; i < n; i++) {
      const res = await battle(user, {
        prompt: `Tell me about rivers, part ${i}.`,
        options: { maxTokens: 2 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.vote, null);
      for (const s of strings(res.body))
        assert.ok(!hidden.includes(s), `the battle shows ${s} before the vote`);
      const row = await t.app.db.prisma.arenaBattle.findUniqueOrThrow({ where: { id: res.body.id } });
      assert.notEqual(row.versionAId, row.versionBId);
      if (row.versionAId === base.id) baseOnA += 1;
      // Both answers went through the completion path: stored as answers to one prompt, each with its version.
      const [a, b] = await Promise.all(
        [res.body.a.messageId, res.body.b.messageId].map((id: string) =>
          t.app.db.prisma.message.findUniqueOrThrow({ where: { id } }),
        ),
      );
      assert.equal(a!.parentId, res.body.userMessageId);
      assert.equal(b!.parentId, res.body.userMessageId);
      assert.equal(a!.modelVersionId, row.versionAId);
      assert.equal(b!.modelVersionId, row.versionBId);
      assert.equal(a!.author, 'served');
      const read = await request(t.app.server)
        .get(`/v1/arena/battles/${res.body.id}`)
        .set('Authorization', user.auth);
      for (const s of strings(read.body)) assert.ok(!hidden.includes(s), `reading the battle shows ${s}`);
      assert.equal(
        (await request(t.app.server).get(`/v1/arena/battles/${res.body.id}`).set('Authorization', other.auth))
          .status,
        404,
      );

      if (i === 0) {
        // The stored conversation and its messages do not name the sides either, until the vote.
        const conversation = await request(t.app.server)
          .get(`/v1/conversations/${res.body.conversationId}`)
          .set('Authorization', user.auth);
        assert.equal(conversation.status, 200, JSON.stringify(conversation.body));
        for (const s of strings(conversation.body))
          assert.ok(!hidden.includes(s), `the conversation shows ${s} before the vote`);
        for (const side of [res.body.a, res.body.b]) {
          const message = await request(t.app.server)
            .get(`/v1/messages/${side.messageId}`)
            .set('Authorization', user.auth);
          assert.equal(message.status, 200, JSON.stringify(message.body));
          for (const s of strings(message.body))
            assert.ok(!hidden.includes(s), `an answer read alone shows ${s} before the vote`);
        }
        const notYours = await request(t.app.server)
          .post(`/v1/arena/battles/${res.body.id}/vote`)
          .set('Authorization', other.auth)
          .send({ choice: 'a' });
        assert.equal(notYours.status, 404);
        const bad = await request(t.app.server)
          .post(`/v1/arena/battles/${res.body.id}/vote`)
          .set('Authorization', user.auth)
          .send({ choice: 'left' });
        assert.equal(bad.status, 400);
        assert.ok(JSON.stringify(bad.body.error.details).includes('choice'));
      }
      // The user prefers base, wherever it was shown.
      const choice = row.versionAId === base.id ? 'a' : 'b';
      const voted = await request(t.app.server)
        .post(`/v1/arena/battles/${res.body.id}/vote`)
        .set('Authorization', user.auth)
        .send({ choice });
      assert.equal(voted.status, 200, JSON.stringify(voted.body));
      assert.deepEqual(voted.body.vote.versions, {
        a: row.versionAId === base.id ? 'base' : 'rival',
        b: row.versionBId === base.id ? 'base' : 'rival',
      });
      const vote = await t.app.db.prisma.pairwiseVote.findFirstOrThrow({
        where: { userId: user.id, messageAId: res.body.a.messageId, messageBId: res.body.b.messageId },
      });
      assert.equal(vote.choice, choice);
      if (i === 0) {
        const again = await request(t.app.server)
          .post(`/v1/arena/battles/${res.body.id}/vote`)
          .set('Authorization', user.auth)
          .send({ choice: 'tie' });
        assert.equal(again.status, 409);
      }
    }
    // Fair coin over 40 battles: sd sqrt(40 / 4) = 3.2; 4 sd either side of 20.
    assert.ok(Math.abs(baseOnA - n / 2) <= 4 * Math.sqrt(n / 4), `base on side A ${baseOnA} of ${n}`);
    assert.ok(baseOnA > 0 && baseOnA < n);

    const board = await request(t.app.server).get('/v1/arena/leaderboard').set('Authorization', user.auth);
    assert.equal(board.status, 200, JSON.stringify(board.body));
    assert.equal(board.body.versions[0].version, 'base');
    assert.equal(board.body.versions[0].wins, n);
    assert.equal(board.body.versions[1].losses, n);
  });
});

/**
 * Bradley–Terry by hand: Zermelo's iteration p_i <- W_i / sum_j n_ij / (p_i + p_j), with each
 * version also tying one game against a reference of strength 1 (the leaderboard's prior), ties
 * counted as half a win. Ratings on the Elo scale: 1000 + 400 log10 p, centred on the mean.
 */
function handFit(names: string[], games: [string, string, 'a' | 'b' | 'tie' | 'both_bad'][]) {
  const p = new Map(names.map((n) => [n, 1]));
  for (let iteration = 0; iteration < 20_000; iteration++) {
    const next = new Map<string, number>();
    for (const i of names) {
      let wins = 0.5;
      let denominator = 1 / (p.get(i)! + 1);
      for (const [x, y, choice] of games) {
        if (x !== i && y !== i) continue;
        const opponent = x === i ? y : x;
        const score = choice === 'a' ? 1 : choice === 'b' ? 0 : 0.5;
        wins += x === i ? score : 1 - score;
        denominator += 1 / (p.get(i)! + p.get(opponent)!);
      }
      next.set(i, wins / denominator);
    }
    for (const [k, v] of next) p.set(k, v);
  }
  // Centred: the versions' mean rating is 1000.
  const mean = names.reduce((s, n) => s + Math.log10(p.get(n)!), 0) / names.length;
  return new Map(names.map((n) => [n, 1000 + 400 * (Math.log10(p.get(n)!) - mean)]));
}

describe('the arena leaderboard', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  test('equals a Bradley–Terry fit of the seeded votes computed by hand, with intervals around it', async () => {
    const db = t.app.db.prisma;
    const versions = new Map<string, ModelVersion>();
    for (const name of ['alpha', 'beta', 'gamma', 'delta']) {
      versions.set(name, await registerModelVersion(db, { name, path: name, actorId: null }));
    }
    const voter = await makeUser(t.app);
    // alpha beats beta mostly, beta beats gamma, gamma and alpha tie often, delta loses everything.
    const plan: [string, string, 'a' | 'b' | 'tie' | 'both_bad', number][] = [
      ['alpha', 'beta', 'a', 7],
      ['alpha', 'beta', 'b', 3],
      ['beta', 'gamma', 'a', 6],
      ['beta', 'gamma', 'b', 2],
      ['gamma', 'alpha', 'tie', 3],
      ['gamma', 'alpha', 'both_bad', 1],
      ['gamma', 'alpha', 'b', 2],
      ['delta', 'alpha', 'b', 4],
      ['beta', 'delta', 'a', 3],
    ];
    const games: [string, string, 'a' | 'b' | 'tie' | 'both_bad'][] = [];
    for (const [x, y, choice, times] of plan) {
      for (let k = 0; k < times; k++) {
        const exchange = await startExchange(t, voter, `prompt ${x} ${y} ${k}`, 'one', versions.get(x)!.id);
        const second = await modelAnswer(
          t,
          exchange.conversationId,
          exchange.promptId,
          'two',
          versions.get(y)!.id,
        );
        const vote = await db.pairwiseVote.create({
          data: { userId: voter.id, messageAId: exchange.answerId, messageBId: second.id, choice },
        });
        await db.arenaBattle.create({
          data: {
            userId: voter.id,
            prompt: `prompt ${x} ${y} ${k}`,
            messageAId: exchange.answerId,
            messageBId: second.id,
            versionAId: versions.get(x)!.id,
            versionBId: versions.get(y)!.id,
            voteId: vote.id,
            votedAt: new Date(),
          },
        });
        games.push([x, y, choice]);
      }
    }
    // A battle without a vote does not count.
    const unvoted = await startExchange(t, voter, 'unvoted', 'one', versions.get('alpha')!.id);
    const unvotedB = await modelAnswer(
      t,
      unvoted.conversationId,
      unvoted.promptId,
      'two',
      versions.get('delta')!.id,
    );
    await db.arenaBattle.create({
      data: {
        userId: voter.id,
        prompt: 'unvoted',
        messageAId: unvoted.answerId,
        messageBId: unvotedB.id,
        versionAId: versions.get('alpha')!.id,
        versionBId: versions.get('delta')!.id,
      },
    });

    const res = await request(t.app.server).get('/v1/arena/leaderboard').set('Authorization', voter.auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.battles, games.length);
    const expected = handFit(['alpha', 'beta', 'gamma', 'delta'], games);
    const order = [...expected].sort((a, b) => b[1] - a[1]).map(([name]) => name);
    assert.deepEqual(
      res.body.versions.map((v: { version: string }) => v.version),
      order,
    );
    for (const row of res.body.versions) {
      assert.ok(Math.abs(row.rating - expected.get(row.version)!) < 1e-6, `${row.version}: ${row.rating}`);
      assert.ok(row.low < row.rating && row.rating < row.high);
      const played = games.filter(([x, y]) => x === row.version || y === row.version);
      assert.equal(row.battles, played.length);
      const wins = played.filter(
        ([x, , c]) => (x === row.version && c === 'a') || (x !== row.version && c === 'b'),
      ).length;
      assert.equal(row.wins, wins);
      assert.equal(row.ties, played.filter(([, , c]) => c === 'tie' || c === 'both_bad').length);
    }
    // delta never won: its rating is finite and its interval lies below alpha's rating.
    const delta = res.body.versions.find((v: { version: string }) => v.version === 'delta');
    const alpha = res.body.versions.find((v: { version: string }) => v.version === 'alpha');
    assert.ok(Number.isFinite(delta.rating) && delta.high < alpha.rating);
  });
});
