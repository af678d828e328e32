// Postgres failing under ingestion load, on a cluster of this test's own: restarted with an
// immediate shutdown (a crash), and stalled (SIGSTOP of the postmaster and every backend). Clients
// retry a batch with the same ids until it is acknowledged. Afterwards every acknowledged event is
// stored exactly once, the outage answered 503 (never 500, never a hang), and the same app serves
// again without a restart.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../src/platform/app.ts';
import { loadConfig } from '../../../src/platform/config.ts';
import { ensureDatabase, migrate } from '../../../src/platform/db/migrate.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { makeMessages } from '../../helpers/events.ts';
import { startIngestLoad, type IngestLoad } from '../../helpers/ingest-load.ts';
import { startScratchPostgres, type ScratchPostgres } from '../../helpers/scratch-services.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const TIMEOUTS = {
  FEEDLOOP_DB_CONNECT_TIMEOUT_MS: '1000',
  FEEDLOOP_DB_STATEMENT_TIMEOUT_MS: '1500',
  FEEDLOOP_DB_QUERY_TIMEOUT_MS: '2000',
};

/** The stall lasts this long, as the scenario says: what must be answered during it is bounded by it. */
const STALL_MS = 10_000;
/** When the second round of probes is sent, well inside the stall: the pool then holds hung connections. */
const MID_STALL_MS = 4_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
/** `promise`, or a rejection if it is still pending when the stall ends at `thawAt`. */
const beforeThaw = <T>(promise: Promise<T>, thawAt: number) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error('not answered while Postgres was stopped')),
        thawAt - Date.now(),
      ).unref(),
    ),
  ]);

describe('Postgres faults during ingestion', () => {
  let pg: ScratchPostgres;
  let app: FastifyInstance;
  let url: string;
  let user: TestUser;
  let messages: string[];

  before(async () => {
    pg = await startScratchPostgres();
    const databaseUrl = pg.url('feedloop');
    await ensureDatabase(databaseUrl);
    await migrate(databaseUrl);
    const config = loadConfig({
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DATABASE_URL: databaseUrl,
      FEEDLOOP_RATE_LIMIT_PER_MINUTE: '1000000',
      ...TIMEOUTS,
    });
    app = await buildApp({ config });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    user = await makeUser(app, 'user');
    messages = await makeMessages(app, user.id, 4);
  });
  after(async () => {
    await app?.close();
    await pg?.close();
  });

  /** Every event sent was acknowledged and is stored exactly once; nothing else is stored. */
  async function assertStoredExactlyOnce(load: IngestLoad) {
    assert.deepEqual(load.unexpected, [], 'every answer was a whole 202 or a 503');
    assert.equal(load.acknowledged.size, load.sent.size);
    const { rows } = await app.db.pool.query<{ id: string; n: number }>(
      'SELECT id, count(*)::int AS n FROM implicit_events WHERE id = ANY($1::text[]) GROUP BY id',
      [[...load.sent]],
    );
    assert.equal(rows.length, load.acknowledged.size, 'every acknowledged event is stored');
    assert.ok(
      rows.every((r) => r.n === 1),
      'and stored once',
    );
  }

  test('restarted with an immediate shutdown mid-load: 503 during the outage, every acknowledged event stored once, no restart of the app', async () => {
    const load = startIngestLoad({
      url,
      auth: user.auth,
      messageIds: messages,
      clients: 4,
      batchesPerClient: 40,
      batchSize: 5,
    });
    await waitFor('some batches acknowledged', () => load.acknowledgedBatches() >= 20);
    pg.stop('immediate');
    await waitFor('503s during the outage', () => (load.statuses.get(503) ?? 0) >= 4);
    assert.equal((await request(url).get('/readyz')).status, 503);
    pg.start();
    await load.done;
    assert.ok(load.acknowledgedBatches() === 160);
    await assertStoredExactlyOnce(load);
    const ready = await request(url).get('/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
  });

  test('stalled 10 s (SIGSTOP): requests at its start and in its middle fail with 503 while it is still stopped, nothing acknowledged is lost', async () => {
    const load = startIngestLoad({
      url,
      auth: user.auth,
      messageIds: messages,
      clients: 4,
      batchesPerClient: 30,
      batchSize: 5,
    });
    await waitFor('some batches acknowledged', () => load.acknowledgedBatches() >= 20);
    const frozen = pg.freeze();
    const frozenAt = Date.now();
    const thawAt = frozenAt + STALL_MS;
    try {
      // Requests made now meet pooled connections whose server does not answer, and new
      // connections that never get past the handshake. They must all be answered while the
      // server is still stopped: by the query and connect timeouts, never by the stall ending.
      const probe = (round: string) =>
        beforeThaw(
          Promise.all([
            request(url).get('/readyz'),
            ...Array.from({ length: 3 }, (_, i) =>
              request(url)
                .post('/v1/events')
                .set('authorization', user.auth)
                .send({
                  events: [
                    {
                      id: `stall-${round}-${Date.now()}-${i}`,
                      type: 'copy',
                      messageId: messages[i]!,
                      ts: Date.now(),
                    },
                  ],
                }),
            ),
          ]),
          thawAt,
        ).then((responses) => responses.map((r) => r.status));
      const before503 = load.statuses.get(503) ?? 0;
      assert.deepEqual(await probe('first'), [503, 503, 503, 503]);
      // Later in the stall the app still answers at once, though its pool holds hung connections.
      await sleep(frozenAt + MID_STALL_MS - Date.now());
      assert.deepEqual(await probe('mid'), [503, 503, 503, 503]);
      await beforeThaw(
        waitFor(
          'every load client to meet the stall',
          () => (load.statuses.get(503) ?? 0) - before503 >= 4,
          STALL_MS,
        ),
        thawAt,
      );
      // The stall lasts its full length before Postgres goes on.
      await sleep(thawAt - Date.now());
    } finally {
      pg.thaw(frozen);
    }
    await load.done;
    await assertStoredExactlyOnce(load);
    const ready = await request(url).get('/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
  });
});
