// Queue loop-promote: the gate; promotes or rejects the candidate.
import { promoteJob } from '../src/jobs/promote.ts';
import type { WorkerSettings } from '../src/jobs/worker.ts';
import type { LoopContext } from '../src/loop/context.ts';
import { gateCandidate } from '../src/loop/stages/promote.ts';
import { stageWorker } from '../src/loop/stage-worker.ts';

export const promoteWorker = (ctx: LoopContext, settings: WorkerSettings) =>
  stageWorker(ctx, settings, promoteJob, gateCandidate);
