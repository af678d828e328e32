// Every job the loop knows, in the order a run passes through them, plus the scheduler's tick.
import { buildDatasetsJob } from './build-datasets.job.ts';
import { evaluateJob } from './evaluate.job.ts';
import type { JobDefinition } from './job-definition.ts';
import { promoteJob } from './promote.job.ts';
import { reportJob } from './report.job.ts';
import { schedulerTickJob } from './scheduler-tick.job.ts';
import { trainJob } from './train.job.ts';

/** The stages of one run, in order; each stage's job enqueues the next one's. */
export const RUN_STAGES = [buildDatasetsJob, trainJob, evaluateJob, reportJob, promoteJob] as const;

export const JOBS: readonly JobDefinition[] = [...RUN_STAGES, schedulerTickJob];

/** The queue names, one per job. */
export const QUEUE_NAMES: readonly string[] = JOBS.map((j) => j.queue);

export function jobForQueue(queue: string): JobDefinition | undefined {
  return JOBS.find((j) => j.queue === queue);
}
