// What loop code running in a worker needs: config, database, queues to enqueue the next stage,
// the live-event publisher and a logger.
import type { Logger } from 'pino';
import type { Config } from '../platform/config.ts';
import type { PrismaClient } from '../platform/db/client.ts';
import type { Queues } from './jobs/queues.ts';
import type { LoopEventPublisher } from './events.ts';

export interface LoopContext {
  config: Config;
  prisma: PrismaClient;
  queues: Queues;
  events: LoopEventPublisher;
  log: Logger;
}
