// Public surface of fine-tuning for the rest of feedloop (the train job calls fineTune).
export {
  METHODS,
  parseTrainingConfig,
  TrainingConfigSchema,
  type Method,
  type TrainingConfig,
  type TrainingConfigInput,
} from './config.ts';
export {
  fineTune,
  type FineTuneInput,
  type FineTuneResult,
  type MethodResult,
  type TrainingProgress,
} from './fine-tune.ts';
export { STATE_FILE } from './run-state.ts';
