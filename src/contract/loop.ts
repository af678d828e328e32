// Request and response shapes of the loop's routes (the schedule, runs with their progress and
// logs) and the messages of the live loop socket (`GET /v1/loop/socket`). The training and dataset
// overrides are plain objects here; the server checks them against the trainer's and the dataset
// builder's own schemas (src/loop/schemas.ts).
import { z } from 'zod';
import { LoopDecision, LoopRunPhase, LoopRunStatus, LoopTrigger } from '../generated/prisma/enums.ts';
import { cursorQuery, isoDate, MAX_PAGE_SIZE, nextCursor, uuid } from './http.ts';
import { modelName } from './model-versions.ts';

/** Training config overrides as stored (a partial TrainingConfigInput of src/training). */
export const trainingOverrides = z.record(z.string(), z.unknown());
/** Dataset build overrides as stored (a partial DatasetBuildConfigInput, without its window). */
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
  /** The email of who changed it last. */
  updatedBy: z.string().nullable(),
  nextRunAt: isoDate.nullable(),
  newApprovedFeedbackSinceLastRun: z.number().int(),
  lastRunCursor: isoDate.nullable(),
});
export type ScheduleView = z.output<typeof scheduleView>;

export const schedulePatch = z.strictObject({
  enabled: z.boolean().optional(),
  cron: cronPattern.optional(),
  feedbackThreshold: z.number().int().min(1).max(10_000_000).optional(),
  training: trainingOverrides.optional(),
  datasets: datasetOverrides.optional(),
  reason: reason.optional(),
});
export type SchedulePatchBody = z.input<typeof schedulePatch>;

/** Optional: a POST without a body is fine. */
export const scheduleActionBody = z.strictObject({ reason: reason.optional() }).nullish();

export const runStatus = z.enum(LoopRunStatus);
export const runPhase = z.enum(LoopRunPhase);

export const runView = z.object({
  id: z.string(),
  status: runStatus,
  phase: runPhase,
  trigger: z.enum(LoopTrigger),
  reason: z.string().nullable(),
  createdAt: isoDate,
  startedAt: isoDate.nullable(),
  finishedAt: isoDate.nullable(),
  datasetId: z.string().nullable(),
  candidateVersionId: z.string().nullable(),
  /** The run was given its candidate (imported, trained elsewhere): datasets and train skipped. */
  evaluateOnly: z.boolean(),
  reportId: z.string().nullable(),
  decision: z.enum(LoopDecision).nullable(),
  error: z.string().nullable(),
  trainingConfig: z.record(z.string(), z.unknown()),
  datasetConfig: z.record(z.string(), z.unknown()),
});
export type RunView = z.output<typeof runView>;

/**
 * One progress event of a run. The trainer reports its own phases (preparing, training,
 * validating...) and each method (sft, dpo, kto) counts its own steps.
 */
export const progressPoint = z.object({
  runId: z.string(),
  at: isoDate,
  phase: z.string(),
  method: z.string().optional(),
  step: z.number(),
  totalSteps: z.number(),
  epoch: z.number().optional(),
  /** Gradual-unfreezing stage. */
  stage: z.number().optional(),
  loss: z.number().optional(),
  lr: z.number().optional(),
  gradNorm: z.number().optional(),
  valLoss: z.number().optional(),
  /** DPO: rewardsChosen, rewardsRejected, margins, accuracies; KTO: rewardsChosen, rewardsRejected, kl. */
  metrics: z.record(z.string(), z.number()).optional(),
  /** Set on the first point after a resume: the step the method continued from. */
  resumedFromStep: z.number().optional(),
});
export type ProgressPoint = z.output<typeof progressPoint>;

export const runLogLine = z.object({ at: isoDate, level: z.string(), message: z.string() });

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
export type CreateRunBody = z.input<typeof createRunBody>;
export const cancelRunBody = z.strictObject({ reason });
export const listRunsQuery = cursorQuery.extend({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
});
/** A run's log, oldest first. */
export const runLogQuery = cursorQuery.extend({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(MAX_PAGE_SIZE),
});
export const runIdParams = z.strictObject({ id: uuid });

export const runResponse = z.object({ run: runView });
export const runList = z.object({ runs: z.array(runView), nextCursor });
export const runDetail = z.object({
  run: runView,
  progress: z.array(progressPoint),
  /** The first page of the log, oldest first. */
  logs: z.array(runLogLine),
  /** Pass as `cursor` to /v1/loop/runs/{id}/logs for the rest of the log; null when this is all. */
  logsNextCursor: nextCursor,
});
export const runLogPage = z.object({ logs: z.array(runLogLine), nextCursor });
export type RunDetail = z.output<typeof runDetail>;

/** A change workers publish and the API relays to socket clients: a new progress point, or a run's new state. */
export const loopEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), point: progressPoint }),
  z.object({ type: z.literal('run'), run: runView }),
]);
export type LoopEvent = z.output<typeof loopEvent>;

/** client -> server on /v1/loop/socket: one run only, or (without runId, or unsubscribe) all runs. */
export const loopClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('subscribe'), runId: uuid.nullable().optional() }),
  z.strictObject({ type: z.literal('unsubscribe') }),
]);
export type LoopClientMessage = z.input<typeof loopClientMessage>;

/** server -> client on /v1/loop/socket. */
export const loopServerMessage = z.discriminatedUnion('type', [
  /** Live events flow from now on. */
  z.object({ type: z.literal('ready') }),
  /** The answer to subscribe or unsubscribe: the run followed, or null for all. */
  z.object({ type: z.literal('subscribed'), runId: z.string().nullable() }),
  ...loopEvent.options,
  z.object({
    type: z.literal('error'),
    error: z.object({ code: z.string(), message: z.string() }),
  }),
]);
export type LoopServerMessage = z.output<typeof loopServerMessage>;
