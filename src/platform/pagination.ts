// Keyset pagination with opaque cursors: a page ends with `nextCursor`, the position of its last item
// (its sort time and id, base64url-encoded), and the next page starts strictly after it. Each page
// is one index range scan however deep it is, unlike OFFSET, and a cursor never names a row that
// must still exist.
import { AppError } from './errors/app-error.ts';

/** The position of an item in a list ordered by (time, id). */
export interface Keyset {
  at: Date;
  id: string;
}

/** A row id: a UUID, or a bigint's digits (log lines). */
const ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9]{1,19})$/i;

export const encodeCursor = (key: Keyset): string =>
  Buffer.from(JSON.stringify([key.at.toISOString(), key.id])).toString('base64url');

export const badCursor = (path = 'querystring.cursor') =>
  new AppError('validation_failed', `Invalid ${path}: must be the nextCursor of a previous page`, [
    { path, message: 'must be the nextCursor of a previous page' },
  ]);

/** The position a cursor names; a 400 naming `path` when it is not one this API gave out. */
export function decodeCursor(cursor: string, path = 'querystring.cursor'): Keyset {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor(path);
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw badCursor(path);
  const [at, id] = parsed as unknown[];
  if (typeof at !== 'string' || typeof id !== 'string' || !ID.test(id)) throw badCursor(path);
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) throw badCursor(path);
  return { at: date, id };
}

type AfterKeyset<F extends string> = { OR: Array<Record<string, unknown>> } & Record<
  F,
  { lte: Date } | { gte: Date }
>;

/**
 * Prisma's condition for the items after `key` in (field, id) order: descending (newest first) or
 * ascending. The OR alone is only a filter to Postgres, which then reads the index from the first
 * item and drops every row before the cursor; the bound on `field` beside it is what starts the
 * index scan at the cursor. EXPLAIN (ANALYZE, BUFFERS), moderation's pending corrections 80% down
 * (6,000 pending, index (status, created_at)): without the bound "Rows Removed by Filter: 4801",
 * 4,704 buffers; with it "Index Cond: ((status = 'pending') AND (created_at <= ...))", 63 buffers.
 */
export function afterKeyset<F extends string>(
  key: Keyset,
  field: F,
  direction: 'asc' | 'desc' = 'desc',
): AfterKeyset<F> {
  const beyond = direction === 'desc' ? 'lt' : 'gt';
  const from = direction === 'desc' ? 'lte' : 'gte';
  return {
    [field]: { [from]: key.at },
    OR: [{ [field]: { [beyond]: key.at } }, { [field]: key.at, id: { [beyond]: key.id } }],
  } as AfterKeyset<F>;
}

/** Splits `limit + 1` fetched rows into the page and the cursor of the next one (null on the last page). */
export function pageOf<T>(
  rows: T[],
  limit: number,
  keyOf: (row: T) => Keyset,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(keyOf(last)) : null };
}
