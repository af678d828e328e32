// Public surface of the language model for the rest of feedloop (HTTP routes, fine-tuning and
// evaluation workers). Import from here rather than from individual modules.
export { selectBackend, parseBackendChoice, type BackendChoice, type BackendReport } from './backend.ts';
export {
  CHAT_STOP,
  ChatMessageSchema,
  formatChatExample,
  formatChatPrompt,
  SPECIAL_TOKENS,
  type ChatMessage,
  type ChatRole,
} from './chat-format.ts';
export { CHECKPOINT_FILES, loadModel, saveModel, type LoadedModel } from './checkpoint.ts';
export {
  assertPrecisionSupported,
  MODEL_SIZES,
  modelConfigFor,
  ModelConfigSchema,
  PretrainConfigSchema,
  type ModelConfig,
  type ModelSize,
  type PretrainConfig,
} from './config.ts';
export { heldOutQuestions, buildCorpus, countryQuestionSuite, questionSuite } from './corpus/build.ts';
export type { QuestionItem } from './corpus/documents.ts';
export { isHeldOutQuestion, isValidationDocument } from './corpus/split.ts';
export {
  GenerationOptionsSchema,
  GenerationSession,
  type FinishReason,
  type GenerationOptions,
  type GenerationOptionsInput,
  type GenerationResult,
} from './generate.ts';
export { crossEntropy, sequenceLogProb, tokenLogProbs } from './losses.ts';
export { AdamW, clipByGlobalNorm } from './optimizer.ts';
export {
  countParams,
  initParams,
  isDecayed,
  paramGroups,
  type ParamGroup,
  type ParamTensors,
} from './params.ts';
export { cyclicLr, warmupCosineLr, type Cyclic, type WarmupCosine } from './schedules.ts';
export { TextTokenizer } from './tokenizer.ts';
export {
  batchTensors,
  createTrainState,
  disposeBatch,
  disposeTrainState,
  evaluateLoss,
  nextTokenLoss,
  trainStep,
  type LossFn,
  type StepOptions,
  type TrainBatch,
  type TrainState,
} from './train-step.ts';
export { forward, forwardChunk, trainFlopsPerToken } from './transformer.ts';
