// Queue loop-report: win rate against the active version and feedback flag rates.
import { reportJob } from '../src/jobs/report.ts';
import type { WorkerSettings } from '../src/jobs/worker.ts';
import type { LoopContext } from '../src/loop/context.ts';
import { completeReport } from '../src/loop/stages/report.ts';
import { stageWorker } from '../src/loop/stage-worker.ts';

export const reportWorker = (ctx: LoopContext, settings: WorkerSettings) =>
  stageWorker(ctx, settings, reportJob, completeReport);
