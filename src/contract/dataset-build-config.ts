// The typed, zod-validated config of a dataset build. Every threshold and weight the builders use
// lives here, so a snapshot records exactly how it was made (the config is stored with it).
import { z } from 'zod';

const weight = z.number().min(-1).max(1);
const share = z.number().min(0).max(1);

/**
 * How much each implicit event type leans an answer positive or negative. Copying an answer or
 * reading it for a long time suggests it helped; regenerating or abandoning it suggests it did not.
 * Types left out count for nothing.
 */
export const DEFAULT_IMPLICIT_WEIGHTS = {
  copy: 0.6,
  dwell: 0.3,
  expand: 0.1,
  follow_up: 0.1,
  regenerate: -0.6,
  abandon: -0.5,
  edit: -0.2,
} as const;

export const implicitEventType = z.enum([
  'copy',
  'regenerate',
  'edit',
  'dwell',
  'expand',
  'click',
  'abandon',
  'session_end',
  'follow_up',
]);

export const datasetBuildConfigSchema = z.strictObject({
  /** Feedback recorded in [from, to) is read; `to` defaults to the time of the build. */
  window: z.strictObject({ from: z.coerce.date().optional(), to: z.coerce.date().optional() }).default({}),
  /** Only answers written by these model versions (all when absent). */
  modelVersionIds: z.array(z.uuid()).optional(),
  /** How star ratings become good/bad: >= positiveMin is good, <= negativeMax is bad, between is neutral. */
  stars: z
    .strictObject({
      positiveMin: z.number().int().min(1).max(5).default(4),
      negativeMax: z.number().int().min(1).max(5).default(2),
    })
    .default({ positiveMin: 4, negativeMax: 2 })
    .refine((s) => s.negativeMax < s.positiveMin, 'negativeMax must be below positiveMin'),
  sft: z
    .strictObject({
      /** A rated answer enters SFT only on a good rating from a rater trusted at least this much. */
      minRaterTrust: share.default(0.8),
      /** Stars needed for SFT (stricter than `stars.positiveMin`: SFT copies the answer verbatim). */
      minStars: z.number().int().min(1).max(5).default(5),
    })
    .default({ minRaterTrust: 0.8, minStars: 5 }),
  preference: z
    .strictObject({
      /** Two answers to one prompt form a pair when their mean stars differ by at least this. */
      minStarGap: z.number().min(1).max(4).default(2),
    })
    .default({ minStarGap: 2 }),
  implicit: z
    .strictObject({
      enabled: z.boolean().default(true),
      weights: z.partialRecord(implicitEventType, weight).default(DEFAULT_IMPLICIT_WEIGHTS),
      /** A dwell event counts only when it lasted at least this long (its value is milliseconds). */
      dwellMinMs: z.number().min(0).default(15_000),
      /** An answer gets a weak KTO label when the summed weights reach this magnitude. */
      minScore: z.number().positive().default(0.5),
      /** The weight a weak label carries (explicit labels carry the rater's trust, up to 1). */
      labelWeight: share.default(0.3),
    })
    .default({
      enabled: true,
      weights: DEFAULT_IMPLICIT_WEIGHTS,
      dwellMinMs: 15_000,
      minScore: 0.5,
      labelWeight: 0.3,
    }),
  raters: z
    .strictObject({
      /** Fewer ratings than this and spam patterns are not judged. */
      minRatingsForSpamCheck: z.number().int().min(2).default(8),
      /** Share of identical ratings at which a rater counts as always giving the same rating. */
      sameRatingShare: share.default(1),
      /** Ratings closer together than this are impossibly fast to have read the answers. */
      minSecondsBetweenRatings: z.number().min(0).default(2),
      /** Share of impossibly fast ratings that marks a rater as a spammer. */
      fastShare: share.default(0.5),
      /** Answers compared with consensus or gold needed before agreement changes trust. */
      minComparisons: z.number().int().min(1).default(3),
      /**
       * Agreement is judged on its one-sided lower confidence bound (Wilson) at this level, so
       * agreement that chance could explain does not earn trust.
       */
      agreementConfidence: z.number().min(0.5).max(0.999).default(0.95),
      /**
       * A lower bound at or above this keeps full trust; below it, trust equals the lower bound.
       */
      fullTrustAgreement: share.default(0.7),
      /** Agreement (the share itself, not its bound) below this excludes the rater. */
      excludeBelowAgreement: share.default(0.3),
      /**
       * Percent of the task suite's country-fact questions used as gold questions (0 turns them
       * off): answers to them are judged against the known fact (src/datasets/gold-questions.ts).
       */
      goldQuestionsPercent: z.number().int().min(0).max(100).default(20),
      /** Answers with a known verdict (beyond approved corrections and flags, which mark answers bad). */
      gold: z.array(z.strictObject({ messageId: z.uuid(), good: z.boolean() })).default([]),
    })
    .default({
      minRatingsForSpamCheck: 8,
      sameRatingShare: 1,
      minSecondsBetweenRatings: 2,
      fastShare: 0.5,
      minComparisons: 3,
      agreementConfidence: 0.95,
      fullTrustAgreement: 0.7,
      excludeBelowAgreement: 0.3,
      goldQuestionsPercent: 20,
      gold: [],
    }),
  hygiene: z
    .strictObject({
      /** Word-shingle Jaccard similarity at or above which two examples are near-duplicates. */
      nearDuplicateThreshold: share.default(0.9),
      /** Percent of prompts (by a hash of the prompt) held out as the validation split. */
      validationPercent: z.number().int().min(0).max(50).default(10),
      scrubPii: z.boolean().default(true),
    })
    .default({ nearDuplicateThreshold: 0.9, validationPercent: 10, scrubPii: true }),
  augmentation: z
    .strictObject({
      /** Synthetic prompt variants per training example (0 turns augmentation off). */
      variantsPerExample: z.number().int().min(0).max(4).default(0),
      formats: z.array(z.enum(['sft', 'preference', 'kto'])).default(['sft']),
    })
    .default({ variantsPerExample: 0, formats: ['sft'] }),
});

export type DatasetBuildConfig = z.infer<typeof datasetBuildConfigSchema>;
export type DatasetBuildConfigInput = z.input<typeof datasetBuildConfigSchema>;

/** A full config from a partial one (every field has a default). */
export function parseBuildConfig(input: DatasetBuildConfigInput = {}): DatasetBuildConfig {
  return datasetBuildConfigSchema.parse(input);
}
