// Queue health for ops (`GET /v1/jobs/queues`) and retrying a failed job.
import { z } from 'zod';

export const failedJobView = z.object({
  id: z.string(),
  name: z.string(),
  failedReason: z.string(),
  attemptsMade: z.number().int(),
  /** Epoch milliseconds. */
  finishedOn: z.number().nullable(),
  data: z.unknown(),
});

export const queueView = z.object({
  name: z.string(),
  /** A paused queue's waiting jobs are counted as paused. */
  counts: z.object({
    waiting: z.number().int(),
    active: z.number().int(),
    completed: z.number().int(),
    failed: z.number().int(),
    delayed: z.number().int(),
    paused: z.number().int(),
  }),
  /** The latest failed jobs, newest first. */
  failed: z.array(failedJobView),
});
export type QueueView = z.output<typeof queueView>;

export const queueHealth = z.object({ queues: z.array(queueView) });

export const retryJobBody = z
  .strictObject({ reason: z.string().trim().min(1).max(2_000).optional() })
  .nullish();
export const retriedView = z.object({ retried: z.literal(true) });
