// The monthly partitions of implicit_events (see prisma/migrations/*_implicit_events_partitioned):
// created ahead of time so no event waits for one, and dropped whole once they are older than the
// retention (FEEDLOOP_EVENT_RETENTION_MONTHS), which frees their space at once, without a DELETE.
import type pg from 'pg';

const PARTITION_NAME = /^implicit_events_y(\d{4})m(\d{2})$/;

export interface EventPartition {
  name: string;
  /** First day of the month it holds (UTC). */
  month: Date;
}

const monthStart = (date: Date, offset = 0) =>
  new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + offset, 1));
const isoDay = (date: Date) => date.toISOString().slice(0, 10);

/** The monthly partitions that exist, oldest first (the default partition is not listed). */
export async function listEventPartitions(pool: pg.Pool): Promise<EventPartition[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'implicit_events'::regclass`,
  );
  return rows
    .flatMap(({ name }) => {
      const match = PARTITION_NAME.exec(name);
      return match ? [{ name, month: new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1)) }] : [];
    })
    .sort((a, b) => a.month.getTime() - b.month.getTime());
}

/** Makes sure the partition of every month from `from` to `to` (inclusive) exists. */
export async function ensureEventPartitions(pool: pg.Pool, from: Date, to: Date): Promise<void> {
  for (let month = monthStart(from); month <= to; month = monthStart(month, 1)) {
    await pool.query('SELECT feedloop_ensure_event_partition($1::date)', [isoDay(month)]);
  }
}

export interface PartitionMaintenance {
  created: string[];
  dropped: string[];
}

/**
 * This month and the next `monthsAhead` get their partitions; with `retentionMonths` N, partitions
 * of months before the N whole months preceding this one are dropped (N = 1 in December keeps
 * November and December).
 */
export async function maintainEventPartitions(
  pool: pg.Pool,
  options: { retentionMonths?: number; monthsAhead?: number; now?: Date } = {},
): Promise<PartitionMaintenance> {
  const now = options.now ?? new Date();
  const before = new Set((await listEventPartitions(pool)).map((p) => p.name));
  await ensureEventPartitions(pool, monthStart(now), monthStart(now, options.monthsAhead ?? 2));
  const partitions = await listEventPartitions(pool);
  const created = partitions.filter((p) => !before.has(p.name)).map((p) => p.name);
  const dropped: string[] = [];
  if (options.retentionMonths !== undefined) {
    const keepFrom = monthStart(now, -options.retentionMonths);
    for (const partition of partitions) {
      if (partition.month >= keepFrom) continue;
      // The name comes from pg_class and matched PARTITION_NAME: safe to quote as an identifier.
      await pool.query(`DROP TABLE IF EXISTS "${partition.name}"`);
      dropped.push(partition.name);
    }
  }
  return { created, dropped };
}
