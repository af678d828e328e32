// The event writer times a commit when the app is ready and picks how many statements go at once:
// a disk that makes every commit wait (here Postgres's commit_delay holds each flush 5 ms) gets
// statements side by side; commits that do not wait for the disk go one statement at a time. A
// connection lost while it times commits fails that timing only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { buildApp } from '../../../../src/platform/app.ts';
import { loadConfig } from '../../../../src/platform/config.ts';
import { measureCommitLatency } from '../../../../src/platform/db/commit-latency.ts';
import { createTestDatabase } from '../../../helpers/database.ts';
import { startDatabaseRelay } from '../../../helpers/events.ts';

/** An app on a fresh database whose sessions start with `settings`, ready, with its writer paced. */
async function paceWith(settings: Record<string, string>) {
  const database = await createTestDatabase();
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  for (const [name, value] of Object.entries(settings)) {
    await admin.query(`ALTER DATABASE "${database.name}" SET ${name} = ${value}`);
  }
  await admin.end();
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: database.url,
    FEEDLOOP_EVENT_FLUSHES: '6',
  });
  const app = await buildApp({ config });
  try {
    await app.ready();
    await app.eventWriter.paced();
    const latency = await measureCommitLatency(app.db.pool);
    return { pace: app.eventWriter.stats().pace, latency };
  } finally {
    await app.close();
    await database.drop();
  }
}

test('commits that wait 5 ms for the disk: up to FEEDLOOP_EVENT_FLUSHES statements, another at 100 rows', async () => {
  const { pace, latency } = await paceWith({ commit_delay: '5000', commit_siblings: '0' });
  assert.ok(latency.flushP50 >= 4, `flush ${latency.flushP50} ms`);
  assert.deepEqual(pace, { maxConcurrentFlushes: 6, minRowsToOverlap: 100 });
});

test('commits that do not wait for the disk: one statement at a time', async () => {
  const { pace, latency } = await paceWith({ synchronous_commit: 'off' });
  assert.ok(latency.flushP50 < 1, `flush ${latency.flushP50} ms`);
  assert.deepEqual(pace, { maxConcurrentFlushes: 1, minRowsToOverlap: 0 });
});

test('a connection lost while a commit is timed fails the timing, not the process', async () => {
  const database = await createTestDatabase();
  const relay = await startDatabaseRelay(database.url);
  const pool = new pg.Pool({ connectionString: relay.url, max: 1 });
  try {
    // Enough commits to still be timing when the link is cut.
    const timing = measureCommitLatency(pool, 100_000);
    const outcome = timing.then(
      () => 'finished',
      (err: Error) => err.message,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await relay.stop();
    assert.match(await outcome, /terminated|ECONNRESET|closed/i);
    // Give the client's own 'error' event a turn: unheard, it would end the test process.
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    await pool.end().catch(() => {});
    await database.drop();
  }
});
