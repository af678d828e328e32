// implicit_events is partitioned by month: partitions exist ahead of time, old months are dropped
// whole past the retention (and nothing else), a month created late takes its rows over from the
// default partition, and a sent-again id is still stored once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeUser, type TestUser } from '../../../helpers/app.ts';
import { eventId, makeMessages, startEventsApp, type EventsTestApp } from '../../../helpers/events.ts';
import {
  ensureEventPartitions,
  listEventPartitions,
  maintainEventPartitions,
} from '../../../../src/feedback/events/partitions.ts';

let t: EventsTestApp;
let user: TestUser;
let message: string;

before(async () => {
  t = await startEventsApp();
  user = await makeUser(t.app, 'user');
  [message] = (await makeMessages(t.app, user.id, 1)) as [string];
});
after(() => t.close());

const month = (offset: number) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
};
const label = (date: Date) =>
  `implicit_events_y${date.getUTCFullYear()}m${String(date.getUTCMonth() + 1).padStart(2, '0')}`;

/** Inserts an event received at `at`, straight into the table. */
async function insertAt(id: string, at: Date) {
  await t.app.db.pool.query(
    `INSERT INTO implicit_events (id, type, message_id, user_id, value, client_ts, received_at)
     VALUES ($1, 'copy', $2, $3, 1, $4, $4)`,
    [id, message, user.id, at],
  );
}

async function partitionOf(id: string): Promise<string> {
  const { rows } = await t.app.db.pool.query<{ partition: string }>(
    'SELECT tableoid::regclass::text AS partition FROM implicit_events WHERE id = $1',
    [id],
  );
  return rows[0]!.partition;
}

test('a fresh database has this month and the next two, and new events go to this month', async () => {
  const names = (await listEventPartitions(t.app.db.pool)).map((p) => p.name);
  for (const offset of [0, 1, 2])
    assert.ok(names.includes(label(month(offset))), `${label(month(offset))} in ${names}`);
  const id = eventId('now');
  await t.app.eventWriter.write([
    { id, type: 'copy', messageId: message, userId: user.id, value: 1, clientTs: new Date().toISOString() },
  ]);
  assert.equal(await partitionOf(id), label(month(0)));
});

test('retention drops whole months older than the last N and keeps every row of the others', async () => {
  await ensureEventPartitions(t.app.db.pool, month(-5), month(-1));
  const old = { id: eventId('old'), at: new Date(month(-4).getTime() + 3600_000) };
  const edge = { id: eventId('edge'), at: new Date(month(-2).getTime() + 3600_000) };
  const kept = { id: eventId('kept'), at: new Date(month(-1).getTime() + 3600_000) };
  for (const e of [old, edge, kept]) await insertAt(e.id, e.at);

  const none = await maintainEventPartitions(t.app.db.pool);
  assert.deepEqual(none.dropped, [], 'no retention set: nothing is dropped');

  const { dropped } = await maintainEventPartitions(t.app.db.pool, { retentionMonths: 1 });
  assert.deepEqual(
    dropped,
    [-5, -4, -3, -2].map((o) => label(month(o))),
  );
  const { rows } = await t.app.db.pool.query<{ id: string }>(
    'SELECT id FROM implicit_events WHERE id = ANY($1)',
    [[old.id, edge.id, kept.id]],
  );
  assert.deepEqual(
    rows.map((r) => r.id),
    [kept.id],
  );
  const names = (await listEventPartitions(t.app.db.pool)).map((p) => p.name);
  assert.ok(names.includes(label(month(-1))) && names.includes(label(month(0))));
});

test('a month created after its events arrived takes them over from the default partition', async () => {
  const far = new Date(Date.UTC(new Date().getUTCFullYear() + 3, 4, 10));
  const id = eventId('far');
  await insertAt(id, far);
  assert.equal(await partitionOf(id), 'implicit_events_default');
  await ensureEventPartitions(t.app.db.pool, far, far);
  assert.equal(await partitionOf(id), label(far));
  const { rows } = await t.app.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM implicit_events_default',
  );
  assert.equal(rows[0]!.n, 0);
});

test('an id sent again in the same month is stored once', async () => {
  const row = {
    id: eventId('again'),
    type: 'copy' as const,
    messageId: message,
    userId: user.id,
    value: 1,
    clientTs: new Date().toISOString(),
  };
  const first = await t.app.eventWriter.write([row]);
  const second = await t.app.eventWriter.write([row]);
  assert.deepEqual([first.accepted, second.accepted, second.duplicates], [1, 0, 1]);
});
