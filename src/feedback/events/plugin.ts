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
 * Statements in flight at once, and the rows that must be queued before a second one starts
 * beside the first. Measured with bench/ingest.ts on 2 cores: small statements side by side
 * (single events) only add commits and Postgres CPU per event without more events per second,
 * so below 100 queued rows the writer waits for the statement in flight; bigger backlogs (batches)
 * get a second statement so Postgres can work on one while the other waits for its WAL flush.
 */
export const EVENT_FLUSH_CONCURRENCY = 2;
export const EVENT_MIN_ROWS_TO_OVERLAP = 100;

export const eventsPlugin = fp(
  async (app) => {
    const writer = new EventWriter({
      pool: app.db.pool,
      batchMax: app.config.FEEDLOOP_EVENT_BATCH_MAX,
      maxConcurrentFlushes: EVENT_FLUSH_CONCURRENCY,
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
