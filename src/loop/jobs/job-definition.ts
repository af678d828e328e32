// What every job in the catalog declares: its queue, its name, its zod payload, how its jobId is
// derived (so enqueueing the same work twice is a no-op) and its retry and retention options.
import type { JobsOptions } from 'bullmq';
import type { z } from 'zod';

export interface JobOptionsContext {
  /** First retry delay in ms; later ones double (FEEDLOOP_JOB_BACKOFF_MS). */
  backoffMs: number;
}

export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  queue: string;
  name: string;
  payload: S;
  /** Deduplication key: BullMQ ignores an add whose jobId already exists in the queue. */
  jobId(payload: z.infer<S>): string;
  options(context: JobOptionsContext): JobsOptions;
}

export function defineJob<S extends z.ZodType>(definition: JobDefinition<S>): JobDefinition<S> {
  return definition;
}

/**
 * Options shared by the loop's stage jobs: a few attempts with exponential backoff, and bounded
 * history so Redis does not grow forever (enough of it stays for the deduplication by jobId and
 * for the ops page's failed list).
 */
export function stageJobOptions(attempts: number, { backoffMs }: JobOptionsContext): JobsOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: backoffMs },
    removeOnComplete: { count: 1000, age: 30 * 24 * 3600 },
    removeOnFail: { count: 1000, age: 30 * 24 * 3600 },
  };
}

/** The jobId of a loop stage: `run-<runId>-<stage>` (BullMQ reserves ":" in custom ids). */
export const runJobId = (runId: string, stage: string) => `run-${runId}-${stage}`;
