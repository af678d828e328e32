// Request and response shapes of the loop's routes (/work/loop-api-contract.md).
import { z } from 'zod';
import { isoDate, uuid } from '../contract/http.ts';
import { modelName } from '../contract/model-versions.ts';
import { datasetOverridesInput } from './dataset-config.ts';
import { trainingOverridesInput } from './training-config.ts';

/** Training config overrides as stored (a partial TrainingConfigInput of src/training). */
export const trainingOverrides = z.record(z.string(), z.unknown());
/** Dataset build overrides as stored (a partial DatasetBuildConfigInput of src/datasets, no window). */
export const datasetOverrides = z.record(z.string(), z.unknown());

const reason = z.string().trim().min(1, 'must not be empty').max(2_000);

export const cronPattern = z
  .string()
  .trim()
  .regex(/^\S+( \S+){4,5}$/, 'must be a cron pattern of 5 or 6 fields (UTC)');

export const scheduleView = z.object({
  enabled: z.boolean(),
  cron: z.string(),
  feedbackThreshold: z.number().int(),
  training: trainingOverrides,
  datasets: datasetOverrides,
  updatedAt: isoDate,
  updatedBy: z.string().nullable(),
  nextRunAt: isoDate.nullable(),
  newApprovedFeedbackSinceLastRun: z.number().int(),
  lastRunCursor: isoDate.nullable(),
});

export const schedulePatch = z.strictObject({
  enabled: z.boolean().optional(),
  cron: cronPattern.optional(),
  feedbackThreshold: z.number().int().min(1).max(10_000_000).optional(),
  training: trainingOverridesInput.optional(),
  datasets: datasetOverridesInput.optional(),
  reason: reason.optional(),
});

/** Optional: a POST without a body is fine. */
export const scheduleActionBody = z.strictObject({ reason: reason.optional() }).nullish();

export const runStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export const runPhase = z.enum([
  'queued',
  'datasets',
  'training',
  'evaluating',
  'reporting',
  'gating',
  'done',
]);

export const runView = z.object({
  id: z.string(),
  status: runStatus,
  phase: runPhase,
  trigger: z.enum(['manual', 'cron', 'feedback']),
  reason: z.string().nullable(),
  createdAt: isoDate,
  startedAt: isoDate.nullable(),
  finishedAt: isoDate.nullable(),
  datasetId: z.string().nullable(),
  candidateVersionId: z.string().nullable(),
  /** The run was given its candidate (datasets and train skipped). */
  evaluateOnly: z.boolean(),
  reportId: z.string().nullable(),
  decision: z.enum(['promoted', 'rejected']).nullable(),
  error: z.string().nullable(),
  trainingConfig: z.record(z.string(), z.unknown()),
  datasetConfig: z.record(z.string(), z.unknown()),
});

export const progressPoint = z.object({
  runId: z.string(),
  at: isoDate,
  phase: z.string(),
  method: z.string().optional(),
  step: z.number(),
  totalSteps: z.number(),
  epoch: z.number().optional(),
  stage: z.number().optional(),
  loss: z.number().optional(),
  lr: z.number().optional(),
  gradNorm: z.number().optional(),
  valLoss: z.number().optional(),
  metrics: z.record(z.string(), z.number()).optional(),
  resumedFromStep: z.number().optional(),
});

export const createRunBody = z
  .strictObject({
    reason: reason.optional(),
    training: trainingOverrides.optional(),
    datasets: datasetOverrides.optional(),
    /**
     * The name of an existing candidate version (imported, trained elsewhere): the run skips the
     * datasets and train stages and evaluates, reports and gates that version.
     */
    candidate: modelName.optional(),
  })
  .superRefine((body, ctx) => {
    if (body.candidate === undefined) return;
    for (const key of ['training', 'datasets'] as const)
      if (body[key] !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'a run given a candidate builds no dataset and trains nothing',
        });
  });
export const cancelRunBody = z.strictObject({ reason });
export const listRunsQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(20) });
export const runIdParams = z.strictObject({ id: uuid });

export const runResponse = z.object({ run: runView });
export const runList = z.object({ runs: z.array(runView) });
export const runDetail = z.object({
  run: runView,
  progress: z.array(progressPoint),
  logs: z.array(z.object({ at: isoDate, level: z.string(), message: z.string() })),
});

/** What a /v1/loop/socket client may send. */
export const socketMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('subscribe'), runId: uuid.nullable().optional() }),
  z.strictObject({ type: z.literal('unsubscribe') }),
]);
