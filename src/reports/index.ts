// Public surface of src/reports: evaluation of a model version, win rates between versions, the
// promotion gate, and the evaluation prompts the datasets guard keeps out of training.
export {
  evaluateModel,
  DEFAULT_EVALUATION_LIMITS,
  DECODING,
  type EvaluationOptions,
  type PreferencePair,
} from './evaluate.ts';
export { winRate, type WinRate } from './win-rate.ts';
export {
  gateDecision,
  DEFAULT_GATE_POLICY,
  type GateCheck,
  type GateDecision,
  type GatePolicy,
} from './gate.ts';
export {
  EvaluationReportSchema,
  ProportionSchema,
  EstimateSchema,
  ItemScoreSchema,
  type EvaluationLimits,
  type EvaluationReport,
  type Estimate,
  type ItemScore,
  type Proportion,
} from './schemas.ts';
export {
  countryFactItems,
  definitionItems,
  evaluationPrompts,
  validationDocuments,
} from './validation-sets.ts';
export { probeNames, stereotypeTemplates, nameSwapFacts } from './bias-probes.ts';
export { wilsonInterval, proportionDifference, meanInterval, type Interval } from './statistics.ts';
export {
  normalizeAnswer,
  isExactMatch,
  containsReference,
  tokenF1,
  stripDefinitionLeadIn,
} from './text-scoring.ts';
