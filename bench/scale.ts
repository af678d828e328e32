// `npm run bench:scale`: how feedloop's costs grow with the data. For each size (1x, 4x, 16x by
// default; 16x is 1M messages, 2M ratings, votes, flags and corrections, 20M implicit events) a
// scratch database is seeded with COPY (bench/scale-seed.ts), then measured:
//   - a full dataset build in a child process: wall time, peak RSS, feedback rows per second;
//   - the dashboard's insights queries (volume and per-version metrics, 30 days, from their
//     rollups; the metrics from raw rows too, for comparison), the moderation queue's first page
//     and a deep page by cursor with each submitter's trust (the kept rater assessment; its one-off
//     computation timed apart), opening a 200-message conversation (one page): p50 and p95 over
//     repeated runs;
//   - single-event ingestion p99 (the group-commit writer, 16 concurrent writers) on the biggest
//     size and on an empty database, in alternating rounds, each database's latencies pooled;
//   - table and index sizes.
// Then the growth exponent of each cost between sizes (log-log slope) and one JSON line last.
// Options: --sizes 1,4,16  --messages <at 1x, default 62500>  --keep (leave the databases)
//          --database <name,...> (one per size, in the order of --sizes: measure databases seeded
//          and kept by an earlier run instead of seeding; they are left in place, less the
//          dataset snapshots earlier builds recorded there, which are deleted so that the build
//          writes its lineage again)
//          --smoke (sizes 1,2 at 300 messages: checks the benchmark in seconds; not a measurement)
// Environment: BENCH_DATABASE_URL (server, default local).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createDatabase, type Database } from '../src/platform/db/client.ts';
import {
  compactAnswerMetrics,
  compactFeedbackRollup,
  feedbackVolume,
  versionMetrics,
  versionMetricsFromRows,
} from '../src/feedback/insights/queries.ts';
import { listCorrectionsForReview } from '../src/feedback/moderation/review.ts';
import { currentRaterAssessments, submitterTrust } from '../src/feedback/raters/submitter-trust.ts';
import { getConversationPage } from '../src/feedback/conversations/conversations.ts';
import { encodeCursor } from '../src/platform/pagination.ts';
import { EventWriter } from '../src/feedback/events/event-writer.ts';
import { paceFor } from '../src/feedback/events/plugin.ts';
import { cpuModel } from './cpu.ts';
import { configSchema } from '../src/platform/config.ts';
import { scratchDatabase, type ScratchDatabase } from './scratch-database.ts';
import { planFor, seed, seededBefore, type Seeded } from './scale-seed.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string' },
    messages: { type: 'string' },
    keep: { type: 'boolean', default: false },
    database: { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
});
const SMOKE = values.smoke;
const SIZES = (values.sizes ?? (SMOKE ? '1,2' : '1,4,16')).split(',').map(Number);
/** Databases seeded and kept by an earlier run (--keep), one per size, measured instead of seeding. */
const KEPT_DATABASES = values.database?.split(',');
const MESSAGES_AT_1X = Number(values.messages ?? (SMOKE ? 300 : 62_500));
const RUNS = SMOKE ? 3 : 30;
const INGEST_SECONDS = SMOKE ? 0.5 : 5;
const INGEST_ROUNDS = SMOKE ? 1 : 6;
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DAY_MS = 86_400_000;

const say = (line: string) => process.stdout.write(`${line}\n`);
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
};

async function timings(runs: number, fn: () => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  await fn(); // warm: plans, caches
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    ms.push(performance.now() - start);
  }
  return { p50: round(quantile(ms, 0.5)), p95: round(quantile(ms, 0.95)) };
}

/** Least-squares slope of log(cost) over log(size): 1 is linear, 2 quadratic. */
function slope(sizes: number[], costs: (number | null)[]): number | null {
  const points = sizes.flatMap((s, i) =>
    costs[i] && costs[i]! > 0 ? [[Math.log(s), Math.log(costs[i]!)]] : [],
  );
  if (points.length < 2) return null;
  const mx = points.reduce((a, p) => a + p[0]!, 0) / points.length;
  const my = points.reduce((a, p) => a + p[1]!, 0) / points.length;
  const num = points.reduce((a, p) => a + (p[0]! - mx) * (p[1]! - my), 0);
  const den = points.reduce((a, p) => a + (p[0]! - mx) ** 2, 0);
  return round(num / den, 3);
}

interface BuildResult {
  seconds: number;
  peakRssMb: number;
  examples: number;
  /** Seconds per phase of the build, in order (raters, prompts, votes, hygiene, files, ...). */
  phases: Record<string, number>;
}

