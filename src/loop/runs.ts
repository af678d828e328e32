// Loop runs in the database: creating one (never two in progress), reading them, and the progress
// points and log lines workers append. Functions take a Prisma client or a transaction.
import { inTransaction, type Db } from '../platform/db/client.ts';
import { isUniqueViolation } from '../platform/db/errors.ts';
import type { LoopRun, LoopTrigger, Prisma } from '../generated/prisma/client.ts';
import { recordAudit } from '../platform/audit/audit-log.ts';
import { AppError, notFound } from '../platform/errors/app-error.ts';
import { getSchedule, type ScheduleDefaults } from './schedule.ts';
import { datasetConfigIssues } from './dataset-config.ts';
import { mergeOverrides } from './overrides.ts';
import { datasetOverrides, trainingOverrides } from '../contract/loop.ts';
import { trainingConfigIssues } from './training-config.ts';
import { logView, progressView, type ProgressPointView } from './views.ts';
import { afterKeyset, badCursor, decodeCursor, pageOf } from '../platform/pagination.ts';
import { MAX_PAGE_SIZE } from '../contract/http.ts';

export const IN_PROGRESS = ['queued', 'running'] as const;
/** How many progress points GET /v1/loop/runs/:id returns at most (the latest ones). */
export const PROGRESS_POINTS_SHOWN = 5000;

export class RunInProgressError extends AppError {
  constructor(readonly runId: string) {
    super('conflict', `Run ${runId} is in progress; a new run starts when it has finished`, { runId });
  }
}

export interface CreateRunInput {
  trigger: LoopTrigger;
  reason?: string | null;
  /** Training config overrides for this run, laid over the schedule's. */
  training?: Record<string, unknown>;
  /** Dataset build overrides for this run, laid over the schedule's. */
  datasets?: Record<string, unknown>;
  actorId: string | null;
}

/**
 * Creates a queued run, unless one is queued or running (RunInProgressError, a 409). The run's
 * training config and dataset settings are the schedule's overrides with the request's merged on
 * top (400 if the trainer or the dataset builder would refuse the result). The schedule's feedback
 * cursor moves to now: feedback counted towards the next threshold is what arrives after this run
 * was created. Audited as `loop.run.create`.
 */
export async function createRun(db: Db, defaults: ScheduleDefaults, input: CreateRunInput): Promise<LoopRun> {
  try {
    return await inTransaction(db, async (tx) => {
      await lockNoRunInProgress(tx);
      await assertTrainable(tx);
      const schedule = await getSchedule(tx, defaults);
      const config = mergeOverrides(trainingOverrides.parse(schedule.training), input.training);
      const datasetConfig = mergeOverrides(datasetOverrides.parse(schedule.datasets), input.datasets);
      const issues = [
        ...trainingConfigIssues(config).map((i) => ({ ...i, path: ['body', 'training', ...i.path] })),
        ...datasetConfigIssues(datasetConfig).map((i) => ({ ...i, path: ['body', 'datasets', ...i.path] })),
      ];
      if (issues.length) {
        const details = issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        throw new AppError(
          'validation_failed',
          `Invalid ${details[0]!.path}: ${details[0]!.message}`,
          details,
        );
      }
      const run = await tx.loopRun.create({
        data: {
          trigger: input.trigger,
          reason: input.reason ?? null,
          config: config as Prisma.InputJsonObject,
          datasetConfig: datasetConfig as Prisma.InputJsonObject,
          createdById: input.actorId,
        },
      });
      await tx.loopSchedule.update({ where: { id: 1 }, data: { lastRunCursor: run.createdAt } });
      await recordAudit(tx, {
        actorId: input.actorId,
        action: 'loop.run.create',
        target: `loop_run:${run.id}`,
        details: {
          trigger: run.trigger,
          reason: run.reason,
          training: config as Prisma.InputJsonObject,
          datasets: datasetConfig as Prisma.InputJsonObject,
        },
      });
      return run;
    });
  } catch (err) {
    // The partial unique index caught a race the lock did not (another database client).
    if (isUniqueViolation(err)) throw new AppError('conflict', 'A run is in progress');
    throw err;
  }
}

