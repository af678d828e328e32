// The loop's request bodies as the server checks them: the contract's (src/contract/loop.ts), with
// training and dataset overrides checked against their strict, bounded schemas, so a bad override
// is a 400 naming the field, and a cron that would fire more often than MIN_CRON_INTERVAL_MS refused.
import { schedulePatch as schedulePatchShape } from '../contract/loop.ts';
import { cronProblem } from '../platform/cron.ts';
import { datasetOverridesInput } from './dataset-config.ts';
import { trainingOverridesInput } from './training-config.ts';

const cron = schedulePatchShape.shape.cron.superRefine((pattern, ctx) => {
  // A pattern of the wrong shape already has its issue from the contract.
  if (pattern === undefined || !/^\S+( \S+){4,5}$/.test(pattern)) return;
  const problem = cronProblem(pattern);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const schedulePatch = schedulePatchShape.extend({
  cron,
  training: trainingOverridesInput.optional(),
  datasets: datasetOverridesInput.optional(),
});
