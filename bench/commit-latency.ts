// How long one commit takes on this database server: single-row INSERTs, each its own transaction,
// with synchronous_commit on (the commit waits for the WAL flush to disk, as the event writer's
// statements do) and off (it does not). The difference is the flush (fsync) latency the disk adds
// to every acknowledged write; pg_test_fsync measures the same thing from outside Postgres.
import { cpus } from 'node:os';
import pg from 'pg';

export interface CommitLatency {
  /** Milliseconds per commit with synchronous_commit on: p50 and p90. */
  syncP50: number;
  syncP90: number;
  /** The same with synchronous_commit off (no wait for the flush). */
  asyncP50: number;
  /** syncP50 - asyncP50: what waiting for the disk adds. */
  flushP50: number;
  walSyncMethod: string;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (ms: number) => Math.round(ms * 1000) / 1000;

export async function measureCommitLatency(url: string, commits = 200): Promise<CommitLatency> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS bench_commit_probe (id bigserial PRIMARY KEY, at timestamptz)',
    );
    const timings: Record<'on' | 'off', number[]> = { on: [], off: [] };
    // Interleaved rounds so a neighbour's burst touches both settings alike.
    for (let round = 0; round < 4; round++) {
      for (const mode of ['on', 'off'] as const) {
        await client.query(`SET synchronous_commit = ${mode}`);
        for (let i = 0; i < commits / 4; i++) {
          const start = performance.now();
          await client.query('INSERT INTO bench_commit_probe (at) VALUES (now())');
          timings[mode].push(performance.now() - start);
        }
      }
    }
    await client.query('RESET synchronous_commit');
    await client.query('DROP TABLE bench_commit_probe');
    const { rows } = await client.query<{ setting: string }>(
      "SELECT setting FROM pg_settings WHERE name = 'wal_sync_method'",
    );
    const on = timings.on.sort((a, b) => a - b);
    const off = timings.off.sort((a, b) => a - b);
    return {
      syncP50: round(quantile(on, 0.5)),
      syncP90: round(quantile(on, 0.9)),
      asyncP50: round(quantile(off, 0.5)),
      flushP50: round(quantile(on, 0.5) - quantile(off, 0.5)),
      walSyncMethod: rows[0]?.setting ?? 'unknown',
    };
  } finally {
    await client.end();
  }
}

/** The CPU model and core count, as the benchmarks print them. */
export function cpuModel(): string {
  const list = cpus();
  return `${list[0]?.model.trim() ?? 'unknown'} x ${list.length}`;
}
