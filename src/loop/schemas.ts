// The loop's request bodies as the server checks them: the contract's (src/contract/loop.ts), with
// training and dataset overrides checked against the trainer's and the dataset builder's own
// schemas, so a bad override is a 400 naming the field.
import { schedulePatch as schedulePatchShape } from '../contract/loop.ts';
import { datasetOverridesInput } from './dataset-config.ts';
import { trainingOverridesInput } from './training-config.ts';

export const schedulePatch = schedulePatchShape.extend({
  training: trainingOverridesInput.optional(),
  datasets: datasetOverridesInput.optional(),
});
