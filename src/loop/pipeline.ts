// How a run moves through its stages. Every stage job goes through runStage: it skips runs that are
// finished or already past the stage (a duplicate or re-delivered job), marks the run's phase,
// does the stage's work, then enqueues the next stage under its derived jobId. A failure is logged
// on the run; the last attempt's failure fails the run. Work must be idempotent: a worker can die
// after the work committed but before the next stage was enqueued, and the retry does it again.
// Every status change is a conditional update (`WHERE status IN (...)`): a cancel that lands
// between a stage's read and its write is never overwritten, and the stage stops when it sees one.
import { UnrecoverableError, type Job } from 'bullmq';
import type { LoopRun, LoopRunPhase, LoopRunStatus, Prisma } from '../generated/prisma/client.ts';
import type { Tx } from '../platform/db/client.ts';
import type { JobDefinition } from './jobs/job-definition.ts';
import { RUN_STAGES } from './jobs/catalog.ts';
import { evaluateJob } from './jobs/evaluate.job.ts';
import type { LoopContext } from './context.ts';
import { appendLog } from './runs.ts';
import { runView } from './views.ts';

export const PHASES: readonly LoopRunPhase[] = [
  'queued',
  'datasets',
  'training',
  'evaluating',
  'reporting',
  'gating',
  'done',
];

/** The run phase each stage job sets, in RUN_STAGES order. */
const STAGE_PHASES: readonly LoopRunPhase[] = ['datasets', 'training', 'evaluating', 'reporting', 'gating'];

export interface StageJob {
  job: Job;
  token?: string;
  /** Aborted when the worker shuts down or the job is cancelled. */
  signal?: AbortSignal;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** How often a running stage looks for a cancel of its run (and aborts its work). */
export const CANCEL_CHECK_MS = 1000;

/**
 * The run is no longer in a status this change may start from (it was cancelled, or finished,
 * meanwhile): the stage stops. Not retried.
 */
export class RunStoppedError extends UnrecoverableError {
  constructor(
    readonly runId: string,
    readonly status: LoopRunStatus | null,
  ) {
    super(`loop run ${runId} is ${status ?? 'gone'}; the stage stops`);
    this.name = 'RunStoppedError';
  }
}

/**
 * Changes a run only while its status is one of `from` (running, by default), in one conditional
 * statement; RunStoppedError when it is not (a cancel won the race). Publishes the new row.
 */
export async function updateRun(
  ctx: LoopContext,
  id: string,
  data: Prisma.LoopRunUncheckedUpdateManyInput,
  from: readonly LoopRunStatus[] = ['running'],
): Promise<LoopRun> {
  const [run] = await ctx.prisma.loopRun.updateManyAndReturn({
    where: { id, status: { in: [...from] } },
    data,
  });
  if (!run) {
    const now = await ctx.prisma.loopRun.findUnique({ where: { id }, select: { status: true } });
    throw new RunStoppedError(id, now?.status ?? null);
  }
  await ctx.events.publish({ type: 'run', run: runView(run) });
  return run;
}

/**
 * Locks a running run's row for the rest of the transaction (a cancel waits for it), or throws
 * RunStoppedError. Work whose effect outlives the run (registering a candidate, the gate's
 * decision) happens under this lock, so a cancel lands either before it or after it is recorded.
 */
export async function lockRunningRun(tx: Tx, runId: string): Promise<void> {
  const rows = await tx.$queryRaw<{ status: LoopRunStatus }[]>`
    SELECT status FROM loop_runs WHERE id = ${runId}::uuid FOR UPDATE`;
  const status = rows[0]?.status ?? null;
  if (status !== 'running') throw new RunStoppedError(runId, status);
}

/**
 * An AbortSignal that fires when the run leaves `running` (checked every CANCEL_CHECK_MS) or when
 * `outer` fires (worker shutdown). Stop it when the work is done.
 */
function watchRun(
  ctx: LoopContext,
  runId: string,
  outer: AbortSignal | undefined,
): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  let checking = false;
  const timer = setInterval(() => {
    if (checking || controller.signal.aborted) return;
    checking = true;
    ctx.prisma.loopRun
      .findUnique({ where: { id: runId }, select: { status: true } })
      .then((run) => {
        if (run?.status !== 'running') controller.abort(new RunStoppedError(runId, run?.status ?? null));
      })
      .catch((err: unknown) => ctx.log.warn({ err, runId }, 'could not check the run for a cancel'))
      .finally(() => {
        checking = false;
      });
  }, CANCEL_CHECK_MS);
  timer.unref();
  const signal = outer ? AbortSignal.any([outer, controller.signal]) : controller.signal;
  return { signal, stop: () => clearInterval(timer) };
}

export async function log(
  ctx: LoopContext,
  runId: string,
  level: 'info' | 'warn' | 'error',
  message: string,
  details?: Prisma.InputJsonObject,
) {
  ctx.log[level]({ runId, ...details }, message);
  await appendLog(ctx.prisma, runId, level, message, details);
}

/** A run given its candidate starts at the evaluate stage; every other run at the first stage. */
export function firstStage(run: Pick<LoopRun, 'evaluateOnly'>): JobDefinition {
  return run.evaluateOnly ? evaluateJob : RUN_STAGES[0];
}

/** Where `definition` is in RUN_STAGES (-1 when it is not a run stage). */
export const stageIndex = (definition: JobDefinition) =>
  RUN_STAGES.findIndex((s) => s.queue === definition.queue);

/** Enqueues the first stage of a new run; if Redis refuses, the run fails at once (nothing would run it). */
export async function startRun(ctx: Pick<LoopContext, 'prisma' | 'queues'>, run: LoopRun): Promise<void> {
  try {
    await ctx.queues.enqueue(firstStage(run), { runId: run.id });
  } catch (err) {
    await ctx.prisma.loopRun.updateMany({
      where: { id: run.id, status: 'queued' },
      data: {
        status: 'failed',
        finishedAt: new Date(),
        error: `could not be queued: ${(err as Error).message}`,
      },
    });
    throw err;
  }
}

