// `npm run bench:ingest`: throughput of POST /v1/events against the raw speed of the database.
// Creates a fresh database, starts the real app on loopback, seeds a user and messages, then
//   1. measures the database ceiling: the writer's own unnest INSERT straight through pg (again
//      after each batched round, at the best connection count);
//   2. drives batches of 50 events in three rounds (a round's ratio uses the mean of the ceilings
//      around it; the median round is reported), then single events from 64 connections, with
//      autocannon running in a child process; acknowledged events are counted from the response
//      bodies;
//   3. checks every acknowledged id is stored exactly once.
// Each phase also reports the CPU used by the server, Postgres, Redis, the load generator and
// any other process on the machine (they all share the same cores). Prints one JSON line last.
// Also prints the CPU model and the server's commit latency (with and without waiting for the WAL
// flush), and where a batched request's time goes in the writer (queue wait, statement time).
// Environment: BENCH_DATABASE_URL (server to use, default local), BENCH_SECONDS (per measured
// run, default 10), BENCH_BATCH_CONNECTIONS (default 32), LOG_LEVEL (default warn).
// `--smoke`: 1-second runs and one ceiling shape, to check the benchmark works (figures mean little).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { buildApp } from '../src/platform/app.ts';
import { loadConfig } from '../src/platform/config.ts';
import { createUser, issueApiKey } from '../src/platform/users/users.ts';
import { cpuAccountingAvailable, cpuModel, cpuSnapshot, describeCpu } from './cpu.ts';
import { measureDatabaseCeiling, remeasureCeiling } from './db-ceiling.ts';
import { scratchDatabase } from './scratch-database.ts';
import { measureCommitLatency } from '../src/platform/db/commit-latency.ts';
import type { LoadJob, LoadResult } from './load-generator.ts';

const SMOKE = process.argv.includes('--smoke');
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const SECONDS = SMOKE ? 1 : Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = SMOKE ? 1 : 3;
const RATE_LIMIT_PER_MINUTE = 1_000_000_000;
const MESSAGES = 1000;
const BATCH = { batchSize: 50, connections: Number(process.env.BENCH_BATCH_CONNECTIONS ?? 32) };
const SINGLE = { batchSize: 1, connections: 64 };
/** Batched runs, each between two measurements of the ceiling; the median round is reported. */
const BATCHED_ROUNDS = SMOKE ? 1 : 3;

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Runs one load job in a child process. */
function load(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./load-generator.ts', import.meta.url)), {
      execArgv: ['--import', 'tsx'],
    });
    let result: LoadResult | undefined;
    child.once('message', (message) => (result = message as LoadResult));
    child.once('error', reject);
    child.once('exit', (code) =>
      result ? resolve(result) : reject(new Error(`load generator exited with ${code}`)),
    );
    child.send(job);
  });
}

interface Verification {
  acknowledged: number;
  /** Ids acknowledged by more than one response (expected 0: each id is sent once). */
  acknowledgedTwice: number;
  lost: number;
  duplicatesStored: number;
  storedNotAcknowledged: number;
}

/** Looks up every acknowledged id: missing ones are lost, any stored twice are duplicates. */
async function verify(pool: pg.Pool, idPrefix: string, ids: string[]): Promise<Verification> {
  const acknowledged = new Set(ids);
  const client = await pool.connect();
  try {
    await client.query('CREATE TEMP TABLE IF NOT EXISTS acked (id text PRIMARY KEY)');
    await client.query('TRUNCATE acked');
    const all = [...acknowledged];
    for (let i = 0; i < all.length; i += 50_000) {
      await client.query('INSERT INTO acked SELECT unnest($1::text[])', [all.slice(i, i + 50_000)]);
    }
    const { rows } = await client.query<{ rows: number; distinct_ids: number; stored_with_prefix: number }>(
      `SELECT (SELECT count(*)::int FROM implicit_events e JOIN acked a USING (id)) AS rows,
              (SELECT count(DISTINCT e.id)::int FROM implicit_events e JOIN acked a USING (id)) AS distinct_ids,
              (SELECT count(*)::int FROM implicit_events WHERE starts_with(id, $1)) AS stored_with_prefix`,
      [idPrefix],
    );
    const r = rows[0]!;
    return {
      acknowledged: acknowledged.size,
      acknowledgedTwice: ids.length - acknowledged.size,
      lost: acknowledged.size - r.distinct_ids,
      duplicatesStored: r.rows - r.distinct_ids,
      storedNotAcknowledged: r.stored_with_prefix - r.distinct_ids,
    };
  } finally {
    client.release();
  }
}

