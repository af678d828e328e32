// The raw ceiling for bench/ingest.ts: how many implicit-event rows per second Postgres takes
// through the writer's own unnest INSERT over plain pg connections, with big batches and no HTTP.
// Tries a few connection counts and reports the best.
import pg from 'pg';
import { insertEventsQuery, type EventRow } from '../src/feedback/events/event-writer.ts';
import { IMPLICIT_EVENT_TYPES } from '../src/contract/events.ts';

export interface CeilingOptions {
  url: string;
  userId: string;
  messageIds: string[];
  seconds: number;
  batchSize?: number;
  connectionCounts?: number[];
  log(line: string): void;
}

export interface Ceiling {
  rowsPerSecond: number;
  connections: number;
  batchSize: number;
}

async function insertFor(options: CeilingOptions, connections: number, batchSize: number, seconds: number) {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: options.url });
      await client.connect();
      return client;
    }),
  );
  const token = Math.random().toString(36).slice(2, 8);
  let counter = 0;
  const makeRows = (): EventRow[] => {
    const clientTs = new Date().toISOString();
    return Array.from({ length: batchSize }, () => {
      counter += 1;
      return {
        id: `ceiling-${token}-${counter}`,
        type: IMPLICIT_EVENT_TYPES[counter % IMPLICIT_EVENT_TYPES.length]!,
        messageId: options.messageIds[counter % options.messageIds.length]!,
        userId: options.userId,
        value: counter % 1000,
        clientTs,
      };
    });
  };
  try {
    const start = performance.now();
    const deadline = start + seconds * 1000;
    const inserted = await Promise.all(
      clients.map(async (client) => {
        let rows = 0;
        while (performance.now() < deadline) {
          rows += (await client.query(insertEventsQuery(makeRows()))).rowCount ?? 0;
        }
        return rows;
      }),
    );
    const total = inserted.reduce((a, b) => a + b, 0);
    return total / ((performance.now() - start) / 1000);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** Rows per second at `connections` x `batchSize`-row statements, into an emptied table. */
async function ceilingAt(options: CeilingOptions, connections: number, batchSize: number): Promise<number> {
  const admin = new pg.Client({ connectionString: options.url });
  await admin.connect();
  try {
    await admin.query('TRUNCATE implicit_events');
  } finally {
    await admin.end();
  }
  return insertFor(options, connections, batchSize, options.seconds);
}

export async function measureDatabaseCeiling(options: CeilingOptions): Promise<Ceiling> {
  const batchSize = options.batchSize ?? 5000;
  await insertFor(options, 2, batchSize, 2); // warm up: caches, WAL, JIT
  let best: Ceiling = { rowsPerSecond: 0, connections: 0, batchSize };
  for (const connections of options.connectionCounts ?? [1, 2, 3, 4]) {
    const rowsPerSecond = await ceilingAt(options, connections, batchSize);
    options.log(`  ceiling with ${connections} connection(s): ${Math.round(rowsPerSecond)} rows/s`);
    if (rowsPerSecond > best.rowsPerSecond) best = { rowsPerSecond, connections, batchSize };
  }
  return best;
}

/**
 * The ceiling again at one connection count (the best one found), on an emptied table: measured
 * before and after each of the API's rounds, their mean cancels a machine that drifts meanwhile.
 */
export async function remeasureCeiling(options: CeilingOptions, ceiling: Ceiling): Promise<Ceiling> {
  return { ...ceiling, rowsPerSecond: await ceilingAt(options, ceiling.connections, ceiling.batchSize) };
}
