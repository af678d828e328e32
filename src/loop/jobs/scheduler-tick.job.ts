// The scheduler's job: BullMQ job schedulers add one on the configured cron ("start a run now") and
// one every FEEDLOOP_LOOP_CHECK_MS ("start a run if enough new feedback arrived"). Either does
// nothing while the schedule is paused or a run is in progress.
import { z } from 'zod';
import { defineJob } from './job-definition.ts';

export const SCHEDULER_QUEUE = 'loop-scheduler';
/** Job scheduler ids (one each; upserting replaces the pattern). */
export const CRON_SCHEDULER_ID = 'loop-cron';
export const FEEDBACK_CHECK_SCHEDULER_ID = 'loop-feedback-check';

export const schedulerTickPayload = z.strictObject({ trigger: z.enum(['cron', 'feedback']) });
export type SchedulerTickPayload = z.infer<typeof schedulerTickPayload>;

export const schedulerTickJob = defineJob({
  queue: SCHEDULER_QUEUE,
  name: 'tick',
  payload: schedulerTickPayload,
  // Ticks come from job schedulers, which make their own ids; a manual tick gets a fresh one.
  jobId: ({ trigger }) => `tick-${trigger}-${Date.now()}`,
  // A missed tick is not retried: the next one comes soon and sees the same state.
  options: () => ({ attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 500 } }),
});
