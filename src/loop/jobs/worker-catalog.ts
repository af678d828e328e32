// The workers' half of the job catalog: each job's definition paired with the handler that runs it.
// The worker process builds one BullMQ worker per entry; a job without a handler is an error here,
// not a queue that silently never drains.
import type { Worker } from 'bullmq';
import type { LoopContext } from '../context.ts';
import { buildDatasetsJob } from './build-datasets.job.ts';
import { buildRunDatasets } from './build-datasets.handler.ts';
import { JOBS } from './catalog.ts';
import { evaluateJob } from './evaluate.job.ts';
import { evaluateVersions } from './evaluate.handler.ts';
import type { JobDefinition } from './job-definition.ts';
import { promoteJob } from './promote.job.ts';
import { gateCandidate } from './promote.handler.ts';
import { reportJob } from './report.job.ts';
import { completeReport } from './report.handler.ts';
import { schedulerTickJob } from './scheduler-tick.job.ts';
import { schedulerTick } from './scheduler-tick.handler.ts';
import { stageWorker } from './stage-worker.ts';
import { trainJob } from './train.job.ts';
import { trainCandidate } from './train.handler.ts';
import { createWorker, type WorkerSettings } from './worker.ts';

export type WorkerFactory = (context: LoopContext, settings: WorkerSettings) => Worker;

const FACTORIES = new Map<string, WorkerFactory>([
  [buildDatasetsJob.queue, (ctx, s) => stageWorker(ctx, s, buildDatasetsJob, buildRunDatasets)],
  [trainJob.queue, (ctx, s) => stageWorker(ctx, s, trainJob, trainCandidate)],
  [evaluateJob.queue, (ctx, s) => stageWorker(ctx, s, evaluateJob, evaluateVersions)],
  [reportJob.queue, (ctx, s) => stageWorker(ctx, s, reportJob, completeReport)],
  [promoteJob.queue, (ctx, s) => stageWorker(ctx, s, promoteJob, gateCandidate)],
  [
    schedulerTickJob.queue,
    (ctx, s) =>
      createWorker(schedulerTickJob, s, async (payload) => {
        const result = await schedulerTick(ctx, payload);
        return result.started ? { started: result.started.id } : { started: null, why: result.why };
      }),
  ],
]);

/** The worker factory of one catalog job. */
export function workerFor(definition: JobDefinition): WorkerFactory {
  const factory = FACTORIES.get(definition.queue);
  if (!factory) throw new Error(`job ${definition.name} (queue ${definition.queue}) has no handler`);
  return factory;
}

/** One worker per job of the catalog, in catalog order. */
export const ALL_WORKERS: readonly WorkerFactory[] = JOBS.map(workerFor);