/**
 * A run that builds datasets and trains fine-tunes the active version: refused (409) when that
 * version is served by an upstream, whose weights feedloop does not have.
 */
async function assertTrainable(tx: Db): Promise<void> {
  const active = await tx.modelVersion.findFirst({
    where: { status: 'active' },
    select: { name: true, provider: true },
  });
  if (active && active.provider !== 'local')
    throw new AppError(
      'conflict',
      `The active version ${active.name} is served by an upstream (provider ${active.provider}): training applies to local versions only. To evaluate and gate a candidate instead, start a run with {"candidate": "<name>"}`,
      { activeVersion: active.name, provider: active.provider },
    );
}

/** Takes the run-creation lock, then refuses (409) while a run is queued or running. */
async function lockNoRunInProgress(tx: Db): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('feedloop:loop_runs:create'))`;
  const running = await tx.loopRun.findFirst({
    where: { status: { in: [...IN_PROGRESS] } },
    select: { id: true },
  });
  if (running) throw new RunInProgressError(running.id);
}

/**
 * Creates a queued run that evaluates, reports and gates an existing candidate version (imported,
 * trained elsewhere) against the active one: it builds no dataset and trains nothing. 400 naming
 * body.candidate when no version has that name, 409 unless it is a candidate, 409 while a run is
 * in progress. The schedule's feedback cursor stays: the run consumes no feedback. Audited as
 * `loop.run.create` with the candidate.
 */
export async function createCandidateRun(
  db: Db,
  input: { candidate: string; reason?: string | null; actorId: string | null },
): Promise<LoopRun> {
  try {
    return await inTransaction(db, async (tx) => {
      await lockNoRunInProgress(tx);
      const version = await tx.modelVersion.findUnique({ where: { name: input.candidate } });
      if (!version) {
        const message = `no model version is named ${input.candidate}`;
        throw new AppError('validation_failed', `Invalid body.candidate: ${message}`, [
          { path: 'body.candidate', message },
        ]);
      }
      if (version.status !== 'candidate')
        throw new AppError(
          'conflict',
          `Model version ${version.name} is ${version.status}; only a candidate can be evaluated and gated`,
          { status: version.status },
        );
      const run = await tx.loopRun.create({
        data: {
          trigger: 'manual',
          reason: input.reason ?? null,
          candidateVersionId: version.id,
          evaluateOnly: true,
          createdById: input.actorId,
        },
      });
      await appendLog(tx, run.id, 'info', `datasets and train skipped: the run evaluates ${version.name}`, {
        candidateVersionId: version.id,
      });
      await recordAudit(tx, {
        actorId: input.actorId,
        action: 'loop.run.create',
        target: `loop_run:${run.id}`,
        details: {
          trigger: run.trigger,
          reason: run.reason,
          candidate: version.name,
          candidateVersionId: version.id,
        },
      });
      return run;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', 'A run is in progress');
    throw err;
  }
}

export async function getRun(db: Db, id: string): Promise<LoopRun> {
  const run = await db.loopRun.findUnique({ where: { id } });
  if (!run) throw notFound('Loop run');
  return run;
}

/** Runs, newest first, a page at a time (`cursor`: the previous page's nextCursor). */
export async function listRuns(
  db: Db,
  page: { limit: number; cursor?: string },
): Promise<{ runs: LoopRun[]; nextCursor: string | null }> {
  const rows = await db.loopRun.findMany({
    where: page.cursor
      ? (afterKeyset(decodeCursor(page.cursor), 'createdAt') as Prisma.LoopRunWhereInput)
      : {},
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: page.limit + 1,
  });
  const { items, nextCursor } = pageOf(rows, page.limit, (r) => ({ at: r.createdAt, id: r.id }));
  return { runs: items, nextCursor };
}

/** A page of a run's log, oldest first (keyset on the log's serial id). */
export async function runLogs(db: Db, runId: string, page: { limit: number; cursor?: string }) {
  const key = page.cursor ? decodeCursor(page.cursor) : undefined;
  if (key && !/^[0-9]+$/.test(key.id)) throw badCursor();
  const after = key ? BigInt(key.id) : undefined;
  const rows = await db.loopRunLog.findMany({
    where: { runId, ...(after !== undefined ? { id: { gt: after } } : {}) },
    orderBy: { id: 'asc' },
    take: page.limit + 1,
  });
  const { items, nextCursor } = pageOf(rows, page.limit, (r) => ({ at: r.at, id: String(r.id) }));
  return { logs: items.map(logView), nextCursor };
}

/** A run with its latest progress points and the first page of its log. */
export async function getRunDetail(db: Db, id: string) {
  const run = await getRun(db, id);
  const [progress, logs] = await Promise.all([
    db.loopRunProgress.findMany({
      where: { runId: id },
      orderBy: { id: 'desc' },
      take: PROGRESS_POINTS_SHOWN,
    }),
    runLogs(db, id, { limit: MAX_PAGE_SIZE }),
  ]);
  return {
    run,
    progress: progress.reverse().map(progressView),
    logs: logs.logs,
    logsNextCursor: logs.nextCursor,
  };
}

export async function appendLog(
  db: Db,
  runId: string,
  level: 'info' | 'warn' | 'error',
  message: string,
  details?: Prisma.InputJsonObject,
): Promise<void> {
  await db.loopRunLog.create({ data: { runId, level, message, details } });
}

export async function appendProgress(db: Db, points: ProgressPointView[]): Promise<void> {
  if (points.length === 0) return;
  await db.loopRunProgress.createMany({
    data: points.map((p) => ({
      runId: p.runId,
      at: p.at,
      phase: p.phase,
      method: p.method ?? null,
      step: p.step,
      totalSteps: p.totalSteps,
      epoch: p.epoch ?? null,
      stage: p.stage ?? null,
      loss: finiteOrNull(p.loss),
      lr: finiteOrNull(p.lr),
      gradNorm: finiteOrNull(p.gradNorm),
      valLoss: finiteOrNull(p.valLoss),
      metrics: p.metrics ?? undefined,
      resumedFromStep: p.resumedFromStep ?? null,
    })),
  });
}

// A diverging loss can be NaN or Infinity, which Postgres' float column takes but JSON does not.
const finiteOrNull = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : null);

/**
 * Cancels a queued or running run that has not decided yet, in one conditional statement (its
 * stages see it and stop: training within about a second, evaluation at its next item). A run
 * whose gate already promoted or rejected its candidate finishes instead (409).
 */
export async function cancelRun(db: Db, id: string, actorId: string, reason: string): Promise<LoopRun> {
  return inTransaction(db, async (tx) => {
    const [cancelled] = await tx.loopRun.updateManyAndReturn({
      where: { id, status: { in: [...IN_PROGRESS] }, decision: null },
      data: { status: 'cancelled', finishedAt: new Date(), error: `cancelled: ${reason}` },
    });
    if (!cancelled) {
      const run = await getRun(tx, id);
      throw new AppError(
        'conflict',
        run.decision && IN_PROGRESS.includes(run.status as (typeof IN_PROGRESS)[number])
          ? `Run ${id} has already ${run.decision} its candidate; it is finishing`
          : `Run ${id} is ${run.status}; only a queued or running run can be cancelled`,
      );
    }
    await appendLog(tx, id, 'warn', `cancelled: ${reason}`);
    await recordAudit(tx, {
      actorId,
      action: 'loop.run.cancel',
      target: `loop_run:${id}`,
      details: { reason },
    });
    return cancelled;
  });
}
