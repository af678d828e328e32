// Loop stage job: Completes the candidate's report: win rate against the active version and feedback flag rates.
import { defineJob, runJobId, stageJobOptions } from './job-definition.ts';
import { runPayload } from './run-payload.ts';

export const REPORT_QUEUE = 'loop-report';

export const reportJob = defineJob({
  queue: REPORT_QUEUE,
  name: 'report',
  payload: runPayload,
  jobId: ({ runId }) => runJobId(runId, 'report'),
  options: (context) => stageJobOptions(3, context),
});
