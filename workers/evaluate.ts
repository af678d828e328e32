// Queue loop-evaluate: accuracy and bias evaluation of the candidate (and the active version).
import { evaluateJob } from '../src/jobs/evaluate.ts';
import type { WorkerSettings } from '../src/jobs/worker.ts';
import type { LoopContext } from '../src/loop/context.ts';
import { evaluateVersions } from '../src/loop/stages/evaluate.ts';
import { stageWorker } from '../src/loop/stage-worker.ts';

export const evaluateWorker = (ctx: LoopContext, settings: WorkerSettings) =>
  stageWorker(ctx, settings, evaluateJob, evaluateVersions);
