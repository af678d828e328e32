// The events domain: the group-commit writer as a shared service (app.eventWriter), closed with the
// app after the HTTP server has drained and before the database pool closes, and its routes.
import fp from 'fastify-plugin';
import { EventWriter, type WriterPace } from './event-writer.ts';
import { measureCommitLatency } from '../../platform/db/commit-latency.ts';
import { eventRoutes } from './routes.ts';

declare module 'fastify' {
  interface FastifyInstance {
    eventWriter: EventWriter;
  }
}

/**
 * How many group-commit statements go at once, from what a commit costs on this database server.
 *
 * A statement beside another one in flight hides the other's wait for the WAL flush, and costs a
 * commit, fixed executor work and contention on the same index pages. Which wins depends on the
 * disk, so the writer measures a commit when the app starts (measureCommitLatency: 16 one-row
 * writes, half of them without waiting for the flush) and picks:
 *
 * - The flush takes under 1 ms: one statement at a time (pure group commit: each statement takes
 *   everything queued while the one before ran). With nothing to hide, statements side by side
 *   bring no more events per second and make each dearer: bench:ingest on a 2-core AMD EPYC
 *   (flush 0.3 ms), batched phase: batched / ceiling 0.39 to 0.58 over five runs at 1 in flight
 *   (Postgres 23.5 to 34.3 us an event), 0.40 to 0.60 over nine runs at up to 2 (the second once
 *   400 rows are queued; 28.1 to 36.1 us), 0.396 at 4 (another at 100 rows), 0.327 at 8. The
 *   spread is the shared host: the same setting's Postgres CPU per event varies by a third.
 * - The flush takes 1 ms or more: up to FEEDLOOP_EVENT_FLUSHES statements, another once 100 rows
 *   are queued, so Postgres works on some while others wait for the disk. The same machine with
 *   every flush 6.5 ms longer (commit_delay = 5000): 26.7k batched events/s at 4 and 100 rows,
 *   21.4k at 2 and 400, 20.2k at 4 and 400. On the AMD EPYC of issue 17 (flush 5 to 7 ms) 2 in
 *   flight left Postgres waiting: 17.4k events/s at 0.68 cores.
 *
 * Either way, a lone request is written at once, and below the threshold single events wait for
 * the statements in flight: small statements side by side add commits without more events per
 * second. Commits stay synchronous: an event is acknowledged only after its WAL is on disk.
 */
export const SLOW_FLUSH_MS = 1;

export function paceFor(flushMs: number, maxFlushes: number): WriterPace {
  return flushMs >= SLOW_FLUSH_MS
    ? { maxConcurrentFlushes: maxFlushes, minRowsToOverlap: 100 }
    : { maxConcurrentFlushes: 1, minRowsToOverlap: 0 };
}

export const eventsPlugin = fp(
  async (app) => {
    const maxFlushes = app.config.FEEDLOOP_EVENT_FLUSHES;
    const writer = new EventWriter({
      pool: app.db.eventPool,
      batchMax: app.config.FEEDLOOP_EVENT_BATCH_MAX,
      // Until the probe answers (a few to a hundred milliseconds after start).
      pace: paceFor(Number.POSITIVE_INFINITY, maxFlushes),
      onInserted: (byType) => {
        for (const [type, count] of byType) app.metrics.eventsIngested.inc({ type }, count);
      },
      log: app.log,
    });
    app.decorate('eventWriter', writer);
    // Timed once the app is ready (the pool is up), without holding up the start.
    app.addHook('onReady', async () => {
      writer.paceWhen(
        measureCommitLatency(app.db.pool).then(
          (latency) => {
            const pace = paceFor(latency.flushP50, maxFlushes);
            app.log.info(
              { commitMs: latency.syncP50, flushMs: latency.flushP50, ...pace },
              'event writer: a commit waits %s ms for the WAL flush; up to %d statements in flight',
              latency.flushP50,
              pace.maxConcurrentFlushes,
            );
            return pace;
          },
          (err: unknown) => {
            app.log.warn({ err }, 'event writer: could not time a commit; its pace stays as it was');
            throw err;
          },
        ),
      );
    });
    // onClose hooks run in reverse order of registration: this one runs after Fastify has stopped
    // the server and waited for in-flight requests, and before services closes the pool.
    app.addHook('onClose', () => writer.close());
    await app.register(eventRoutes);
  },
  { name: 'events', dependencies: ['services', 'metrics', 'auth'] },
);
