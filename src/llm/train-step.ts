// One optimisation step on plain tf.Variables: loss, gradients of the trainable subset, clipping,
// AdamW. Pretraining uses it as is; fine-tuning passes its own loss, mask, rates and subset.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.ts';
import { crossEntropy } from './losses.ts';
import { AdamW, clipByGlobalNorm } from './optimizer.ts';
import { isDecayed, toVariables, type ParamTensors, type ParamVariables } from './params.ts';
import { forward } from './transformer.ts';

export interface TrainState {
  config: ModelConfig;
  vars: ParamVariables;
  /** tf variable name -> parameter name */
  paramName: Map<string, string>;
  optimizer: AdamW;
}

export interface TrainBatch {
  /** [B,T] int32 */
  inputs: tf.Tensor2D;
  /** [B,T] int32: inputs shifted by one */
  targets: tf.Tensor2D;
  /** [B,T] float: per-token loss weights (e.g. 1 on answer tokens only). */
  weights?: tf.Tensor2D;
}

export type LossFn = (params: ParamTensors, config: ModelConfig, batch: TrainBatch) => tf.Scalar;

export const nextTokenLoss: LossFn = (params, config, batch) =>
  crossEntropy(forward(params, config, batch.inputs), batch.targets, batch.weights);

export interface StepOptions {
  /** One rate for all, or a rate per parameter name (layer-wise rates). */
  lr: number | ((paramName: string) => number);
  clipNorm?: number;
  /** Parameter names to update; the rest stay frozen. Defaults to all. */
  trainable?: readonly string[];
  loss?: LossFn;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
}

export function createTrainState(
  config: ModelConfig,
  params: ParamTensors,
  opts: { beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number } = {},
): TrainState {
  const { vars, paramName } = toVariables(params);
  const optimizer = new AdamW({
    beta1: opts.beta1 ?? 0.9,
    beta2: opts.beta2 ?? 0.99,
    epsilon: opts.epsilon ?? 1e-8,
    weightDecay: opts.weightDecay ?? 0.1,
    decays: isDecayed,
  });
  return { config, vars, paramName, optimizer };
}

export function disposeTrainState(state: TrainState): void {
  for (const v of Object.values(state.vars)) v.dispose();
  state.optimizer.dispose();
}

/** Runs one step entirely inside tf.tidy, so no tensor outlives it except updated variables. */
export function trainStep(state: TrainState, batch: TrainBatch, opts: StepOptions): StepResult {
  const lossFn = opts.loss ?? nextTokenLoss;
  const names = opts.trainable ?? Object.keys(state.vars);
  const varList = names.map((n) => {
    const v = state.vars[n];
    if (!v) throw new Error(`unknown trainable parameter ${n}`);
    return v;
  });
  const lrFor = typeof opts.lr === 'number' ? () => opts.lr as number : opts.lr;
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => lossFn(state.vars, state.config, batch), varList);
    const byParam: Record<string, tf.Tensor> = {};
    for (const [varName, g] of Object.entries(grads)) byParam[state.paramName.get(varName) ?? varName] = g;
    const { grads: clipped, norm } = opts.clipNorm
      ? clipByGlobalNorm(byParam, opts.clipNorm)
      : { grads: byParam, norm: globalNorm(byParam) };
    state.optimizer.apply(state.vars, clipped, lrFor);
    return { loss: value.dataSync()[0]!, gradNorm: norm.dataSync()[0]! };
  });
}

function globalNorm(grads: Record<string, tf.Tensor>): tf.Scalar {
  return tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
}

/** Mean loss without gradients (validation). */
export function evaluateLoss(
  params: ParamTensors,
  config: ModelConfig,
  batch: TrainBatch,
  loss: LossFn = nextTokenLoss,
): number {
  return tf.tidy(() => loss(params, config, batch).dataSync()[0]!);
}

/** Plain-number batch to tensors; dispose the result after the step. */
export function batchTensors(
  inputs: Int32Array,
  targets: Int32Array,
  batchSize: number,
  seqLen: number,
  weights?: Float32Array,
): TrainBatch {
  return {
    inputs: tf.tensor2d(inputs, [batchSize, seqLen], 'int32'),
    targets: tf.tensor2d(targets, [batchSize, seqLen], 'int32'),
    weights: weights ? tf.tensor2d(weights, [batchSize, seqLen], 'float32') : undefined,
  };
}

export function disposeBatch(batch: TrainBatch): void {
  batch.inputs.dispose();
  batch.targets.dispose();
  batch.weights?.dispose();
}
