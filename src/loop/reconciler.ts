// Keeps the database's runs and Redis's jobs in step after Redis lost data (a restart without
// persistence, a failover to an empty replica, a flush). The database is the record: a run that is
// queued or running must have a job that will move it on. The reconciler runs in every worker
// process, on start, every FEEDLOOP_LOOP_RECONCILE_MS and whenever the Redis connection comes back:
// - a run whose current stage job (and the next stage's) is gone from Redis is put back: the stage
//   is enqueued again under its derived jobId (stages are idempotent, training resumes from its
//   checkpoint). A job is only taken for gone after it was missing for a whole worker lock duration,
//   the time after which BullMQ too would take a silent worker for dead; a worker still running the
//   stage stops when it finds its lock gone (start-workers.ts). After MAX_RECOVERIES the run fails
//   with a reason saying so, rather than going round forever;
// - a run whose stage failed for good in Redis while the database did not hear of it fails with
//   that stage's error;
// - while the schedule is enabled, the two BullMQ job schedulers exist (they live only in Redis).
import type { Job } from 'bullmq';
import type { LoopRun, LoopRunPhase } from '../generated/prisma/client.ts';
import { isUnavailableError } from '../platform/errors/unavailable.ts';
import { RUN_STAGES } from './jobs/catalog.ts';
import type { JobDefinition } from './jobs/job-definition.ts';
import { runJobId } from './jobs/job-definition.ts';
import {
  CRON_SCHEDULER_ID,
  FEEDBACK_CHECK_SCHEDULER_ID,
  schedulerTickJob,
} from './jobs/scheduler-tick.job.ts';
import type { LoopContext } from './context.ts';
import { firstStage, log, stageIndex } from './pipeline.ts';
import { IN_PROGRESS } from './runs.ts';
import { getSchedule, scheduleDefaults, syncSchedulers } from './schedule.ts';
import { runView } from './views.ts';

/** Times one run's lost jobs are put back before the run fails instead. */
export const MAX_RECOVERIES = 3;

/** Log lines the reconciler writes on a run start with this (and are counted by it). */
export const RECOVERY_LOG_PREFIX = 'reconciler:';

/** The stage a run in `phase` is at (its job runs or waits), in RUN_STAGES order. */
const STAGE_OF_PHASE: Partial<Record<LoopRunPhase, number>> = {
  queued: 0,
  datasets: 0,
  training: 1,
  evaluating: 2,
  reporting: 3,
  gating: 4,
};

const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

export type RunCheck =
  | { runId: string; action: 'ok' }
  /** Missing, but not yet for long enough. */
  | { runId: string; action: 'watching'; stage: string }
  | { runId: string; action: 'requeued'; stage: string }
  | { runId: string; action: 'failed'; reason: string };

export interface ReconcileResult {
  runs: RunCheck[];
  /** The schedulers were missing and were created again. */
  schedulersRestored: boolean;
}

export interface ReconcilerOptions {
  /** How long a run's jobs must be missing before they count as lost (the worker lock duration). */
  graceMs: number;
  now?: () => number;
}

export class Reconciler {
  /** When each run's jobs were first seen missing. */
  private readonly missingSince = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly ctx: LoopContext,
    private readonly options: ReconcilerOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** One pass over every queued or running run and the schedulers. */
  async reconcile(): Promise<ReconcileResult> {
    const runs = await this.ctx.prisma.loopRun.findMany({
      where: { status: { in: [...IN_PROGRESS] } },
      orderBy: { createdAt: 'asc' },
    });
    const checks: RunCheck[] = [];
    for (const run of runs) checks.push(await this.checkRun(run));
    for (const runId of this.missingSince.keys()) {
      if (!runs.some((r) => r.id === runId)) this.missingSince.delete(runId);
    }
    return { runs: checks, schedulersRestored: await this.ensureSchedulers() };
  }

  private async job(definition: JobDefinition, runId: string): Promise<Job | undefined> {
    return this.ctx.queues.get(definition.queue).getJob(runJobId(runId, definition.name));
  }

