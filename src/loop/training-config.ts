// The training overrides a run uses: the schedule's, with the request's laid over them (nested
// objects merge, arrays and values replace). Both are checked against the trainer's own schema
// when they are given, so a bad override is a 400 naming the field, not a failed run later.
import { z } from 'zod';
import { parseTrainingConfig, TrainingConfigSchema } from '../training/index.ts';

type Json = Record<string, unknown>;
const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergeTrainingOverrides(base: Json, overrides: Json | undefined): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    const current = out[key];
    out[key] =
      isPlainObject(current) && isPlainObject(value) ? mergeTrainingOverrides(current, value) : value;
  }
  return out;
}

/** Problems with a set of overrides (empty when fine), with paths inside it. */
export function trainingConfigIssues(overrides: Json): { path: PropertyKey[]; message: string }[] {
  const parsed = TrainingConfigSchema.safeParse(overrides);
  if (!parsed.success) return parsed.error.issues.map((i) => ({ path: i.path, message: i.message }));
  try {
    parseTrainingConfig(overrides);
    return [];
  } catch (err) {
    return [{ path: ['precision'], message: (err as Error).message }];
  }
}

/** A request body's `training`: partial TrainingConfigInput, validated by the trainer's schema. */
export const trainingOverridesInput = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  for (const issue of trainingConfigIssues(value))
    ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
});
