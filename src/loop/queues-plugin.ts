// The job queues the API enqueues into and the live loop-event hub, attached to the app. The
// queues' Redis connection has no offline queue: while Redis is down, enqueueing fails fast and the
// request gets a 503.
import fp from 'fastify-plugin';
import { createHttpQueueRedis, Queues } from './jobs/queues.ts';
import { LoopEventHub } from './events.ts';

declare module 'fastify' {
  interface FastifyInstance {
    queues: Queues;
    loopEvents: LoopEventHub;
  }
}

const READY_WAIT_MS = 2000;

export const queuesPlugin = fp(
  async (app) => {
    const connection = createHttpQueueRedis(app.config.REDIS_URL);
    const queues = Queues.fromConfig(app.config, connection);
    const hub = new LoopEventHub(connection, app.config.FEEDLOOP_QUEUE_PREFIX);
    app.decorate('queues', queues);
    app.decorate('loopEvents', hub);
    // Give the connection a moment so the first request does not race it; the API still starts
    // (and answers 503 on queue routes) when Redis is down.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, READY_WAIT_MS);
      connection.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    app.addHook('onClose', async () => {
      await hub.close();
      await queues.close();
      connection.disconnect();
    });
  },
  { name: 'queues', dependencies: ['services'] },
);
