// What loop code running in a worker needs: config, database, queues to enqueue the next stage,
// the live-event publisher, the dataset build thread and a logger.
import type { Logger } from 'pino';
import type { Config } from '../platform/config.ts';
import type { PrismaClient } from '../platform/db/client.ts';
import type { Queues } from './jobs/queues.ts';
import type { LoopEventPublisher } from './events.ts';
import type { BuildRunner } from '../datasets/build-thread.ts';

export interface LoopContext {
  config: Config;
  prisma: PrismaClient;
  queues: Queues;
  events: LoopEventPublisher;
  /** Runs dataset builds in a thread with a capped heap (../datasets/build-thread.ts). */
  datasetBuilds: BuildRunner;
  log: Logger;
}
