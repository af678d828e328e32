// The scheduler's tick: on the cron, start a run; on the frequent feedback check, start a run when
// enough newly approved feedback arrived since the last run was created. Never while paused, and
// never while a run is queued or running (that run will see the feedback; the next check after it
// finishes counts what arrived since it was created).
import type { LoopRun } from '../../generated/prisma/client.ts';
import type { SchedulerTickPayload } from './scheduler-tick.job.ts';
import type { LoopContext } from '../context.ts';
import { startRun } from '../pipeline.ts';
import { createRun, RunInProgressError } from '../runs.ts';
import { countNewFeedback } from '../new-feedback.ts';
import { getSchedule, scheduleDefaults } from '../schedule.ts';
import { runView } from '../views.ts';

export type TickResult =
  | { started: LoopRun }
  | {
      started: null;
      why: 'paused' | 'run_in_progress' | 'below_threshold';
      /** The new items; before rater trust when even that is below the threshold (countNewFeedback). */
      newFeedback?: number;
    };

export async function schedulerTick(
  ctx: LoopContext,
  { trigger }: SchedulerTickPayload,
): Promise<TickResult> {
  const defaults = scheduleDefaults(ctx.config);
  const schedule = await getSchedule(ctx.prisma, defaults);
  if (!schedule.enabled) return { started: null, why: 'paused' };
  let reason: string;
  if (trigger === 'feedback') {
    const newFeedback = await countNewFeedback(ctx.prisma, schedule, { below: schedule.feedbackThreshold });
    if (newFeedback < schedule.feedbackThreshold)
      return { started: null, why: 'below_threshold', newFeedback };
    reason = `${newFeedback} new feedback items reached the threshold of ${schedule.feedbackThreshold}`;
  } else {
    reason = `scheduled (${schedule.cron})`;
  }
  let run: LoopRun;
  try {
    run = await createRun(ctx.prisma, defaults, { trigger, reason, actorId: null });
  } catch (err) {
    if (err instanceof RunInProgressError || (err as { code?: string }).code === 'conflict')
      return { started: null, why: 'run_in_progress' };
    throw err;
  }
  await startRun(ctx, run);
  await ctx.events.publish({ type: 'run', run: runView(run) });
  ctx.log.info({ runId: run.id, trigger, reason }, 'scheduler started a run');
  return { started: run };
}
