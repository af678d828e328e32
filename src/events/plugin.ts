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
 * Statements in flight at once. Measured on 2 cores (bench/ingest.ts, 3 rounds each): 2 or 3 gave
 * no more events per second than 1 but cost more CPU per event (smaller statements, more commits
 * and WAL flushes), and a worse p99 for batches. One in flight, everything else queued, is the
 * cheapest here; machines with more cores may do better with 2.
 */
export const EVENT_FLUSH_CONCURRENCY = 1;

export const eventsPlugin = fp(
  async (app) => {
    const writer = new EventWriter({
      pool: app.db.pool,
      batchMax: app.config.FEEDLOOP_EVENT_BATCH_MAX,
      maxConcurrentFlushes: EVENT_FLUSH_CONCURRENCY,
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
