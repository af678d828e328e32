// A worker for one run stage: runs the stage through the pipeline, and records failures on the run
// (the last attempt's failure fails it). A job interrupted by shutdown is not a failure: the worker
// puts it back in the queue and the next worker resumes it.
import type { Worker } from 'bullmq';
import type { JobDefinition } from './job-definition.ts';
import type { runPayload } from './run-payload.ts';
import { createWorker, LOCK_LOST, type WorkerSettings } from './worker.ts';
import type { LoopContext } from '../context.ts';
import {
  log,
  runStage,
  RunStoppedError,
  stageFailed,
  type StageOutcome,
  type StageWork,
} from '../pipeline.ts';

export function stageWorker(
  ctx: LoopContext,
  settings: WorkerSettings,
  definition: JobDefinition<typeof runPayload>,
  work: (ctx: LoopContext, ...args: Parameters<StageWork>) => Promise<StageOutcome>,
): Worker {
  return createWorker(definition, settings, async ({ runId }, jobRun) => {
    try {
      return await runStage(ctx, definition, runId, jobRun, (run, stage) => work(ctx, run, stage));
    } catch (err) {
      const run = await ctx.prisma.loopRun.findUnique({ where: { id: runId }, select: { status: true } });
      // Cancelled meanwhile (the work was aborted, or a conditional update found it): not a job
      // failure, nothing to retry.
      if (run?.status === 'cancelled' || err instanceof RunStoppedError) return 'skipped';
      if (jobRun.signal?.aborted && jobRun.signal.reason === LOCK_LOST) {
        // Not a failure of the stage: the reconciler queues it again (and it resumes).
        await log(ctx, runId, 'warn', `${definition.name}: stopped, its job was lost from Redis`);
      } else if (settings.shutdown.aborted && jobRun.signal?.aborted) {
        await log(
          ctx,
          runId,
          'warn',
          `${definition.name}: interrupted by shutdown; the next worker resumes it`,
        );
      } else {
        await stageFailed(ctx, definition, runId, jobRun.job, err as Error);
      }
      throw err;
    }
  });
}
