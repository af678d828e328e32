// How long one commit takes on this database server: one-row writes to commit_probe, each its own
// transaction timed at its COMMIT, with synchronous_commit on (the commit waits for the WAL flush to
// disk, as the event writer's statements do) and off (it does not). The difference is the flush
// (fsync) latency the disk adds to every acknowledged write; pg_test_fsync measures the same thing
// from outside Postgres. (A transaction that wrote no WAL, such as one that only took an xid,
// commits without waiting for the disk: it would time nothing.)
import type pg from 'pg';

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

/** Times `commits` commits (half of them without waiting for the flush) on one pooled connection. */
export async function measureCommitLatency(pool: pg.Pool, commits = 16): Promise<CommitLatency> {
  const client = await pool.connect();
  // A connection lost while this holds it fails the query in flight, which is reported; the
  // client also emits 'error', which with no listener would end the process.
  const ignore = () => {};
  client.on('error', ignore);
  let failed: Error | undefined;
  try {
    const timings: Record<'on' | 'off', number[]> = { on: [], off: [] };
    // Interleaved rounds so a neighbour's burst touches both settings alike.
    for (let round = 0; round < 4; round++) {
      for (const mode of ['on', 'off'] as const) {
        for (let i = 0; i < Math.max(1, Math.floor(commits / 8)); i++) {
          await client.query('BEGIN');
          if (mode === 'off') await client.query('SET LOCAL synchronous_commit = off');
          await client.query(
            'INSERT INTO commit_probe (id, at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET at = excluded.at',
          );
          const start = performance.now();
          await client.query('COMMIT');
          timings[mode].push(performance.now() - start);
        }
      }
    }
    const { rows } = await client.query<{ setting: string }>(
      "SELECT setting FROM pg_settings WHERE name = 'wal_sync_method'",
    );
    const on = timings.on.sort((a, b) => a - b);
    const off = timings.off.sort((a, b) => a - b);
    return {
      syncP50: round(quantile(on, 0.5)),
      syncP90: round(quantile(on, 0.9)),
      asyncP50: round(quantile(off, 0.5)),
      flushP50: round(Math.max(0, quantile(on, 0.5) - quantile(off, 0.5))),
      walSyncMethod: rows[0]?.setting ?? 'unknown',
    };
  } catch (err) {
    failed = err instanceof Error ? err : new Error(String(err));
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    // A client that failed is closed, not pooled again, and keeps the listener for what it may still
    // emit; a healthy one goes back without it.
    if (!failed) client.off('error', ignore);
    client.release(failed);
  }
}
