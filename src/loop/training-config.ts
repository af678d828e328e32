// The training overrides a run uses: the schedule's, with the request's laid over them (nested
// objects merge, arrays and values replace). Both are checked against the trainer's own schema
// when they are given, so a bad override is a 400 naming the field, not a failed run later.
import { checkedOverrides, type OverrideIssue, type Overrides } from './overrides.ts';
import { parseTrainingConfig, TrainingConfigSchema } from '../training/index.ts';

/** Problems with a set of overrides (empty when fine), with paths inside it. */
export function trainingConfigIssues(overrides: Overrides): OverrideIssue[] {
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
export const trainingOverridesInput = checkedOverrides(trainingConfigIssues);
