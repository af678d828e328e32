// The feedback volume rollup (feedback_daily plus its deltas, kept by triggers) always equals an
// aggregation of the raw rows: after inserts, a rating changed and a rating removed, and after the
// deltas are folded in, even by two folds at once. Old months dropped by retention stay counted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { startExchange } from '../../helpers/conversations.ts';
import { registerModelVersion } from '../../../src/promotion/model-versions.ts';
import { compactFeedbackRollup, feedbackVolume } from '../../../src/feedback/insights/queries.ts';
import { ensureEventPartitions, maintainEventPartitions } from '../../../src/feedback/events/partitions.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let version: string;

before(async () => {
  t = await startTestApp();
  alice = await makeUser(t.app, 'user');
  bob = await makeUser(t.app, 'user');
  version = (await registerModelVersion(t.app.db.prisma, { name: 'roll-v1', path: 'roll-v1', actorId: null }))
    .id;
});
after(() => t.close());

const api = () => request(t.app.server);
const window = () => ({ from: new Date(Date.now() - 400 * 86_400_000), to: new Date() });

/** The same counts, aggregated from the raw rows as the dashboard used to on every load. */
async function rawVolume() {
  const { rows } = await t.app.db.pool.query<{
    day: string;
    kind: string;
    model_version_id: string | null;
    count: string;
  }>(
    `SELECT to_char(f.at::date, 'YYYY-MM-DD') AS day, f.kind, m.model_version_id, count(*) AS count
       FROM (SELECT feedloop_rating_kind(r.kind, r.value) AS kind, r.message_id, r.updated_at AS at FROM ratings r
             UNION ALL SELECT 'vote', v.message_a_id, v.created_at FROM pairwise_votes v
             UNION ALL SELECT 'flag', f.message_id, f.created_at FROM flags f
             UNION ALL SELECT 'correction', c.message_id, c.created_at FROM corrections c
             UNION ALL SELECT 'event_' || e.type::text, e.message_id, e.received_at FROM implicit_events e) f
       JOIN messages m ON m.id = f.message_id
      WHERE m.author <> 'human'
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  );
  return rows.map((r) => ({
    day: r.day,
    kind: r.kind,
    modelVersionId: r.model_version_id,
    count: Number(r.count),
  }));
}

/** A served answer of `modelVersionId`, or one logged from another model (no version). */
const answer = (user: TestUser, modelVersionId: string | null) =>
  startExchange(t, user, 'Capital of Peru?', 'Lima.', modelVersionId ?? undefined);

test('the rollup equals the raw rows through inserts, changes, removals and folds', async () => {
  const a1 = await answer(alice, version);
  const a2 = await answer(alice, null);
  const b1 = await answer(bob, version);
  const rate = (user: TestUser, id: string, body: object) =>
    api().put(`/v1/messages/${id}/rating`).set('authorization', user.auth).send(body);
  assert.equal((await rate(alice, a1.answerId, { kind: 'thumbs', value: 'up' })).status, 200);
  assert.equal((await rate(alice, a2.answerId, { kind: 'stars', value: 4 })).status, 200);
  assert.equal((await rate(bob, b1.answerId, { kind: 'thumbs', value: 'up' })).status, 200);
  const flag = await api()
    .post(`/v1/messages/${b1.answerId}/flags`)
    .set('authorization', bob.auth)
    .send({ category: 'inaccurate' });
  assert.equal(flag.status, 201, JSON.stringify(flag.body));
  const events = await api()
    .post('/v1/events')
    .set('authorization', alice.auth)
    .send({
      events: [
        { id: 'roll-1', type: 'copy', messageId: a1.answerId, ts: Date.now() },
        { id: 'roll-2', type: 'copy', messageId: a2.answerId, ts: Date.now() },
        { id: 'roll-3', type: 'dwell', messageId: a1.answerId, value: 900, ts: Date.now() },
      ],
    });
  assert.equal(events.body.accepted, 3, JSON.stringify(events.body));
  assert.deepEqual(await feedbackVolume(t.app.db.pool, window()), await rawVolume());

  // A thumbs up turned down moves between kinds; a removed rating is no longer counted.
  assert.equal((await rate(alice, a1.answerId, { kind: 'thumbs', value: 'down' })).status, 200);
  const removed = await api()
    .delete(`/v1/messages/${a2.answerId}/rating?kind=stars`)
    .set('authorization', alice.auth);
  assert.ok([200, 204].includes(removed.status), `${removed.status} ${JSON.stringify(removed.body)}`);
  const expected = await rawVolume();
  assert.deepEqual(await feedbackVolume(t.app.db.pool, window()), expected);
  assert.ok(expected.some((p) => p.kind === 'thumbs_down' && p.modelVersionId === version));
  assert.ok(!expected.some((p) => p.kind === 'stars'));

  // Two folds at once move every delta once.
  const [x, y] = await Promise.all([
    compactFeedbackRollup(t.app.db.pool),
    compactFeedbackRollup(t.app.db.pool),
  ]);
  assert.ok(x + y > 0);
  const { rows } = await t.app.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM feedback_daily_deltas',
  );
  assert.equal(rows[0]!.n, 0);
  assert.deepEqual(await feedbackVolume(t.app.db.pool, window()), expected);
});

test('events of a month dropped by retention stay in the counts', async () => {
  const a = await answer(bob, version);
  const now = new Date();
  const old = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 3, 15));
  await ensureEventPartitions(t.app.db.pool, old, old);
  await t.app.db.pool.query(
    `INSERT INTO implicit_events (id, type, message_id, user_id, value, client_ts, received_at)
     VALUES ('roll-old', 'expand', $1, $2, 1, $3, $3)`,
    [a.answerId, bob.id, old],
  );
  const point = (points: Awaited<ReturnType<typeof feedbackVolume>>) =>
    points.find((p) => p.kind === 'event_expand' && p.day === old.toISOString().slice(0, 10));
  assert.equal(point(await feedbackVolume(t.app.db.pool, window()))?.count, 1);
  const { dropped } = await maintainEventPartitions(t.app.db.pool, { retentionMonths: 1 });
  assert.ok(dropped.length > 0);
  assert.equal(point(await feedbackVolume(t.app.db.pool, window()))?.count, 1);
});
