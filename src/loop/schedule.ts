// The loop's schedule: one row holding whether it runs, its cron, the feedback threshold and the
// training overrides every run starts from. The environment seeds the row the first time it is
// read; after that the API changes it (audited) and the BullMQ job schedulers follow it.
import type { Config } from '../platform/config.ts';
import type { Db } from '../platform/db/client.ts';
import type { LoopSchedule, Prisma } from '../generated/prisma/client.ts';
import { recordAudit } from '../platform/audit/audit-log.ts';
import { AppError } from '../platform/errors/app-error.ts';
import { isUnavailableError } from '../platform/errors/unavailable.ts';
import {
  CRON_SCHEDULER_ID,
  FEEDBACK_CHECK_SCHEDULER_ID,
  schedulerTickJob,
} from './jobs/scheduler-tick.job.ts';
import type { Queues } from './jobs/queues.ts';

export interface ScheduleDefaults {
  cron: string;
  feedbackThreshold: number;
}

export const scheduleDefaults = (config: Config): ScheduleDefaults => ({
  cron: config.FEEDLOOP_LOOP_CRON,
  feedbackThreshold: config.FEEDLOOP_LOOP_FEEDBACK_THRESHOLD,
});

/** The schedule row, created from `defaults` when there is none yet. */
export async function getSchedule(db: Db, defaults: ScheduleDefaults): Promise<LoopSchedule> {
  const row = await db.loopSchedule.findUnique({ where: { id: 1 } });
  if (row) return row;
  await db.loopSchedule.createMany({ data: [{ id: 1, ...defaults }], skipDuplicates: true });
  return db.loopSchedule.findUniqueOrThrow({ where: { id: 1 } });
}

export interface SchedulePatch {
  enabled?: boolean;
  cron?: string;
  feedbackThreshold?: number;
  training?: Record<string, unknown>;
  datasets?: Record<string, unknown>;
}

/** Changes the schedule; audited as `action` with the fields that changed. */
export async function updateSchedule(
  db: Db,
  defaults: ScheduleDefaults,
  input: { patch: SchedulePatch; actorId: string; action: string; reason?: string },
): Promise<LoopSchedule> {
  const before = await getSchedule(db, defaults);
  const { training, datasets, ...rest } = input.patch;
  const updated = await db.loopSchedule.update({
    where: { id: 1 },
    data: {
      ...rest,
      ...(training !== undefined ? { training: training as Prisma.InputJsonObject } : {}),
      ...(datasets !== undefined ? { datasets: datasets as Prisma.InputJsonObject } : {}),
      updatedById: input.actorId,
    },
  });
  const changed = Object.fromEntries(
    Object.keys(input.patch).map((k) => [
      k,
      { from: before[k as keyof SchedulePatch] ?? null, to: updated[k as keyof SchedulePatch] ?? null },
    ]),
  );
  await recordAudit(db, {
    actorId: input.actorId,
    action: input.action,
    target: 'loop_schedule',
    details: { changed, reason: input.reason ?? null } as Prisma.InputJsonObject,
  });
  return updated;
}

/**
 * Makes the BullMQ job schedulers match the row: while enabled, a tick on the cron and a feedback
 * check every `checkMs`; while paused, neither (the tick also re-reads `enabled`, so a tick already
 * queued when the schedule was paused does nothing). A cron BullMQ cannot parse is a 400.
 */
export async function syncSchedulers(queues: Queues, schedule: LoopSchedule, checkMs: number): Promise<void> {
  const queue = queues.get(schedulerTickJob.queue);
  if (!schedule.enabled) {
    await queue.removeJobScheduler(CRON_SCHEDULER_ID);
    await queue.removeJobScheduler(FEEDBACK_CHECK_SCHEDULER_ID);
    return;
  }
  const opts = schedulerTickJob.options({ backoffMs: 0 });
  try {
    await queue.upsertJobScheduler(
      CRON_SCHEDULER_ID,
      { pattern: schedule.cron, tz: 'UTC' },
      { name: schedulerTickJob.name, data: { trigger: 'cron' }, opts },
    );
  } catch (err) {
    // BullMQ parses the pattern here; anything but an unreachable Redis is the pattern's fault.
    const message = (err as Error).message;
    if (!isUnavailableError(err)) {
      throw new AppError('validation_failed', `Invalid body.cron: ${message}`, [
        { path: 'body.cron', message },
      ]);
    }
    throw err;
  }
  await queue.upsertJobScheduler(
    FEEDBACK_CHECK_SCHEDULER_ID,
    { every: checkMs },
    { name: schedulerTickJob.name, data: { trigger: 'feedback' }, opts },
  );
}

/** When the cron fires next (null while paused or before the workers or API registered it). */
export async function nextCronRun(queues: Queues): Promise<Date | null> {
  const scheduler = await queues.get(schedulerTickJob.queue).getJobScheduler(CRON_SCHEDULER_ID);
  return scheduler?.next ? new Date(scheduler.next) : null;
}
