// Loop stage job: Fine-tunes a candidate from the active version on the run's dataset; resumes from its checkpoints.
import { defineJob, runJobId, stageJobOptions } from './job-definition.ts';
import { runPayload } from './run-payload.ts';

export const TRAIN_QUEUE = 'loop-train';

export const trainJob = defineJob({
  queue: TRAIN_QUEUE,
  name: 'train',
  payload: runPayload,
  jobId: ({ runId }) => runJobId(runId, 'train'),
  options: (context) => stageJobOptions(3, context),
});