  private async checkRun(run: LoopRun): Promise<RunCheck> {
    // A queued run waits for its first stage, which is evaluate for a run given its candidate.
    const index = run.phase === 'queued' ? stageIndex(firstStage(run)) : STAGE_OF_PHASE[run.phase];
    if (index === undefined) {
      // 'done' while still in progress: the last stage finished its work but not the run.
      return this.fail(run, `the run reached phase ${run.phase} but was never finished`);
    }
    const stage = RUN_STAGES[index]!;
    const next = RUN_STAGES[index + 1];
    // The next stage's job exists: this stage is done and the next one will move the run on.
    if (next && (await this.job(next, run.id))) return this.seen(run);
    const current = await this.job(stage, run.id);
    const state = current ? await current.getState() : 'unknown';
    if (LIVE_STATES.has(state)) return this.seen(run);
    if (state === 'failed') {
      return this.fail(
        run,
        `${stage.name}: ${current!.failedReason || 'failed'} (found failed by the reconciler)`,
      );
    }
    // Completed, but the next stage's job is missing (it was lost): that one is what must run.
    const lost = state === 'completed' && next ? next : stage;
    if (state === 'completed' && !next) {
      return this.fail(run, `${stage.name}: the last stage completed but the run was never finished`);
    }
    const since = this.missingSince.get(run.id);
    const now = this.now();
    if (since === undefined) this.missingSince.set(run.id, now);
    if (since === undefined || now - since < this.options.graceMs) {
      return { runId: run.id, action: 'watching', stage: lost.name };
    }
    this.missingSince.delete(run.id);
    const recoveries = await this.ctx.prisma.loopRunLog.count({
      where: { runId: run.id, message: { startsWith: RECOVERY_LOG_PREFIX } },
    });
    if (recoveries >= MAX_RECOVERIES) {
      return this.fail(
        run,
        `${lost.name}: its job vanished from Redis ${recoveries + 1} times (did Redis lose its data?); given up`,
      );
    }
    await this.ctx.queues.enqueue(lost, { runId: run.id });
    await log(
      this.ctx,
      run.id,
      'warn',
      `${RECOVERY_LOG_PREFIX} the ${lost.name} job of this run was missing from Redis (lost data?); queued it again`,
      { stage: lost.name, recovery: recoveries + 1 },
    );
    return { runId: run.id, action: 'requeued', stage: lost.name };
  }

  private seen(run: LoopRun): RunCheck {
    this.missingSince.delete(run.id);
    return { runId: run.id, action: 'ok' };
  }

  /** Fails the run unless it finished or was cancelled meanwhile (a conditional update). */
  private async fail(run: LoopRun, reason: string): Promise<RunCheck> {
    this.missingSince.delete(run.id);
    const { count } = await this.ctx.prisma.loopRun.updateMany({
      where: { id: run.id, status: { in: [...IN_PROGRESS] } },
      data: { status: 'failed', finishedAt: new Date(), error: reason },
    });
    if (count === 1) {
      await log(this.ctx, run.id, 'error', `${RECOVERY_LOG_PREFIX} failed the run: ${reason}`);
      const failed = await this.ctx.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } });
      await this.ctx.events.publish({ type: 'run', run: runView(failed) });
    }
    return { runId: run.id, action: 'failed', reason };
  }

  /** Creates the job schedulers again when the schedule is enabled and either is missing. */
  private async ensureSchedulers(): Promise<boolean> {
    const schedule = await getSchedule(this.ctx.prisma, scheduleDefaults(this.ctx.config));
    if (!schedule.enabled) return false;
    const queue = this.ctx.queues.get(schedulerTickJob.queue);
    const [cron, check] = await Promise.all([
      queue.getJobScheduler(CRON_SCHEDULER_ID),
      queue.getJobScheduler(FEEDBACK_CHECK_SCHEDULER_ID),
    ]);
    if (cron && check) return false;
    await syncSchedulers(this.ctx.queues, schedule, this.ctx.config.FEEDLOOP_LOOP_CHECK_MS);
    this.ctx.log.warn('the loop schedulers were missing from Redis; created them again');
    return true;
  }
}

export interface RunningReconciler {
  /** A pass now (and after the one in progress, if any). */
  poke(): void;
  close(): Promise<void>;
}

/**
 * Runs the reconciler now, every `intervalMs`, and when poked (Redis came back). Passes never
 * overlap; a pass that finds Redis or Postgres down is logged and tried again on the next one.
 */
export function startReconciler(
  ctx: LoopContext,
  options: ReconcilerOptions & { intervalMs: number },
): RunningReconciler {
  const reconciler = new Reconciler(ctx, options);
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;
  const pass = async () => {
    try {
      const result = await reconciler.reconcile();
      const acted = result.runs.filter((r) => r.action === 'requeued' || r.action === 'failed');
      if (acted.length) ctx.log.warn({ runs: acted }, 'reconciler acted on runs whose jobs were lost');
    } catch (err) {
      if (isUnavailableError(err))
        ctx.log.warn({ err }, 'reconciler: a backing service is down; trying later');
      else ctx.log.error({ err }, 'reconciler pass failed');
    }
  };
  const poke = () => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = pass().finally(() => {
      running = null;
      if (again) {
        again = false;
        poke();
      }
    });
  };
  const timer = setInterval(poke, options.intervalMs);
  timer.unref();
  poke();
  return {
    poke,
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
    },
  };
}