async function runBuild(url: string): Promise<BuildResult | { error: string }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-scale-'));
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        // The heap the API's and the workers' build thread gets (src/datasets/build-thread.ts).
        `--max-old-space-size=${configSchema.parse(process.env).FEEDLOOP_BUILD_HEAP_MB}`,
        '--import',
        'tsx',
        fileURLToPath(new URL('./scale-build.ts', import.meta.url)),
      ],
      {
        env: { ...process.env, DATABASE_URL: url, FEEDLOOP_DATA_DIR: dataDir },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as BuildResult;
  } catch (err) {
    // Out of memory is a finding, not a crash of the benchmark.
    const message = String((err as { stderr?: string }).stderr ?? err)
      .trim()
      .split('\n')
      .slice(-3)
      .join(' / ');
    return { error: message.slice(0, 400) };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Latencies (ms) of single-event writes from 16 concurrent writers through the group-commit writer. */
async function ingestLatencies(db: Database, seconds: number): Promise<number[]> {
  const { rows } = await db.pool.query<{ id: string; owner: string }>(
    `SELECT m.id, c.user_id AS owner FROM messages m JOIN conversations c ON c.id = m.conversation_id
      WHERE m.role = 'assistant' LIMIT 500`,
  );
  const writer = new EventWriter({
    pool: db.pool,
    batchMax: 5000,
    pace: paceFor(Number.POSITIVE_INFINITY, 4),
  });
  const token = Math.random().toString(36).slice(2, 8);
  let counter = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < deadline) {
        const target = rows[counter % rows.length]!;
        counter += 1;
        const start = performance.now();
        await writer.write([
          {
            id: `ingest-${token}-${counter}`,
            type: 'click',
            messageId: target.id,
            userId: target.owner,
            value: null,
            clientTs: new Date().toISOString(),
          },
        ]);
        latencies.push(performance.now() - start);
      }
    }),
  );
  await writer.close();
  return latencies;
}

/**
 * Single-event ingestion p99 on the biggest size and on an empty database, from rounds that
 * alternate between the two (which goes first alternates too), each database's latencies pooled:
 * one 5-second p99 moves by 2x between back-to-back runs on the same database here (3 to 12 ms);
 * each database first gets one uncounted round.
 */
async function ingestComparison(bigUrl: string, emptyUrl: string): Promise<{ big: number; empty: number }> {
  const big = createDatabase(bigUrl, { poolSize: 8 });
  const empty = createDatabase(emptyUrl, { poolSize: 8 });
  try {
    // Warm, uncounted, as the other measures are: the first round after the biggest size's reads
    // and build found its indexes out of the caches (p99 6.3 ms, then 3.1 to 3.9 ms).
    for (const db of [big, empty]) await ingestLatencies(db, INGEST_SECONDS);
    const pooled = { big: [] as number[], empty: [] as number[] };
    for (let r = 0; r < INGEST_ROUNDS; r++) {
      const order = r % 2 === 0 ? (['big', 'empty'] as const) : (['empty', 'big'] as const);
      for (const which of order) {
        const latencies = await ingestLatencies(which === 'big' ? big : empty, INGEST_SECONDS);
        say(`  ingestion round ${r + 1} ${which}: p99 ${round(quantile(latencies, 0.99))} ms`);
        pooled[which].push(...latencies);
      }
    }
    return { big: round(quantile(pooled.big, 0.99)), empty: round(quantile(pooled.empty, 0.99)) };
  } finally {
    await big.close();
    await empty.close();
  }
}

interface SizeResult {
  size: number;
  seeded: Seeded;
  seedSeconds: number;
  build: BuildResult | { error: string };
  insights: {
    volume: { p50: number; p95: number };
    metrics: { p50: number; p95: number };
    /** The same metrics aggregated from raw rows, as before the rollup (for comparison). */
    metricsRaw: { p50: number; p95: number };
    load: { p50: number; p95: number };
  };
  moderation: {
    first: { p50: number; p95: number };
    deep: { p50: number; p95: number };
    both: { p95: number };
    /** One assessment of every rater (what a page costs once after ratings change). */
    raterAssessmentMs: number;
  };
  conversation: { p50: number; p95: number; messages: number };
  /** The seeded database (kept until the end: ingestion is measured on the biggest last). */
  url: string;
  dbGb: number;
  tables: Record<string, string>;
}

