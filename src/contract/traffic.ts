// Request and response shapes of traffic splits (PUT/GET /v1/serving/traffic), opening a version
// to users, and the live comparison of a split's versions.
import { z } from 'zod';
import { isoDate } from './http.ts';
import { modelName, modelStatus } from './model-versions.ts';

const reason = z.string().trim().min(1, 'must not be empty').max(2_000);

/** At most this many versions share one split. */
export const MAX_SPLIT_ARMS = 8;

export const trafficSplitBody = z.strictObject({
  splits: z
    .array(
      z.strictObject({
        version: modelName,
        /** Relative: a version's share is its weight over the sum of the weights. */
        weight: z.number().positive('must be greater than 0').max(1_000_000),
      }),
    )
    .min(1, 'must name at least one version')
    .max(MAX_SPLIT_ARMS, `must name at most ${MAX_SPLIT_ARMS} versions`)
    .superRefine((arms, ctx) => {
      const seen = new Set<string>();
      arms.forEach((arm, i) => {
        if (seen.has(arm.version))
          ctx.addIssue({ code: 'custom', path: [i, 'version'], message: 'names a version twice' });
        seen.add(arm.version);
      });
    }),
  reason,
});
export type TrafficSplitBody = z.infer<typeof trafficSplitBody>;

export const endTrafficBody = z.strictObject({ reason });

export const trafficArmView = z.object({
  version: z.string(),
  versionId: z.string(),
  status: modelStatus,
  weight: z.number(),
  /** weight / sum of weights. */
  share: z.number(),
});

export const trafficSplitView = z.object({
  id: z.string(),
  reason: z.string(),
  createdById: z.string().nullable(),
  createdAt: isoDate,
  endedAt: isoDate.nullable(),
  endReason: z.string().nullable(),
  arms: z.array(trafficArmView),
});
export type TrafficSplitView = z.output<typeof trafficSplitView>;

export const currentTrafficView = z.object({
  /** The current split; null when every request naming no model goes to the active version. */
  split: trafficSplitView.nullable(),
  activeVersion: z.string().nullable(),
});
export type CurrentTrafficView = z.output<typeof currentTrafficView>;

export const versionAccessBody = z.strictObject({
  /** Whether users (not only ops and admins) may name this version in their requests. */
  openToUsers: z.boolean(),
  reason,
});
export const versionAccessView = z.object({ name: z.string(), openToUsers: z.boolean() });

const estimate = z.object({
  value: z.number().nullable(),
  low: z.number().nullable().describe('lower end of the 95% interval'),
  high: z.number().nullable().describe('upper end of the 95% interval'),
  n: z.number().int().describe('observations the estimate rests on'),
});
export type ComparisonEstimate = z.output<typeof estimate>;

/** The measures compared between a split's versions. */
export const COMPARED_METRICS = [
  'thumbsUpRate',
  'meanStars',
  'correctionRate',
  'regenerateRate',
  'copyRate',
  'harmfulFlagRate',
] as const;
export type ComparedMetric = (typeof COMPARED_METRICS)[number];

export const comparisonQuery = z.strictObject({
  /** The smallest difference in thumbs-up rate (absolute, e.g. 0.05 = 5 points) worth detecting. */
  effect: z.coerce.number().gt(0).lt(1).default(0.05),
  /** Power of the test at that effect. */
  power: z.coerce.number().gt(0.5).lt(1).default(0.8),
});

const difference = z.object({
  metric: z.enum(COMPARED_METRICS),
  /** This version's value minus the baseline's; null when either is missing. */
  value: z.number().nullable(),
  low: z.number().nullable(),
  high: z.number().nullable(),
  /** Two-sided p-value of the two-proportion z test (null for mean stars: a Welch z test). */
  pValue: z.number().nullable(),
});

export const comparisonArmView = z.object({
  version: z.string(),
  versionId: z.string(),
  share: z.number(),
  baseline: z.boolean(),
  answers: z.number().int(),
  metrics: z.object({
    thumbsUpRate: estimate,
    meanStars: estimate,
    correctionRate: estimate,
    regenerateRate: estimate,
    copyRate: estimate,
    harmfulFlagRate: estimate,
  }),
  /** Against the baseline; empty for the baseline itself. */
  differences: z.array(difference),
  /**
   * Thumbs ratings this version still needs (beyond those it has) for the chosen effect on the
   * thumbs-up rate to be seen at alpha 0.05 with the chosen power; 0 when enough are in.
   */
  thumbsNeeded: z.number().int(),
  thumbsPerArmForEffect: z.number().int(),
});

export const splitComparisonView = z.object({
  split: trafficSplitView.nullable(),
  effect: z.number(),
  power: z.number(),
  arms: z.array(comparisonArmView),
});
export type SplitComparisonView = z.output<typeof splitComparisonView>;
