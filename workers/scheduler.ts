// Queue loop-scheduler: cron ticks and feedback-threshold checks that start runs.
import { schedulerTickJob } from '../src/jobs/scheduler-tick.ts';
import { createWorker, type WorkerSettings } from '../src/jobs/worker.ts';
import type { LoopContext } from '../src/loop/context.ts';
import { schedulerTick } from '../src/loop/scheduler.ts';

export const schedulerWorker = (ctx: LoopContext, settings: WorkerSettings) =>
  createWorker(schedulerTickJob, settings, async (payload) => {
    const result = await schedulerTick(ctx, payload);
    return result.started ? { started: result.started.id } : { started: null, why: result.why };
  });
