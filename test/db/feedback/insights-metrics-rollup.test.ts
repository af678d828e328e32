// The per-version metrics rollup (answer_metrics_daily plus its deltas and answer_marks, kept by
// triggers) always equals the aggregation of the raw rows the dashboard used to run on every load:
// after answers, regenerations, ratings changed and removed, corrections, repeated copies, and
// after two folds at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { modelAnswer, startExchange } from '../../helpers/conversations.ts';
import { registerModelVersion } from '../../../src/promotion/model-versions.ts';
import {
  compactAnswerMetrics,
  versionMetrics,
  versionMetricsFromRows,
} from '../../../src/feedback/insights/queries.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let v1: string;
let v2: string;

before(async () => {
  t = await startTestApp();
  alice = await makeUser(t.app, 'user');
  bob = await makeUser(t.app, 'user');
  const register = (name: string) =>
    registerModelVersion(t.app.db.prisma, { name, path: name, actorId: null }).then((v) => v.id);
  v1 = await register('metrics-v1');
  v2 = await register('metrics-v2');
});
after(() => t.close());

const api = () => request(t.app.server);
const DAY_MS = 86_400_000;
/** The dashboard's window: whole UTC days up to now. */
const windowOf = (days: number) => {
  const to = new Date();
  const today = Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate());
  return { from: new Date(today - (days - 1) * DAY_MS), to };
};

async function assertRollupMatches() {
  const window = windowOf(7);
  const [rollup, raw] = await Promise.all([
    versionMetrics(t.app.db.pool, window),
    versionMetricsFromRows(t.app.db.pool, window),
  ]);
  assert.deepEqual(rollup, raw);
  return rollup;
}

const rate = (user: TestUser, id: string, body: object) =>
  api().put(`/v1/messages/${id}/rating`).set('authorization', user.auth).send(body);

test('the metrics rollup equals the raw aggregation through every kind of change and a fold', async () => {
  const a = await startExchange(t, alice, 'Capital of Peru?', 'Lima.', v1);
  const b = await startExchange(t, bob, 'Capital of Chile?', 'Santiago.', v1);
  const c = await startExchange(t, alice, 'Capital of Peru?', 'Lima, on the coast.', v2);
  // A logged answer (no version) and a regeneration of a: a becomes "regenerated".
  await startExchange(t, bob, 'Capital of Bolivia?', 'Sucre.');
  await modelAnswer(t, a.conversationId, a.promptId, 'Lima is the capital.', v2);

  assert.equal((await rate(alice, a.answerId, { kind: 'thumbs', value: 'up' })).status, 200);
  assert.equal((await rate(bob, b.answerId, { kind: 'thumbs', value: 'down' })).status, 200);
  assert.equal((await rate(alice, c.answerId, { kind: 'stars', value: 4 })).status, 200);
  assert.equal((await rate(alice, a.answerId, { kind: 'stars', value: 2 })).status, 200);
  for (const text of ['Lima is the capital of Peru.', 'Lima, Peru.']) {
    const res = await api()
      .post(`/v1/messages/${a.answerId}/corrections`)
      .set('authorization', alice.auth)
      .send({ text });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  const events = await api()
    .post('/v1/events')
    .set('authorization', alice.auth)
    .send({
      events: [
        { id: 'metrics-1', type: 'copy', messageId: a.answerId, ts: Date.now() },
        { id: 'metrics-2', type: 'copy', messageId: a.answerId, ts: Date.now() },
        { id: 'metrics-3', type: 'dwell', messageId: c.answerId, value: 900, ts: Date.now() },
      ],
    });
  assert.equal(events.body.accepted, 3, JSON.stringify(events.body));
  const copiedAgain = await api()
    .post('/v1/events')
    .set('authorization', alice.auth)
    .send({ events: [{ id: 'metrics-4', type: 'copy', messageId: a.answerId, ts: Date.now() }] });
  assert.equal(copiedAgain.body.accepted, 1, JSON.stringify(copiedAgain.body));

  const first = await assertRollupMatches();
  const one = first.find((m) => m.modelVersionId === v1)!;
  assert.equal(one.answers, 2);
  assert.equal(one.copyRate.value, 0.5, 'three copies of one answer count once');
  assert.equal(one.correctionRate.value, 0.5, 'two corrections of one answer count once');
  assert.equal(one.regenerateRate.value, 0.5);
  assert.equal(first.find((m) => m.modelVersionId === v2)?.answers, 2);

  // A thumbs up turned down, a rating removed.
  assert.equal((await rate(alice, a.answerId, { kind: 'thumbs', value: 'down' })).status, 200);
  const removed = await api()
    .delete(`/v1/messages/${c.answerId}/rating?kind=stars`)
    .set('authorization', alice.auth);
  assert.ok([200, 204].includes(removed.status), `${removed.status} ${JSON.stringify(removed.body)}`);
  const changed = await assertRollupMatches();
  assert.equal(changed.find((m) => m.modelVersionId === v1)!.thumbsUpRate.value, 0);

  // Two folds at once move every delta once, and the numbers do not move.
  const [x, y] = await Promise.all([
    compactAnswerMetrics(t.app.db.pool),
    compactAnswerMetrics(t.app.db.pool),
  ]);
  assert.ok(x + y > 0);
  const { rows } = await t.app.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM answer_metrics_deltas',
  );
  assert.equal(rows[0]!.n, 0);
  assert.deepEqual(await assertRollupMatches(), changed);

  // The route reads the rollup.
  const ops = await makeUser(t.app, 'ops');
  const res = await api().get('/v1/insights/metrics?days=7').set('authorization', ops.auth);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.versions.find((m: { modelVersionId: string }) => m.modelVersionId === v1).answers, 2);
});
