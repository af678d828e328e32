// When Postgres goes away, event ingestion answers 503 in the one error shape and never leaves a
// request half-written. The app under test reaches the real database through a relay we can cut;
// a second app, connected directly, sets up users and messages and looks at what was stored.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import request from 'supertest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/platform/app.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import {
  countRows,
  event,
  makeMessages,
  startDatabaseRelay,
  startEventsApp,
  type EventsTestApp,
} from '../../helpers/events.ts';
import { waitFor } from '../../helpers/wait-for.ts';

let t: EventsTestApp;

before(async () => {
  t = await startEventsApp();
});

after(async () => {
  await t.close();
});

interface RelayedApp {
  app: FastifyInstance;
  url: string;
  user: TestUser;
  messages: string[];
  cut(): Promise<void>;
  close(): Promise<void>;
}

/** An app whose database link can be cut, with a user whose key and messages it has cached. */
async function startRelayedApp(): Promise<RelayedApp> {
  const relay = await startDatabaseRelay(t.database.url);
  const app = await buildApp({ config: { ...t.config, DATABASE_URL: relay.url } });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const user = await makeUser(t.app, 'user');
  const messages = await makeMessages(t.app, user.id, 2);
  // One successful request caches the API key and the messages' owner in this app.
  const warm = await request(url)
    .post('/v1/events')
    .set('authorization', user.auth)
    .send({ events: messages.map((m) => event(m)) });
  assert.equal(warm.status, 202, JSON.stringify(warm.body));
  return {
    app,
    url,
    user,
    messages,
    cut: () => relay.stop(),
    close: () => app.close().then(() => relay.stop()),
  };
}

test('database unreachable: 503 in the one error shape, nothing stored', async () => {
  const relayed = await startRelayedApp();
  try {
    await relayed.cut();
    const events = Array.from({ length: 5 }, (_, i) => event(relayed.messages[i % 2]!));
    const res = await request(relayed.url)
      .post('/v1/events')
      .set('authorization', relayed.user.auth)
      .send({ events });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      error: { code: 'unavailable', message: 'A backing service is unavailable; try again shortly' },
    });
    assert.equal(
      relayed.app.eventWriter.stats().failedStatements,
      1,
      'the insert itself was tried and failed',
    );
    assert.equal(
      await countRows(
        t.app,
        events.map((e) => e.id as string),
      ),
      0,
    );
  } finally {
    await relayed.close();
  }
});

test('database lost mid-flush: every waiting request gets 503, each all-or-nothing, and a retry is safe', async () => {
  const relayed = await startRelayedApp();
  const locker = new pg.Client({ connectionString: t.database.url });
  await locker.connect();
  try {
    const writer = relayed.app.eventWriter;
    const start = writer.stats().requests;
    // Hold inserts so that statements are in flight and more requests queue behind them...
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE implicit_events IN SHARE MODE');
    const batches = Array.from({ length: 20 }, () => relayed.messages.flatMap((m) => [event(m), event(m)]));
    const responses = Promise.all(
      batches.map((events) =>
        request(relayed.url).post('/v1/events').set('authorization', relayed.user.auth).send({ events }),
      ),
    );
    await waitFor(
      'all requests to reach the writer',
      () => writer.stats().requests - start === 20,
      10_000,
      0,
    );
    // ...then lose the database.
    await relayed.cut();
    for (const res of await responses) {
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'unavailable');
    }

    // Statements already on the server finish when the lock goes (a 503 means "not acknowledged",
    // not "not stored"), but never partly: each request's rows are all there or none are.
    await locker.query('COMMIT');
    await waitForOrphanedInserts();
    for (const events of batches) {
      const stored = await countRows(
        t.app,
        events.map((e) => e.id as string),
      );
      assert.ok(stored === 0 || stored === events.length, `a request had ${stored} of ${events.length} rows`);
    }

    // Clients retry with the same ids: nothing is stored twice and every event is accounted for.
    for (const events of batches) {
      const retry = await request(t.url)
        .post('/v1/events')
        .set('authorization', relayed.user.auth)
        .send({ events });
      assert.equal(retry.status, 202, JSON.stringify(retry.body));
      assert.equal(retry.body.accepted + retry.body.duplicates, events.length);
      assert.equal(
        await countRows(
          t.app,
          events.map((e) => e.id as string),
        ),
        events.length,
      );
    }
  } finally {
    await locker.end();
    await relayed.close();
  }
});

/** Waits until no INSERT into implicit_events is still running on the server. */
async function waitForOrphanedInserts(): Promise<void> {
  const running = async () => {
    const { rows } = await t.app.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND state = 'active' AND query LIKE 'INSERT INTO implicit_events%'`,
    );
    return rows[0]!.n;
  };
  await waitFor('no insert still running on the server', async () => (await running()) === 0, 10_000, 0);
}
