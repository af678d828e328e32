// Queue loop-datasets: build the run's dataset snapshot.
import { buildDatasetsJob } from '../src/jobs/build-datasets.ts';
import type { WorkerSettings } from '../src/jobs/worker.ts';
import type { LoopContext } from '../src/loop/context.ts';
import { buildRunDatasets } from '../src/loop/stages/build-datasets.ts';
import { stageWorker } from '../src/loop/stage-worker.ts';

export const datasetsWorker = (ctx: LoopContext, settings: WorkerSettings) =>
  stageWorker(ctx, settings, buildDatasetsJob, buildRunDatasets);
