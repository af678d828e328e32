import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { modelAnswer, startExchange } from '../../helpers/conversations.ts';
import { registerModelVersion } from '../../../src/promotion/model-versions.ts';
import { meanEstimate, rateEstimate } from '../../../src/stats/estimates.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let ops: TestUser;
let moderator: TestUser;
let v1: string;
let v2: string;

before(async () => {
  t = await startTestApp();
  alice = await makeUser(t.app, 'user');
  bob = await makeUser(t.app, 'user');
  ops = await makeUser(t.app, 'ops');
  moderator = await makeUser(t.app, 'moderator');
  v1 = (await registerModelVersion(t.app.db.prisma, { name: 'ins-v1', path: 'ins-v1', actorId: null })).id;
  v2 = (await registerModelVersion(t.app.db.prisma, { name: 'ins-v2', path: 'ins-v2', actorId: null })).id;
});
after(() => t.close());

const api = () => request(t.app.server);

/** A prompt and an answer from `version`, owned by `user`. */
function answer(user: TestUser, version: string, text = 'Paris.') {
  return startExchange(t, user, 'Capital of France?', text, version);
}

const rate = (user: TestUser, id: string, body: object) =>
  api().put(`/v1/messages/${id}/rating`).set('authorization', user.auth).send(body);

describe('intervals', () => {
  test('Wilson interval contains the rate, stays in [0, 1] and narrows with more data', () => {
    const small = rateEstimate(3, 4);
    const large = rateEstimate(300, 400);
    assert.equal(small.value, 0.75);
    assert.ok(small.low! < 0.75 && small.high! > 0.75 && small.low! >= 0 && small.high! <= 1);
    assert.ok(large.high! - large.low! < small.high! - small.low!);
    assert.ok(Math.abs(rateEstimate(0, 10).low!) < 1e-12 && rateEstimate(0, 10).high! > 0);
    assert.deepEqual(rateEstimate(0, 0), { value: null, low: null, high: null, n: 0 });
    // Known value: 8 of 10 -> [0.490, 0.943] (Wilson, z = 1.96).
    const known = rateEstimate(8, 10);
    assert.ok(Math.abs(known.low! - 0.4902) < 1e-3 && Math.abs(known.high! - 0.9433) < 1e-3);
  });

  test('mean interval of stars is centred on the mean and clamped to 1..5', () => {
    const stars = [4, 5, 3, 4];
    const sum = stars.reduce((a, b) => a + b, 0);
    const squares = stars.reduce((a, b) => a + b * b, 0);
    const m = meanEstimate(stars.length, sum, squares, 1, 5);
    assert.equal(m.value, 4);
    assert.ok(Math.abs(m.value! - m.low! - (m.high! - m.value!)) < 1e-9);
    const all5 = meanEstimate(3, 15, 75, 1, 5);
    assert.deepEqual([all5.value, all5.low, all5.high], [5, 5, 5]);
  });
});

describe('GET /v1/insights/metrics and /volume', () => {
  test('per-version rates and volume come from the stored feedback; only ops and admins may read them', async () => {
    // v1: three answers. Thumbs up, up, down; stars 5 and 3; one corrected; one regenerated; one copied.
    const a1 = await answer(alice, v1);
    const a2 = await answer(alice, v1);
    const a3 = await answer(bob, v1);
    assert.equal((await rate(alice, a1.answerId, { kind: 'thumbs', value: 'up' })).status, 200);
    assert.equal((await rate(alice, a2.answerId, { kind: 'thumbs', value: 'up' })).status, 200);
    assert.equal((await rate(bob, a3.answerId, { kind: 'thumbs', value: 'down' })).status, 200);
    assert.equal((await rate(alice, a1.answerId, { kind: 'stars', value: 5 })).status, 200);
    assert.equal((await rate(bob, a3.answerId, { kind: 'stars', value: 3 })).status, 200);
    const correction = await api()
      .post(`/v1/messages/${a3.answerId}/corrections`)
      .set('authorization', bob.auth)
      .send({ text: 'Paris is the capital.' });
    assert.equal(correction.status, 201);
    // a regeneration of a2's prompt by v2: a2 counts as regenerated, the new answer is v2's.
    const regen = await modelAnswer(t, a2.conversationId, a2.promptId, 'It is Paris.', v2);
    const events = await api()
      .post('/v1/events')
      .set('authorization', alice.auth)
      .send({
        events: [
          { id: `ins-copy-${a1.answerId}`, type: 'copy', messageId: a1.answerId, value: 6, ts: Date.now() },
          { id: `ins-dwell-${regen.id}`, type: 'dwell', messageId: regen.id, value: 1200, ts: Date.now() },
        ],
      });
    assert.equal(events.body.accepted, 2, JSON.stringify(events.body));

    const res = await api().get('/v1/insights/metrics?days=7').set('authorization', ops.auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const byName = new Map(res.body.versions.map((v: { name: string }) => [v.name, v]));
    type Estimate = { value: number; low: number; high: number; n: number };
    type Metrics = { answers: number } & Record<
      'thumbsUpRate' | 'meanStars' | 'correctionRate' | 'regenerateRate' | 'copyRate',
      Estimate
    >;
    const m1 = byName.get('ins-v1') as Metrics;
    assert.equal(m1.answers, 3);
    assert.equal(m1.thumbsUpRate.n, 3);
    assert.ok(Math.abs(m1.thumbsUpRate.value - 2 / 3) < 1e-9);
    assert.ok(m1.thumbsUpRate.low < 2 / 3 && m1.thumbsUpRate.high > 2 / 3);
    assert.equal(m1.meanStars.value, 4);
    assert.equal(m1.meanStars.n, 2);
    assert.ok(Math.abs(m1.correctionRate.value - 1 / 3) < 1e-9);
    assert.ok(Math.abs(m1.regenerateRate.value - 1 / 3) < 1e-9);
    assert.ok(Math.abs(m1.copyRate.value - 1 / 3) < 1e-9);
    const m2 = byName.get('ins-v2') as typeof m1;
    assert.equal(m2.answers, 1);
    assert.equal(m2.thumbsUpRate.value, null);
    assert.equal(m2.regenerateRate.value, 0);

    const volume = await api().get('/v1/insights/volume?days=7').set('authorization', ops.auth);
    assert.equal(volume.status, 200, JSON.stringify(volume.body));
    const count = (kind: string, version: string) =>
      volume.body.points
        .filter(
          (p: { kind: string; modelVersionId: string }) => p.kind === kind && p.modelVersionId === version,
        )
        .reduce((sum: number, p: { count: number }) => sum + p.count, 0);
    assert.equal(count('thumbs_up', v1), 2);
    assert.equal(count('thumbs_down', v1), 1);
    assert.equal(count('stars', v1), 2);
    assert.equal(count('correction', v1), 1);
    assert.equal(count('event_copy', v1), 1);
    assert.equal(count('event_dwell', v2), 1);
    assert.deepEqual(
      volume.body.versions.map((v: { name: string }) => v.name),
      ['ins-v1', 'ins-v2'],
    );
    assert.match(volume.body.points[0].day, /^\d{4}-\d{2}-\d{2}$/);

    for (const who of [alice, moderator]) {
      const denied = await api().get('/v1/insights/metrics').set('authorization', who.auth);
      assert.equal(denied.status, 403);
    }
    const bad = await api().get('/v1/insights/volume?days=0').set('authorization', ops.auth);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.details[0].path, 'querystring.days');
  });
});
