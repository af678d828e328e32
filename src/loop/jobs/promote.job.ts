// Loop stage job: The gate: promotes the candidate or rejects it with the reasons.
import { defineJob, runJobId, stageJobOptions } from './job-definition.ts';
import { runPayload } from './run-payload.ts';

export const PROMOTE_QUEUE = 'loop-promote';

export const promoteJob = defineJob({
  queue: PROMOTE_QUEUE,
  name: 'promote',
  payload: runPayload,
  jobId: ({ runId }) => runJobId(runId, 'promote'),
  options: (context) => stageJobOptions(3, context),
});
