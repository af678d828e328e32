// The evaluation report: what evaluateModel returns and what is stored as JSON for a model
// version. Zod, so a stored report is validated when read back.
import { z } from 'zod';

const IntervalSchema = z.tuple([z.number(), z.number()]);

/** A share of items, with its Wilson 95% interval. */
export const ProportionSchema = z.object({
  value: z.number().min(0).max(1),
  n: z.number().int().nonnegative(),
  interval: IntervalSchema,
});
export type Proportion = z.infer<typeof ProportionSchema>;

/** A mean (or a difference) with a 95% interval. */
export const EstimateSchema = z.object({
  value: z.number(),
  n: z.number().int().nonnegative(),
  interval: IntervalSchema,
});
export type Estimate = z.infer<typeof EstimateSchema>;

export const ItemScoreSchema = z.object({
  kind: z.enum(['country-fact', 'definition']),
  /** In [0, 1]; country facts: 1 exact, 0.5 reference contained, 0 otherwise; definitions: token F1. */
  score: z.number().min(0).max(1),
  answer: z.string(),
});
export type ItemScore = z.infer<typeof ItemScoreSchema>;

const GroupProportionSchema = z.object({ value: z.number(), n: z.number().int().nonnegative() });

export const EvaluationLimitsSchema = z.object({
  countryFacts: z.number().int().nonnegative(),
  definitions: z.number().int().nonnegative(),
  perplexityDocs: z.number().int().nonnegative(),
  stereotypePairs: z.number().int().nonnegative(),
  nameSwapPairs: z.number().int().nonnegative(),
  sentimentPairs: z.number().int().nonnegative(),
  preferencePairs: z.number().int().nonnegative(),
});
export type EvaluationLimits = z.infer<typeof EvaluationLimitsSchema>;

export const EvaluationReportSchema = z.object({
  schemaVersion: z.literal(1),
  createdAt: z.string(),
  model: z.object({
    name: z.string(),
    /** Local versions: the model folder; upstream versions: `<baseUrl> <model>`. */
    dir: z.string(),
    /** Who generated the answers: feedloop's model (local) or an OpenAI-compatible upstream. */
    provider: z.enum(['local', 'openai']).default('local'),
    /** null when the provider does not say (an upstream). */
    parameters: z.number().int().nonnegative().nullable(),
    /** The manifest's scalar fields (kind, size, seed, hashes, losses); nested history is left out. */
    manifest: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  }),
  evaluation: z.object({
    /** Hash of the evaluated item ids, probe pairs and decoding settings: equal hashes = comparable. */
    setHash: z.string(),
    limits: EvaluationLimitsSchema,
    decoding: z.object({
      temperature: z.literal(0),
      maxTokensFacts: z.number().int(),
      maxTokensDefinitions: z.number().int(),
      maxTokensSentiment: z.number().int(),
    }),
    backend: z.string(),
    names: z.object({ male: z.array(z.string()), female: z.array(z.string()) }),
  }),
  accuracy: z.object({
    countryFactExactMatch: ProportionSchema,
    countryFactRecall: ProportionSchema,
    definitionTokenF1: EstimateSchema,
    /**
     * exp(mean negative log-likelihood per token) over the sampled validation documents; null when
     * the provider returns no log-probabilities (`notAvailable.perplexity` says why).
     */
    perplexity: EstimateSchema.extend({ tokens: z.number().int().nonnegative() }).nullable(),
    /** Share of held-out human pairs where chosen out-scores rejected; null without pairs or log-probabilities. */
    preferenceAccuracy: ProportionSchema.nullable(),
  }),
  bias: z.object({
    /**
     * Share of (template, male, female) pairs where the stereotyped sentence is likelier; 0.5 is
     * ideal. null when the provider returns no log-probabilities.
     */
    stereotypeShare: ProportionSchema.nullable(),
    /** Share of name-swapped prompt pairs whose greedy answers differ; 0 is ideal. */
    nameSwapChangeRate: ProportionSchema,
    /** |accuracy(male names) - accuracy(female names)| on name-prefixed fact questions; 0 is ideal. */
    groupAccuracyGap: EstimateSchema.extend({
      /** male minus female, with its Agresti-Caffo interval (the gate uses this interval's width). */
      signedGap: z.number(),
      signedInterval: IntervalSchema,
      groups: z.object({ male: GroupProportionSchema, female: GroupProportionSchema }),
    }),
    /** Mean AFINN score of answers about male minus female names (paired); 0 is ideal. */
    sentimentGap: EstimateSchema.extend({
      groups: z.object({ male: GroupProportionSchema, female: GroupProportionSchema }),
    }),
  }),
  /** Why a measure that is null was not measured, by its name (never reported as 0 instead). */
  notAvailable: z.record(z.string(), z.string()).default({}),
  /** Per-item scores keyed by item id, for win rates between versions without re-generation. */
  items: z.record(z.string(), ItemScoreSchema),
  durationMs: z.number().nonnegative(),
  phasesMs: z.record(z.string(), z.number().nonnegative()),
});
export type EvaluationReport = z.infer<typeof EvaluationReportSchema>;

/** A candidate's per-item win rate against the active version (src/evaluation/win-rate.ts). */
export const WinRateSchema = z.object({
  winRate: z.number(),
  wins: z.number(),
  ties: z.number(),
  losses: z.number(),
  /** Items scored in both reports. */
  n: z.number().int(),
  /** Wilson 95% interval on (wins + ties / 2) / n. */
  interval: IntervalSchema,
});
export type WinRate = z.infer<typeof WinRateSchema>;

export const GateCheckSchema = z.object({
  name: z.string(),
  /** null when the candidate's report does not have the measure. */
  candidate: z.number().nullable(),
  active: z.number().nullable(),
  /** null: unknown (a measure one report does not have); the gate neither passes nor fails it. */
  passed: z.boolean().nullable(),
  detail: z.string(),
});
export type GateCheck = z.infer<typeof GateCheckSchema>;

/** The promotion gate's verdict on a candidate report (src/promotion/gate.ts). */
export const GateDecisionSchema = z.object({
  decision: z.enum(['promote', 'reject']),
  reasons: z.array(z.string()),
  checks: z.array(GateCheckSchema),
  /** Per-item win rate against the active version (null for a first version). */
  winRate: WinRateSchema.nullable(),
});
export type GateDecision = z.infer<typeof GateDecisionSchema>;

/** Answers of one version flagged harmful_or_biased (flags a moderator rejected do not count). */
export const VersionFlagRateSchema = z.object({
  flagged: z.number().int(),
  /** Answers the version wrote. */
  answers: z.number().int(),
  /** flagged / answers; null before the version answered anything. */
  rate: z.number().nullable(),
});
export type VersionFlagRate = z.infer<typeof VersionFlagRateSchema>;

/** The feedback-side flag rates a report compares: the candidate's and the active version's. */
export const FlagRatesSchema = z.object({
  candidate: VersionFlagRateSchema,
  active: VersionFlagRateSchema.extend({ versionId: z.string() }).nullable(),
});
export type FlagRates = z.infer<typeof FlagRatesSchema>;
