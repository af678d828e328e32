// Turns a catalog job and a handler into a BullMQ Worker: the payload is validated again before
// anything runs (a bad one fails at once, without retries), locks and stalled checks come from the
// config, and a job interrupted by shutdown goes back to the queue without using up an attempt.
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { Config } from '../../platform/config.ts';
import type { JobDefinition } from './job-definition.ts';

/** Why a job's work is aborted when its lock vanished from Redis (see start-workers.ts). */
export const LOCK_LOST = 'lock-lost';

export interface WorkerSettings {
  connection: Redis;
  prefix: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** Aborted when the process is shutting down. */
  shutdown: AbortSignal;
}

export const workerSettings = (config: Config, connection: Redis, shutdown: AbortSignal): WorkerSettings => ({
  connection,
  prefix: config.FEEDLOOP_QUEUE_PREFIX,
  lockDurationMs: config.FEEDLOOP_WORKER_LOCK_MS,
  stalledIntervalMs: config.FEEDLOOP_WORKER_STALLED_MS,
  shutdown,
});

export interface JobRun {
  job: Job;
  token?: string;
  /** Aborted on shutdown (or when the job is cancelled through BullMQ). */
  signal?: AbortSignal;
}

export function createWorker<S extends z.ZodType>(
  definition: JobDefinition<S>,
  settings: WorkerSettings,
  handle: (payload: z.infer<S>, run: JobRun) => Promise<unknown>,
): Worker {
  const worker = new Worker(
    definition.queue,
    async (job, token, signal) => {
      const parsed = definition.payload.safeParse(job.data);
      if (!parsed.success) {
        throw new UnrecoverableError(`invalid ${definition.name} payload: ${parsed.error.message}`);
      }
      try {
        return await handle(parsed.data, { job, token, signal });
      } catch (err) {
        if (settings.shutdown.aborted && signal?.aborted) {
          // Interrupted by shutdown: the work left a checkpoint; the next worker continues it.
          await job.moveToWait(token);
          throw new WaitingError();
        }
        throw err;
      }
    },
    {
      connection: settings.connection,
      prefix: settings.prefix,
      concurrency: 1,
      lockDuration: settings.lockDurationMs,
      stalledInterval: settings.stalledIntervalMs,
      // A job whose worker died is put back twice before it counts as failed.
      maxStalledCount: 2,
    },
  );
  return worker;
}
