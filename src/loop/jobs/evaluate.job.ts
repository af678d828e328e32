// Loop stage job: Evaluates the candidate (and the active version when it has no report with the same options).
import { defineJob, runJobId, stageJobOptions } from './job-definition.ts';
import { runPayload } from './run-payload.ts';

export const EVALUATE_QUEUE = 'loop-evaluate';

export const evaluateJob = defineJob({
  queue: EVALUATE_QUEUE,
  name: 'evaluate',
  payload: runPayload,
  jobId: ({ runId }) => runJobId(runId, 'evaluate'),
  options: (context) => stageJobOptions(3, context),
});