function describe(name: string, r: LoadResult, events: number): string {
  const perSecond = Math.round(r.accepted / (r.elapsedMs / 1000));
  return (
    `${name}: ${r.requests} requests (${r.responses2xx} 2xx, ${r.non2xx} non-2xx ${JSON.stringify(r.statusCounts)}, ` +
    `${r.errors} errors, ${r.timeouts} timeouts) in ${(r.elapsedMs / 1000).toFixed(1)} s; ` +
    `${r.accepted} events accepted (${perSecond}/s), ${r.duplicates} duplicates, ${r.rejected} rejected; ` +
    `latency ms p50 ${r.latency.p50} p90 ${r.latency.p90} p99 ${r.latency.p99} max ${r.latency.max}; ` +
    `${events} events per request`
  );
}

async function main(): Promise<void> {
  const database = await scratchDatabase(SERVER_URL, 'ingest');
  let closeApp: (() => Promise<void>) | undefined;
  try {
    const url = database.url;
    const config = loadConfig({
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      DATABASE_URL: url,
      PORT: '0',
      HOST: '127.0.0.1',
      FEEDLOOP_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE),
    });
    say(
      `cpu: ${cpuModel()}${SMOKE ? '; SMOKE RUN (1-second phases): the figures are not measurements' : ''}`,
    );
    say(`database ${new URL(url).pathname.slice(1)} (dropped at the end); log level ${config.LOG_LEVEL}`);
    const probePool = new pg.Pool({ connectionString: url, max: 1 });
    const commit = await measureCommitLatency(probePool, SMOKE ? 40 : 400).finally(() => probePool.end());
    say(
      `commit latency: p50 ${commit.syncP50} ms (p90 ${commit.syncP90}) waiting for the WAL flush ` +
        `(${commit.walSyncMethod}), p50 ${commit.asyncP50} ms without: the flush adds ${commit.flushP50} ms ` +
        `to every statement the writer commits`,
    );
    say(
      `rate limit raised to ${RATE_LIMIT_PER_MINUTE} requests/min per credential for this run ` +
        `(the limiter stays on: every request still makes its Redis round trip)`,
    );
    const app = await buildApp({ config });
    closeApp = () => app.close();
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    say(`API at ${address}; pool size ${app.db.pool.options.max}`);

    const user = await createUser(app.db.prisma, { email: 'bench@example.test', role: 'user' });
    const { key } = await issueApiKey(app.db.prisma, user.id, 'bench');
    const conversation = await app.db.prisma.conversation.create({ data: { userId: user.id } });
    await app.db.prisma.message.createMany({
      data: Array.from({ length: MESSAGES }, (_, i) => ({
        conversationId: conversation.id,
        role: 'assistant' as const,
        content: `answer ${i}`,
      })),
    });
    const messageIds = (
      await app.db.prisma.message.findMany({
        where: { conversationId: conversation.id },
        select: { id: true },
      })
    ).map((m) => m.id);
    say(`seeded 1 user, ${messageIds.length} messages`);
    await app.eventWriter.paced();
    const { pace } = app.eventWriter.stats(); // chosen from the commit it timed at start (plugin.ts)
    say(
      `writer: FEEDLOOP_EVENT_BATCH_MAX=${config.FEEDLOOP_EVENT_BATCH_MAX}, up to ${pace.maxConcurrentFlushes} ` +
        `statements in flight (FEEDLOOP_EVENT_FLUSHES=${config.FEEDLOOP_EVENT_FLUSHES}), another once ` +
        `${pace.minRowsToOverlap} rows are queued`,
    );

    // 1. The ceiling: the same INSERT, big batches, no HTTP. Best of a few connection counts.
    const cpuBefore = cpuAccountingAvailable ? cpuSnapshot() : undefined;
    const ceilingOptions = {
      url,
      userId: user.id,
      messageIds,
      seconds: Math.min(SECONDS, 6),
      ...(SMOKE ? { connectionCounts: [2] } : {}),
      log: say,
    };
    const ceiling = await measureDatabaseCeiling(ceilingOptions);
    say(
      `db ceiling: ${Math.round(ceiling.rowsPerSecond)} rows/s ` +
        `(${ceiling.connections} connections x ${ceiling.batchSize}-row statements)`,
    );
    if (cpuBefore) {
      // Per-row figures are left out: ceiling backends have exited, so Postgres is undercounted.
      const cpu = describeCpu(cpuBefore, cpuSnapshot(), 1, { self: 'ceiling client' });
      say(`  cpu over all ceiling runs: ${cpu.replace(/ \([\d.]+ us\/event\)/g, '')}`);
    }
    await app.db.pool.query('TRUNCATE implicit_events');

    const base = { url: address, authorization: `Bearer ${key}`, messageIds };
    const run = async (mode: string, shape: { batchSize: number; connections: number }) => {
      await app.db.pool.query('TRUNCATE implicit_events');
      await load({ ...base, ...shape, durationSeconds: WARMUP_SECONDS, idPrefix: `w${mode}-` });
      const statsBefore = app.eventWriter.stats();
      const idPrefix = `${mode}-`;
      const cpuBefore = cpuAccountingAvailable ? cpuSnapshot() : undefined;
      // Is the connection pool a bound? Sample how many queries wait for a connection.
      const pool = app.db.pool;
      const poolSamples = { count: 0, waiting: 0, maxWaiting: 0, busy: 0 };
      const sampler = setInterval(() => {
        poolSamples.count += 1;
        poolSamples.waiting += pool.waitingCount;
        poolSamples.maxWaiting = Math.max(poolSamples.maxWaiting, pool.waitingCount);
        poolSamples.busy += pool.totalCount - pool.idleCount;
      }, 5);
      const result = await load({ ...base, ...shape, durationSeconds: SECONDS, idPrefix }).finally(() =>
        clearInterval(sampler),
      );
      const cpuAfter = cpuAccountingAvailable ? cpuSnapshot() : undefined;
      const statsAfter = app.eventWriter.stats();
      const statements = statsAfter.statements - statsBefore.statements;
      const rows = statsAfter.rowsInserted - statsBefore.rowsInserted;
      const requests = statsAfter.requests - statsBefore.requests;
      const statementMs = statsAfter.statementMs - statsBefore.statementMs;
      const waitMs = statsAfter.queueWaitMs - statsBefore.queueWaitMs;
      say(describe(`${mode} (${shape.connections} connections)`, result, shape.batchSize));
      say(
        `  writer: ${statements} statements (${(statements / (result.elapsedMs / 1000)).toFixed(1)}/s), ` +
          `${(rows / Math.max(statements, 1)).toFixed(1)} rows per statement on average, largest so far ` +
          `${statsAfter.largestStatement}, ${statsAfter.failedStatements - statsBefore.failedStatements} failed; ` +
          `a statement takes ${(statementMs / Math.max(statements, 1)).toFixed(1)} ms, ` +
          `${(statementMs / result.elapsedMs).toFixed(2)} in flight on average; a request waits ` +
          `${(waitMs / Math.max(requests, 1)).toFixed(1)} ms in the queue, ` +
          `${((statsAfter.inWriterMs - statsBefore.inWriterMs) / result.elapsedMs).toFixed(1)} ` +
          `of the ${shape.connections} connections' requests are in the writer on average`,
      );
      say(
        `  pool: ${(poolSamples.busy / Math.max(poolSamples.count, 1)).toFixed(2)} of ${pool.options.max} ` +
          `connections busy on average, ${(poolSamples.waiting / Math.max(poolSamples.count, 1)).toFixed(2)} ` +
          `queries waiting for one on average (most at once: ${poolSamples.maxWaiting})`,
      );
      if (cpuBefore && cpuAfter) {
        say(
          `  cpu: ${describeCpu(cpuBefore, cpuAfter, Math.max(1, result.accepted), { loadGeneratorMs: result.cpuMs })}`,
        );
      }
      const checked = await verify(app.db.pool, idPrefix, result.acknowledgedIds);
      say(
        `  verify: ${checked.acknowledged} acknowledged ids (${checked.acknowledgedTwice} twice), ${checked.lost} lost, ` +
          `${checked.duplicatesStored} stored twice, ${checked.storedNotAcknowledged} stored but not ` +
          `acknowledged (in flight when the load stopped)`,
      );
      return { result, checked, perSecond: result.accepted / (result.elapsedMs / 1000) };
    };

    // 2. Through the API, batched, in BATCHED_ROUNDS rounds, each followed by the ceiling measured
    // again. A round's ratio divides by the mean of the ceilings just before and just after it, so a
    // machine that speeds up or slows down during the run (a shared host) moves both sides alike; the
    // figure reported is the median round, with every round printed beside it.
    let before = ceiling.rowsPerSecond;
    const rounds: { perSecond: number; ceiling: number; ratio: number; checked: Verification }[] = [];
    for (let round = 1; round <= BATCHED_ROUNDS; round++) {
      const batched = await run(`batched${round}`, BATCH);
      const after = (await remeasureCeiling(ceilingOptions, ceiling)).rowsPerSecond;
      const around = (before + after) / 2;
      const ratio = batched.perSecond / around;
      rounds.push({ perSecond: batched.perSecond, ceiling: around, ratio, checked: batched.checked });
      say(
        `db ceiling again after batched round ${round}: ${Math.round(after)} rows/s; ` +
          `mean of the two around the round ${Math.round(around)}: batched / ceiling ${ratio.toFixed(3)}`,
      );
      before = after;
    }
    const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor(rounds.length / 2)]!;
    const ratios = rounds.map((r) => Number(r.ratio.toFixed(3)));
    say(`batched / ceiling by round: ${ratios.join(', ')}; median ${median.ratio.toFixed(3)}`);
    const single = await run('single', SINGLE);

    const summary = {
      bench: 'ingest',
      ...(SMOKE ? { smoke: true } : {}),
      cpu: cpuModel(),
      commit_ms_p50: commit.syncP50,
      commit_flush_ms_p50: commit.flushP50,
      batched_events_per_s: Math.round(median.perSecond),
      single_events_per_s: Math.round(single.perSecond),
      single_p99_ms: single.result.latency.p99,
      db_ceiling_rows_per_s: Math.round(median.ceiling),
      batched_vs_ceiling: Number(median.ratio.toFixed(3)),
      batched_vs_ceiling_rounds: ratios,
      lost: rounds.reduce((n, r) => n + r.checked.lost, 0) + single.checked.lost,
      duplicates_stored:
        rounds.reduce((n, r) => n + r.checked.duplicatesStored, 0) + single.checked.duplicatesStored,
    };
    await app.close();
    closeApp = undefined;
    say(JSON.stringify(summary));
  } finally {
    await closeApp?.().catch(() => {});
    await database.drop();
  }
}

await main();