async function measureSize(size: number, databases: ScratchDatabase[]): Promise<SizeResult> {
  const plan = planFor(size, MESSAGES_AT_1X);
  say(
    `size ${size}x: ${plan.messages} messages, ${plan.feedback} explicit feedback rows, ${plan.events} events, ${plan.users} users`,
  );
  const kept = KEPT_DATABASES?.[SIZES.indexOf(size)];
  const scratch = kept ? { url: databaseUrl(kept) } : await scratchDatabase(SERVER_URL, `scale${size}x`);
  if ('drop' in scratch) databases.push(scratch);
  const db = createDatabase(scratch.url, { poolSize: 8 });
  try {
    const seedStart = performance.now();
    const seeded = kept ? await seededBefore(db.pool, plan) : await seed(db.pool, plan, say);
    const seedSeconds = kept ? 0 : round((performance.now() - seedStart) / 1000, 1);
    say(kept ? `  seeded earlier: ${kept}` : `  seeded in ${seedSeconds} s`);
    // An earlier build's snapshot would be found by its content hash and its lineage not written.
    if (kept) await db.pool.query('DELETE FROM datasets');

    const build = await runBuild(scratch.url);
    say(
      'error' in build
        ? `  dataset build failed: ${build.error}`
        : `  dataset build: ${round(build.seconds)} s, peak RSS ${round(build.peakRssMb)} MB, ` +
            `${Math.round((plan.feedback + plan.events) / build.seconds)} feedback rows/s, ${build.examples} examples; ` +
            `seconds per phase: ${Object.entries(build.phases)
              .map(([phase, s]) => `${phase} ${s}`)
              .join(', ')}`,
    );

    // The workers fold the rollups' deltas every minute; the seed's COPYs left them unfolded.
    await compactFeedbackRollup(db.pool);
    await compactAnswerMetrics(db.pool);
    const now = new Date();
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    // Whole UTC days, as the dashboard asks.
    const window = { from: new Date(today - 29 * DAY_MS), to: now };
    const volume = await timings(RUNS, () => feedbackVolume(db.pool, window));
    const metrics = await timings(RUNS, () => versionMetrics(db.pool, window));
    const metricsRaw = await timings(SMOKE ? RUNS : 5, () => versionMetricsFromRows(db.pool, window));
    const load = await timings(RUNS, () =>
      Promise.all([feedbackVolume(db.pool, window), versionMetrics(db.pool, window)]),
    );
    say(
      `  insights: volume p50 ${volume.p50} p95 ${volume.p95} ms; metrics (rollup) p50 ${metrics.p50} p95 ${metrics.p95} ms ` +
        `(from raw rows p50 ${metricsRaw.p50} p95 ${metricsRaw.p95} ms); a dashboard load (both at once) p95 ${load.p95} ms`,
    );

    // A page as the route serves it: the items, then each submitter's trust (kept between changes).
    const assessStart = performance.now();
    await currentRaterAssessments(db.prisma);
    const raterAssessmentMs = round(performance.now() - assessStart);
    const filter = { status: 'pending' as const, limit: 50 };
    const moderationPage = async (cursor?: string) => {
      const queue = await listCorrectionsForReview(db.prisma, { ...filter, cursor });
      await submitterTrust(db.prisma, [...new Set(queue.corrections.map((c) => c.submitter.id))]);
      return queue;
    };
    const first = await timings(RUNS, () => moderationPage());
    const { rows: deepRows } = await db.pool.query<{ id: string; created_at: Date }>(
      `SELECT id, created_at AT TIME ZONE 'UTC' AS created_at FROM corrections WHERE status = 'pending' ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`,
      [Math.floor(seeded.counts.corrections! * 0.4 * 0.8)],
    );
    const deepCursor = deepRows[0] ? encodeCursor({ at: deepRows[0].created_at, id: deepRows[0].id }) : null;
    const deep = deepCursor ? await timings(RUNS, () => moderationPage(deepCursor)) : first;
    say(
      `  moderation: rater assessment (once per change of ratings) ${raterAssessmentMs} ms; first page p50 ${first.p50} p95 ${first.p95} ms; ` +
        `deep page by cursor (80% down the pending list) p50 ${deep.p50} p95 ${deep.p95} ms`,
    );

    const openPage = () => getConversationPage(db.prisma, seeded.longConversationId, { limit: 500 });
    const opened = await openPage();
    const conversation = await timings(RUNS, openPage);
    say(
      `  conversation of ${opened?.messages.length} messages: p50 ${conversation.p50} p95 ${conversation.p95} ms`,
    );

    const { rows: sizeRows } = await db.pool.query<{ db: string }>(
      'SELECT pg_database_size(current_database()) AS db',
    );
    const { rows: tableRows } = await db.pool.query<{ name: string; total: string; indexes: string }>(
      `SELECT c.relname AS name, pg_size_pretty(pg_total_relation_size(c.oid)) AS total,
              pg_size_pretty(pg_indexes_size(c.oid)) AS indexes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relispartition = false
        ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 12`,
    );
    // A partitioned parent has no storage of its own: add its partitions.
    const { rows: eventRows } = await db.pool.query<{ total: string; indexes: string }>(
      `SELECT pg_size_pretty(sum(pg_total_relation_size(i.inhrelid))) AS total,
              pg_size_pretty(sum(pg_indexes_size(i.inhrelid))) AS indexes
         FROM pg_inherits i WHERE i.inhparent = 'implicit_events'::regclass`,
    );
    const tables = Object.fromEntries(tableRows.map((r) => [r.name, `${r.total} (indexes ${r.indexes})`]));
    tables.implicit_events = `${eventRows[0]?.total} (indexes ${eventRows[0]?.indexes})`;
    const dbGb = round(Number(sizeRows[0]!.db) / 1024 ** 3, 3);
    say(
      `  database ${dbGb} GB: ${Object.entries(tables)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    return {
      size,
      seeded,
      seedSeconds,
      build,
      insights: { volume, metrics, metricsRaw, load },
      moderation: { first, deep, both: { p95: Math.max(first.p95, deep.p95) }, raterAssessmentMs },
      conversation: { ...conversation, messages: opened?.messages.length ?? 0 },
      url: scratch.url,
      dbGb,
      tables,
    };
  } finally {
    await db.close();
  }
}

function databaseUrl(name: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function main() {
  if (KEPT_DATABASES && KEPT_DATABASES.length !== SIZES.length)
    throw new Error('--database names one kept database per size: give --sizes too, in the same order');
  say(
    `cpu: ${cpuModel()}${SMOKE ? '; SMOKE RUN (tiny sizes): checks the benchmark, the figures are not measurements' : ''}`,
  );
  say(`sizes ${SIZES.join(', ')} x ${MESSAGES_AT_1X} messages`);
  const databases: ScratchDatabase[] = [];
  try {
    const results: SizeResult[] = [];
    for (const size of SIZES) results.push(await measureSize(size, databases));

    // The same writes against an empty, migrated database.
    const empty = await scratchDatabase(SERVER_URL, 'scaleempty');
    databases.push(empty);
    const emptyDb = createDatabase(empty.url, { poolSize: 8 });
    try {
      await seed(emptyDb.pool, { messages: 600, feedback: 0, events: 0, users: 20 }, () => {});
    } finally {
      await emptyDb.close();
    }
    const biggest = results.at(-1)!;
    say(
      `single-event ingestion (16 writers), ${INGEST_ROUNDS} alternating rounds of ${INGEST_SECONDS} s ` +
        `on the ${biggest.size}x database and on an empty one:`,
    );
    const ingest = await ingestComparison(biggest.url, empty.url);
    say(`  p99 pooled: ${ingest.big} ms at ${biggest.size}x, ${ingest.empty} ms empty`);

    const sizes = results.map((r) => r.size);
    const buildS = results.map((r) => ('error' in r.build ? null : round(r.build.seconds)));
    const rss = results.map((r) => ('error' in r.build ? null : round(r.build.peakRssMb, 1)));
    const growth = {
      build_s: slope(sizes, buildS),
      build_peak_rss_mb: slope(sizes, rss),
      insights_p95_ms: slope(
        sizes,
        results.map((r) => r.insights.load.p95),
      ),
      moderation_p95_ms: slope(
        sizes,
        results.map((r) => r.moderation.both.p95),
      ),
      conversation_p95_ms: slope(
        sizes,
        results.map((r) => r.conversation.p95),
      ),
      db_gb: slope(
        sizes,
        results.map((r) => r.dbGb),
      ),
    };
    say(`growth exponents (log-log slope over the sizes; 1 = linear, 0 = flat): ${JSON.stringify(growth)}`);
    say(
      JSON.stringify({
        bench: 'scale',
        ...(SMOKE ? { smoke: true } : {}),
        sizes,
        build_s: buildS,
        build_peak_rss_mb: rss,
        build_slope: growth.build_s,
        insights_p95_ms: results.map((r) => r.insights.load.p95),
        moderation_p95_ms: results.map((r) => r.moderation.both.p95),
        conversation_p95_ms: results.map((r) => r.conversation.p95),
        ingest_p99_ms_empty: ingest.empty,
        ingest_p99_ms_16x: ingest.big,
        db_gb: results.map((r) => r.dbGb),
      }),
    );
  } finally {
    if (!values.keep) for (const d of databases) await d.drop().catch(() => {});
    else say(`kept: ${databases.map((d) => new URL(d.url).pathname.slice(1)).join(', ')}`);
  }
}

await main();
