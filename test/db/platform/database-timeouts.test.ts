// A statement that waits longer than FEEDLOOP_DB_STATEMENT_TIMEOUT_MS is cancelled by Postgres and
// the request answers 503 at once, instead of waiting for the lock (or the stall) to end. Without
// the timeout these requests would wait for a lock this test only releases after they answered.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import request from 'supertest';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { countRows, event, makeMessages, startEventsApp, type EventsTestApp } from '../../helpers/events.ts';

let t: EventsTestApp;
let user: TestUser;
let messages: string[];

before(async () => {
  t = await startEventsApp({ FEEDLOOP_DB_STATEMENT_TIMEOUT_MS: '300', FEEDLOOP_DB_QUERY_TIMEOUT_MS: '5000' });
  user = await makeUser(t.app, 'user');
  messages = await makeMessages(t.app, user.id, 2);
});

after(async () => {
  await t.close();
});

test('an insert stuck behind a lock is cancelled by statement_timeout: 503, nothing stored, a retry is stored once', async () => {
  // Warm the caches (API key, message owners) so only the insert meets the lock.
  const warm = await request(t.url)
    .post('/v1/events')
    .set('authorization', user.auth)
    .send({ events: [event(messages[0]!)] });
  assert.equal(warm.status, 202, JSON.stringify(warm.body));

  const locker = new pg.Client({ connectionString: t.database.url });
  await locker.connect();
  const events = messages.map((m) => event(m));
  try {
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE implicit_events IN ACCESS EXCLUSIVE MODE');
    const res = await request(t.url).post('/v1/events').set('authorization', user.auth).send({ events });
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'unavailable');
  } finally {
    await locker.query('ROLLBACK');
    await locker.end();
  }
  assert.equal(
    await countRows(
      t.app,
      events.map((e) => e.id as string),
    ),
    0,
  );

  const retry = await request(t.url).post('/v1/events').set('authorization', user.auth).send({ events });
  assert.equal(retry.status, 202, JSON.stringify(retry.body));
  assert.equal(retry.body.accepted, events.length);
  assert.equal(
    await countRows(
      t.app,
      events.map((e) => e.id as string),
    ),
    events.length,
  );
});
