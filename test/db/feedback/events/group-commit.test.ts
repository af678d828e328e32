// The group-commit writer: concurrent requests share statements, statements respect the batch cap
// and stay atomic, concurrent writers never store an id twice nor deadlock, and closing the app
// writes what is queued before the pool closes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import request from 'supertest';
import { makeUser, type TestUser } from '../../../helpers/app.ts';
import { EventWriter, type EventRow } from '../../../../src/feedback/events/event-writer.ts';
import {
  countRows,
  event,
  eventId,
  makeMessages,
  startEventsApp,
  type EventsTestApp,
} from '../../../helpers/events.ts';
import { waitFor } from '../../../helpers/wait-for.ts';

let t: EventsTestApp;
let user: TestUser;
let messages: string[];

before(async () => {
  t = await startEventsApp();
  user = await makeUser(t.app, 'user');
  messages = await makeMessages(t.app, user.id, 4);
});

after(async () => {
  await t.close();
});

function rows(count: number, messageId = messages[0]!): EventRow[] {
  return Array.from({ length: count }, () => ({
    id: eventId('row'),
    type: 'click' as const,
    messageId,
    userId: user.id,
    value: null,
    clientTs: new Date().toISOString(),
  }));
}

/** Resolves once `count` inserts into implicit_events are waiting for a lock on the server. */
async function waitForInsertsWaitingOnLock(count: number): Promise<void> {
  await waitFor(
    `${count} blocked inserts`,
    async () => {
      const { rows: found } = await t.app.db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'
           AND query LIKE 'INSERT INTO implicit_events%'`,
      );
      return found[0]!.n >= count;
    },
    10_000,
    0,
  );
}

/** Holds a lock that blocks inserts into implicit_events (reads go on) until release(). */
async function blockInserts(): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: t.database.url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE implicit_events IN SHARE MODE');
  return {
    async release() {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

test('200 concurrent single-event requests share a handful of statements', async () => {
  // Warm the credential and message-owner caches so every request reaches the writer quickly.
  await request(t.url)
    .post('/v1/events')
    .set('authorization', user.auth)
    .send({ events: [event(messages[0]!)] });
  const writer = t.app.eventWriter;
  const start = writer.stats();
  const lock = await blockInserts();
  const sent = Array.from({ length: 200 }, (_, i) => event(messages[i % messages.length]!));
  const responses = Promise.all(
    sent.map((e) =>
      request(t.url)
        .post('/v1/events')
        .set('authorization', user.auth)
        .send({ events: [e] }),
    ),
  );
  try {
    // While the first statements wait on the lock, every other request queues behind them.
    await waitFor(
      'all 200 requests to reach the writer',
      () => writer.stats().requests - start.requests === 200,
      10_000,
      0,
    );
    assert.ok(writer.stats().statements - start.statements <= t.app.config.FEEDLOOP_EVENT_FLUSHES);
    assert.ok(writer.stats().queuedRows >= 50, `${writer.stats().queuedRows} rows queued`);
  } finally {
    await lock.release();
  }
  for (const res of await responses)
    assert.deepEqual(res.body, { accepted: 1, duplicates: 0, rejected: 0, errors: [] });
  const statements = writer.stats().statements - start.statements;
  assert.ok(
    statements <= 2 * t.app.config.FEEDLOOP_EVENT_FLUSHES,
    `200 requests took ${statements} statements`,
  );
  assert.ok(writer.stats().largestStatement >= 50);
  assert.equal(
    await countRows(
      t.app,
      sent.map((e) => e.id as string),
    ),
    200,
  );
});

test('writes queued while a statement is in flight go out together', async () => {
  const writer = new EventWriter({
    pool: t.app.db.pool,
    batchMax: 5000,
    pace: { maxConcurrentFlushes: 1, minRowsToOverlap: 0 },
  });
  const batches = Array.from({ length: 300 }, () => rows(1));
  const outcomes = await Promise.all(batches.map((b) => writer.write(b)));
  assert.ok(outcomes.every((o) => o.accepted === 1 && o.duplicates === 0));
  // The first write goes out alone at once; the other 299 queue behind it and share the next one.
  assert.equal(writer.stats().statements, 2);
  assert.equal(writer.stats().largestStatement, 299);
  // The timing counters bench:ingest reads: the 299 waited for the first statement to commit.
  const { queueWaitMs, statementMs, inWriterMs } = writer.stats();
  assert.ok(queueWaitMs > 0 && statementMs > 0);
  assert.ok(inWriterMs >= queueWaitMs + statementMs, `${inWriterMs} >= ${queueWaitMs} + ${statementMs}`);
  assert.equal(
    await countRows(
      t.app,
      batches.flat().map((r) => r.id),
    ),
    300,
  );
});

test('a statement carries at most batchMax rows and never splits a request', async () => {
  const writer = new EventWriter({
    pool: t.app.db.pool,
    batchMax: 10,
    pace: { maxConcurrentFlushes: 1, minRowsToOverlap: 0 },
  });
  const batches = Array.from({ length: 9 }, () => rows(4));
  const outcomes = await Promise.all([...batches.map((b) => writer.write(b)), writer.write(rows(25))]);
  assert.ok(outcomes.every((o) => o.duplicates === 0));
  assert.deepEqual(
    outcomes.map((o) => o.accepted),
    [4, 4, 4, 4, 4, 4, 4, 4, 4, 25],
  );
  // [4] alone, then [4,4] [4,4] [4,4] [4,4] (two fit under 10), then the oversized request alone.
  assert.equal(writer.stats().statements, 6);
  assert.equal(writer.stats().largestStatement, 25);
});

test('a second statement starts beside one in flight only once enough rows are queued', async () => {
  const writer = new EventWriter({
    pool: t.app.db.pool,
    batchMax: 5000,
    pace: { maxConcurrentFlushes: 2, minRowsToOverlap: 10 },
  });
  const writes = [writer.write(rows(1))]; // goes out at once
  for (let i = 0; i < 5; i++) writes.push(writer.write(rows(1)));
  assert.equal(writer.stats().inFlight, 1, '5 queued rows wait for the statement in flight');
  writes.push(writer.write(rows(10)));
  assert.equal(writer.stats().inFlight, 2, '15 queued rows are worth a statement of their own');
  assert.equal(writer.stats().queuedRows, 0);
  const outcomes = await Promise.all(writes);
  assert.equal(
    outcomes.reduce((sum, o) => sum + o.accepted, 0),
    16,
  );
  assert.equal(writer.stats().statements, 2);
});

test('a failed statement fails every request in it and writes none of their rows', async () => {
  const writer = new EventWriter({
    pool: t.app.db.pool,
    batchMax: 5000,
    pace: { maxConcurrentFlushes: 1, minRowsToOverlap: 0 },
  });
  const good = rows(3);
  // A row whose type is no label of the enum breaks the whole statement; it queues together with
  // the good rows behind a first write, so both requests share that statement.
  const broken: EventRow[] = [{ ...rows(1)[0]!, type: 'not_a_type' as EventRow['type'] }];
  const first = writer.write(rows(1));
  const results = await Promise.allSettled([writer.write(good), writer.write(broken)]);
  await first;
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  assert.equal(writer.stats().failedStatements, 1);
  assert.equal(
    await countRows(
      t.app,
      good.map((r) => r.id),
    ),
    0,
  );
});

test('two writers racing on the same ids store each once, credit each once, and do not deadlock', async () => {
  // Two writers stand for two API processes; their statements wait on the lock, then collide.
  const a = new EventWriter({
    pool: t.app.db.pool,
    batchMax: 5000,
    pace: { maxConcurrentFlushes: 1, minRowsToOverlap: 0 },
  });
  const b = new EventWriter({
    pool: t.app.db.pool,
    batchMax: 5000,
    pace: { maxConcurrentFlushes: 1, minRowsToOverlap: 0 },
  });
  for (let round = 0; round < 5; round++) {
    const shared = rows(2000, messages[round % messages.length]);
    const lock = await blockInserts();
    const writes = Promise.all([a.write(shared), b.write([...shared].reverse())]);
    try {
      await waitForInsertsWaitingOnLock(2);
    } finally {
      await lock.release();
    }
    const [fromA, fromB] = await writes;
    assert.equal(fromA.accepted + fromB.accepted, 2000);
    assert.equal(fromA.duplicates + fromB.duplicates, 2000);
    assert.equal(
      await countRows(
        t.app,
        shared.map((r) => r.id),
      ),
      2000,
    );
  }
});

test('closing the app writes what is queued before the pool closes', async () => {
  const local = await startEventsApp();
  try {
    const owner = await makeUser(local.app, 'user');
    const [m] = (await makeMessages(local.app, owner.id, 1)) as [string];
    const writer = local.app.eventWriter;
    const batches = Array.from({ length: 100 }, () =>
      Array.from({ length: 5 }, () => ({
        id: eventId('close'),
        type: 'abandon' as const,
        messageId: m,
        userId: owner.id,
        value: 1,
        clientTs: new Date().toISOString(),
      })),
    );
    const writes = batches.map((b) => writer.write(b));
    assert.ok(writer.stats().queuedRows > 0, 'rows are still queued when close begins');
    await local.app.close();
    const outcomes = await Promise.all(writes);
    assert.equal(
      outcomes.reduce((sum, o) => sum + o.accepted, 0),
      500,
    );
    await assert.rejects(writer.write(batches[0]!), /shutting down/);

    // The app's pool is closed now; look with a connection of our own.
    const client = new pg.Client({ connectionString: local.database.url });
    await client.connect();
    try {
      const { rows: found } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM implicit_events',
      );
      assert.equal(found[0]!.n, 500);
    } finally {
      await client.end();
    }
  } finally {
    await local.database.drop();
  }
});

test('closing the app lets in-flight requests finish with 202', async () => {
  const local = await startEventsApp();
  try {
    const owner = await makeUser(local.app, 'user');
    const [m] = (await makeMessages(local.app, owner.id, 1)) as [string];
    const post = (events: unknown[]) =>
      request(local.url).post('/v1/events').set('authorization', owner.auth).send({ events });
    await post([event(m)]); // warm the caches
    const sent = Array.from({ length: 50 }, () => [event(m), event(m)]);
    const start = local.app.eventWriter.stats().requests;
    const responses = Promise.allSettled(sent.map((events) => post(events)));
    await waitFor(
      'a request to reach the writer',
      () => local.app.eventWriter.stats().requests - start > 0,
      10_000,
      0,
    );
    await local.app.close();
    const answers = await responses;
    // Requests the server had already taken complete; any that came after close began are refused
    // (503, or no connection at all) before reaching the writer. Whatever was acknowledged is stored.
    const acknowledged = answers.map((r) => r.status === 'fulfilled' && r.value.status === 202);
    assert.ok(acknowledged.some(Boolean));
    for (const r of answers) {
      if (r.status === 'fulfilled')
        assert.ok([202, 503].includes(r.value.status), `status ${r.value.status}`);
    }
    const ackedIds = sent.flatMap((events, i) => (acknowledged[i] ? events.map((e) => e.id) : []));
    const client = new pg.Client({ connectionString: local.database.url });
    await client.connect();
    try {
      const { rows: found } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM implicit_events WHERE id = ANY($1::text[])',
        [ackedIds],
      );
      assert.equal(found[0]!.n, ackedIds.length);
    } finally {
      await client.end();
    }
  } finally {
    await local.database.drop();
  }
});
