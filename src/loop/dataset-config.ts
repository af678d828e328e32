// The dataset build settings a run uses: the schedule's overrides with the request's laid over
// them, checked against the builder's own schema so a bad setting is a 400 naming the field. The
// window is not a setting: every run reads all feedback up to its own creation.
import { datasetBuildConfigSchema } from '../contract/dataset-build-config.ts';
import { checkedOverrides, overrideIssues, type OverrideIssue, type Overrides } from './overrides.ts';

const overridesSchema = datasetBuildConfigSchema.omit({ window: true });

/** Problems with a set of overrides (empty when fine), with paths inside it. */
export function datasetConfigIssues(overrides: Overrides): OverrideIssue[] {
  const parsed = overridesSchema.safeParse(overrides);
  return parsed.success ? [] : overrideIssues(parsed.error);
}

/** A request body's `datasets`: partial DatasetBuildConfigInput without `window`. */
export const datasetOverridesInput = checkedOverrides(datasetConfigIssues);
