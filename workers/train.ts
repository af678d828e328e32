// Queue loop-train: fine-tune the candidate (CPU-heavy; resumes from checkpoints).
import { trainJob } from '../src/jobs/train.ts';
import type { WorkerSettings } from '../src/jobs/worker.ts';
import type { LoopContext } from '../src/loop/context.ts';
import { trainCandidate } from '../src/loop/stages/train.ts';
import { stageWorker } from '../src/loop/stage-worker.ts';

export const trainWorker = (ctx: LoopContext, settings: WorkerSettings) =>
  stageWorker(ctx, settings, trainJob, trainCandidate);