/** The next stage's job after `definition`, or null after the last one. */
function nextStage(definition: JobDefinition): JobDefinition | null {
  const index = RUN_STAGES.findIndex((s) => s.queue === definition.queue);
  return RUN_STAGES[index + 1] ?? null;
}

function phaseOf(definition: JobDefinition): LoopRunPhase {
  const phase = STAGE_PHASES[RUN_STAGES.findIndex((s) => s.queue === definition.queue)];
  if (!phase) throw new Error(`${definition.queue} is not a run stage`);
  return phase;
}

/** What a stage's work leaves: the last stage says how the run finished. */
export type StageOutcome = void | { finish: Prisma.LoopRunUncheckedUpdateManyInput };

export type StageWork = (run: LoopRun, stage: StageJob) => Promise<StageOutcome>;

export async function runStage(
  ctx: LoopContext,
  definition: JobDefinition,
  runId: string,
  stage: StageJob,
  work: StageWork,
): Promise<'done' | 'skipped'> {
  const phase = phaseOf(definition);
  const run = await ctx.prisma.loopRun.findUnique({ where: { id: runId } });
  if (!run) throw new UnrecoverableError(`loop run ${runId} does not exist`);
  if (TERMINAL.has(run.status)) {
    ctx.log.info({ runId, status: run.status, stage: definition.name }, 'run is finished; stage skipped');
    return 'skipped';
  }
  if (stageIndex(definition) < stageIndex(firstStage(run))) {
    // A stage this run skips (it was given its candidate): nothing to do, nothing to enqueue.
    ctx.log.info({ runId, stage: definition.name }, 'the run was given its candidate; stage skipped');
    return 'skipped';
  }
  const next = nextStage(definition);
  if (PHASES.indexOf(run.phase) > PHASES.indexOf(phase)) {
    // Done before (this is a re-delivered job): make sure the next stage exists and stop.
    if (next) await ctx.queues.enqueue(next, { runId });
    return 'skipped';
  }
  const attempt = stage.job.attemptsMade + 1;
  let current: LoopRun;
  try {
    // Conditional: a cancel that landed since the read above wins, and the stage stops here.
    current = await updateRun(
      ctx,
      runId,
      { status: 'running', phase, startedAt: run.startedAt ?? new Date() },
      ['queued', 'running'],
    );
  } catch (err) {
    if (!(err instanceof RunStoppedError)) throw err;
    ctx.log.info({ runId, status: err.status, stage: definition.name }, 'run stopped; stage skipped');
    return 'skipped';
  }
  await log(ctx, runId, 'info', `${definition.name}: started (attempt ${attempt})`, {
    stage: definition.name,
    attempt,
  });
  const watch = watchRun(ctx, runId, stage.signal);
  let outcome: StageOutcome;
  try {
    outcome = await work(current, { ...stage, signal: watch.signal });
  } finally {
    watch.stop();
  }
  // A cancel that arrived during the work stops the run here.
  const after = await ctx.prisma.loopRun.findUniqueOrThrow({
    where: { id: runId },
    select: { status: true },
  });
  if (after.status !== 'running') return 'skipped';
  if (next) await ctx.queues.enqueue(next, { runId });
  await log(ctx, runId, 'info', `${definition.name}: done`, { stage: definition.name });
  // Finished only after the last log line: whoever sees `succeeded` sees the whole log.
  if (!next && outcome) {
    await finishRun(ctx, runId, outcome.finish).catch((err: unknown) => {
      if (!(err instanceof RunStoppedError)) throw err;
    });
  }
  return 'done';
}

/**
 * Called by the worker when a stage job threw: logs it on the run and, on the last attempt (or an
 * unrecoverable error), fails the run. BullMQ retries the others with exponential backoff.
 */
export async function stageFailed(
  ctx: LoopContext,
  definition: JobDefinition,
  runId: string,
  job: Job,
  err: Error,
): Promise<void> {
  const attempts = job.opts.attempts ?? 1;
  const attempt = job.attemptsMade + 1;
  const final = err instanceof UnrecoverableError || attempt >= attempts;
  const run = await ctx.prisma.loopRun.findUnique({ where: { id: runId } });
  if (!run || TERMINAL.has(run.status)) return;
  if (final) {
    await log(
      ctx,
      runId,
      'error',
      `${definition.name}: failed for good after ${attempt} attempt(s): ${err.message}`,
      {
        stage: definition.name,
        attempt,
      },
    );
    await updateRun(
      ctx,
      runId,
      { status: 'failed', finishedAt: new Date(), error: `${definition.name}: ${err.message}` },
      ['queued', 'running'],
    ).catch((stopped: unknown) => {
      if (!(stopped instanceof RunStoppedError)) throw stopped;
    });
    return;
  }
  const backoff = job.opts.backoff;
  const base = typeof backoff === 'number' ? backoff : (backoff?.delay ?? 0);
  const retryInMs = base * 2 ** (attempt - 1);
  await log(
    ctx,
    runId,
    'warn',
    `${definition.name}: attempt ${attempt} of ${attempts} failed, retrying in ${retryInMs} ms: ${err.message}`,
    { stage: definition.name, attempt, retryInMs },
  );
}

/** Marks a running run finished (after the last stage's work). */
async function finishRun(ctx: LoopContext, runId: string, data: Prisma.LoopRunUncheckedUpdateManyInput) {
  return updateRun(ctx, runId, { status: 'succeeded', phase: 'done', finishedAt: new Date(), ...data });
}
