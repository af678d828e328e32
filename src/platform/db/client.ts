// The database handle: one pg pool, shared by Prisma (through @prisma/adapter-pg) and by the few
// hot paths that speak SQL directly (event ingestion). Three timeouts keep a slow or stalled
// Postgres from hanging requests: connecting, the server's statement_timeout (a slow query is
// cancelled by the server, the connection stays usable) and a client-side query timeout for a
// server that does not answer at all (the connection is then closed, never reused).
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/prisma/client.ts';
import type { Config } from '../config.ts';

export type { PrismaClient };
/** A Prisma client or an interactive transaction: repository functions accept either. */
export type Db = PrismaClient | Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

export interface Database {
  prisma: PrismaClient;
  pool: pg.Pool;
  /**
   * Where implicit events are written (src/feedback/events): a pool of their own in the API, so
   * feedback never waits for a connection behind the completions' writes; else `pool`.
   */
  eventPool: pg.Pool;
  close(): Promise<void>;
}

export interface DatabaseTimeouts {
  /** Opening a connection, or waiting for a free one in the pool. */
  connectMs: number;
  /** Postgres cancels a statement running longer than this (statement_timeout). */
  statementMs: number;
  /** A query with no answer after this fails here, and its connection is closed. */
  queryMs: number;
}

export const databaseTimeouts = (config: Config): DatabaseTimeouts => ({
  connectMs: config.FEEDLOOP_DB_CONNECT_TIMEOUT_MS,
  statementMs: config.FEEDLOOP_DB_STATEMENT_TIMEOUT_MS,
  queryMs: config.FEEDLOOP_DB_QUERY_TIMEOUT_MS,
});

const isReadTimeout = (err: unknown) => err instanceof Error && err.message === 'Query read timeout';

/**
 * A pg client that ends its connection when a query times out on the client side. pg answers the
 * caller with "Query read timeout" but keeps waiting for the server on that connection, and a
 * transaction's client goes back to the pool without an error (Prisma releases it plainly): the next
 * borrower would queue behind the stuck query. An ending client is dropped by the pool instead.
 */
class ClosingClient extends pg.Client {}
const baseQuery = pg.Client.prototype.query;
ClosingClient.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const abandon = (err: unknown) => {
    if (isReadTimeout(err)) this.end().catch(() => {});
  };
  const last = args.at(-1);
  if (typeof last === 'function') {
    args[args.length - 1] = (err: unknown, result: unknown) => {
      abandon(err);
      (last as (err: unknown, result: unknown) => void)(err, result);
    };
    return (baseQuery as (...a: unknown[]) => unknown).apply(this, args);
  }
  const result = (baseQuery as (...a: unknown[]) => unknown).apply(this, args);
  if (result instanceof Promise) {
    return result.catch((err: unknown) => {
      abandon(err);
      throw err;
    });
  }
  return result;
} as typeof baseQuery;

function createPool(url: string, max: number, timeouts: DatabaseTimeouts | undefined): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // No JIT compilation: Postgres JIT-compiles any statement whose estimated cost passes
    // jit_above_cost, and feedloop's statements are keyed reads and writes that run in
    // milliseconds. A dataset build's page of prompt contexts at 250k messages spent 149 ms
    // compiling and 36 ms running (EXPLAIN ANALYZE, bench:scale at 4x).
    options: '-c jit=off',
    ...(timeouts
      ? {
          Client: ClosingClient,
          connectionTimeoutMillis: timeouts.connectMs,
          statement_timeout: timeouts.statementMs,
          query_timeout: timeouts.queryMs,
        }
      : {}),
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener that
  // would crash the process. Queries on a dead connection still fail and surface as 503s.
  pool.on('error', () => {});
  return pool;
}

export function createDatabase(
  url: string,
  options: {
    poolSize?: number;
    /** Connections of a separate pool for implicit events; unset: they share `pool`. */
    eventPoolSize?: number;
    timeouts?: DatabaseTimeouts;
  } = {},
): Database {
  const { timeouts } = options;
  const pool = createPool(url, options.poolSize ?? 10, timeouts);
  const eventPool = options.eventPoolSize ? createPool(url, options.eventPoolSize, timeouts) : pool;
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    pool,
    eventPool,
    async close() {
      await prisma.$disconnect();
      await pool.end();
      if (eventPool !== pool) await eventPool.end();
    },
  };
}

/** A transaction client. */
export type Tx = Exclude<Db, PrismaClient>;

/** Runs `fn` in a transaction, or in the caller's transaction when `db` already is one. */
export function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return '$transaction' in db ? db.$transaction((tx) => fn(tx)) : fn(db);
}
