// The training overrides a run uses: the schedule's, with the request's laid over them (nested
// objects merge, arrays and values replace). Both are checked when they are given, so a bad
// override is a 400 naming the field, not a failed run later: first against the bounds below
// (strict: an unknown field is refused, and no value can make one run train for days or exhaust
// memory), then against the trainer's own schema.
import { z } from 'zod';
import { checkedOverrides, overrideIssues, type OverrideIssue, type Overrides } from './overrides.ts';
import { METHODS, parseTrainingConfig, TrainingConfigSchema } from '../training/index.ts';

/** Largest batch a run may ask for: the committed model trains batches of 16; 512 already needs GBs. */
export const MAX_BATCH_SIZE = 512;
/**
 * Most passes over a snapshot one method may make: small snapshots (a dozen corrections) are
 * trained for hundreds of epochs, bounded by maxSteps; 1e9 is never meant.
 */
export const MAX_EPOCHS = 1_000;
/** Most optimiser steps one method may take, whatever the epochs. */
export const MAX_STEPS = 100_000;

const positiveAtMost = (max: number) => z.number().positive().max(max);
const intBetween = (min: number, max: number) => z.number().int().min(min).max(max);
const share = z.number().min(0).max(1);
const MethodSchema = z.enum(METHODS);

const method = {
  lr: positiveAtMost(1),
  epochs: positiveAtMost(MAX_EPOCHS),
  maxSteps: intBetween(0, MAX_STEPS),
  minExamples: intBetween(0, 10_000_000),
};

/** Every field of the trainer's config, optional, strict and bounded. */
export const trainingOverridesBounds = z
  .strictObject({
    methods: z.array(MethodSchema).min(1).max(3),
    // The trainer's own schema checks the value (and that TF.js can compute in it).
    precision: z.string(),
    batchSize: intBetween(1, MAX_BATCH_SIZE),
    clipNorm: positiveAtMost(1_000),
    weightDecay: share,
    beta1: share,
    beta2: share,
    layerDecay: positiveAtMost(1),
    schedule: z
      .strictObject({
        kind: z.enum(['cosine', 'cyclic']),
        warmupFraction: share,
        minLrRatio: share,
        cycleSteps: intBetween(1, MAX_STEPS),
        cyclicShape: z.enum(['triangular', 'cosine']),
      })
      .partial(),
    unfreezing: z
      .strictObject({
        enabled: z.boolean(),
        initialGroups: intBetween(1, 1_000),
        stepsPerStage: intBetween(1, MAX_STEPS),
      })
      .partial(),
    earlyStopping: z
      .strictObject({
        enabled: z.boolean(),
        methods: z.array(MethodSchema).max(3),
        evalEvery: intBetween(1, MAX_STEPS),
        patience: intBetween(1, 1_000),
        minDelta: z.number().min(0).max(100),
        includeStartFor: z.array(MethodSchema).max(3),
        maxExamples: intBetween(1, 100_000),
      })
      .partial(),
    checkpointEvery: intBetween(1, MAX_STEPS),
    maxSequenceTokens: intBetween(0, 65_536),
    sft: z.strictObject(method).partial(),
    dpo: z.strictObject({ ...method, beta: positiveAtMost(100) }).partial(),
    kto: z
      .strictObject({
        ...method,
        beta: positiveAtMost(100),
        desirableWeight: positiveAtMost(100),
        undesirableWeight: positiveAtMost(100),
      })
      .partial(),
  })
  .partial();

/** Problems with a set of overrides (empty when fine), with paths inside it. */
export function trainingConfigIssues(overrides: Overrides): OverrideIssue[] {
  const bounded = trainingOverridesBounds.safeParse(overrides);
  if (!bounded.success) return overrideIssues(bounded.error);
  const parsed = TrainingConfigSchema.safeParse(overrides);
  if (!parsed.success) return overrideIssues(parsed.error);
  try {
    parseTrainingConfig(overrides);
    return [];
  } catch (err) {
    return [{ path: ['precision'], message: (err as Error).message }];
  }
}

/** A request body's `training`: partial TrainingConfigInput, strict and bounded. */
export const trainingOverridesInput = checkedOverrides(trainingConfigIssues);
