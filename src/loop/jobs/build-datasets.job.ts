// Loop stage job: Builds the run's dataset snapshot from feedback (content-addressed, so a rerun finds the same snapshot).
import { defineJob, runJobId, stageJobOptions } from './job-definition.ts';
import { runPayload } from './run-payload.ts';

export const BUILD_DATASETS_QUEUE = 'loop-datasets';

export const buildDatasetsJob = defineJob({
  queue: BUILD_DATASETS_QUEUE,
  name: 'datasets',
  payload: runPayload,
  jobId: ({ runId }) => runJobId(runId, 'datasets'),
  options: (context) => stageJobOptions(3, context),
});
