// The events domain: the group-commit writer as a shared service (app.eventWriter), closed with the
// app after the HTTP server has drained and before the database pool closes, and its routes.
import fp from 'fastify-plugin';
import { EventWriter } from './event-writer.ts';
import { eventRoutes } from './routes.ts';

declare module 'fastify' {
  interface FastifyInstance {
    eventWriter: EventWriter;
  }
}

/**
 * Statements in flight at once (FEEDLOOP_EVENT_FLUSHES, this by default), and the rows that must
 * be queued before another starts beside those in flight.
 *
 * Small statements side by side (single events) only add commits and Postgres CPU per event
 * without more events per second (bench/ingest.ts on 2 cores), so below 100 queued rows the writer
 * waits for the statements in flight. Bigger backlogs (batches) get more statements at once. With
 * 2, a batched run on a 2-core AMD EPYC machine kept Postgres at 0.68 cores: a 300-row statement
 * took about 34 ms of which about 12 ms was Postgres CPU, the rest waiting (the WAL flush, 5 ms
 * at p50 there and 12 ms at p90, the round trip, scheduling), and every request waited for one of
 * the two slots. Four statements in flight keep Postgres busy while others wait, at the price
 * of one extra commit per statement, which Postgres flushes together with the others in flight
 * (group commit). Commits stay synchronous: an event is acknowledged only after its WAL is on disk.
 */
export const EVENT_FLUSH_CONCURRENCY = 4;
export const EVENT_MIN_ROWS_TO_OVERLAP = 100;

export const eventsPlugin = fp(
  async (app) => {
    const writer = new EventWriter({
      pool: app.db.eventPool,
      batchMax: app.config.FEEDLOOP_EVENT_BATCH_MAX,
      maxConcurrentFlushes: app.config.FEEDLOOP_EVENT_FLUSHES,
      minRowsToOverlap: EVENT_MIN_ROWS_TO_OVERLAP,
      onInserted: (byType) => {
        for (const [type, count] of byType) app.metrics.eventsIngested.inc({ type }, count);
      },
      log: app.log,
    });
    app.decorate('eventWriter', writer);
    // onClose hooks run in reverse order of registration: this one runs after Fastify has stopped
    // the server and waited for in-flight requests, and before services closes the pool.
    app.addHook('onClose', () => writer.close());
    await app.register(eventRoutes);
  },
  { name: 'events', dependencies: ['services', 'metrics', 'auth'] },
);
