// One fine-tuning step: gradients of the trainable groups only, clipping by global norm over them,
// then each group's own AdamW at its own rate. Everything inside tf.tidy, so only the updated
// variables (and optimizer moments) outlive it.
import * as tf from '@tensorflow/tfjs';
import { clipByGlobalNorm } from '../llm/index.ts';
import type { StageOptimizers } from './layers.ts';
import type { Objective } from './objectives.ts';

export interface FineTuneStepResult {
  loss: number;
  gradNorm: number;
  metrics: Record<string, number>;
}

export function fineTuneStep(
  vars: Record<string, tf.Variable>,
  paramName: Map<string, string>,
  optimizers: StageOptimizers,
  objective: Objective,
  lr: number,
  clipNorm: number,
): FineTuneStepResult {
  const varList = optimizers.trainableParams().map((n) => vars[n]!);
  return tf.tidy(() => {
    let metrics: Record<string, number> = {};
    const { value, grads } = tf.variableGrads(() => {
      const r = objective(vars);
      // Read here: variableGrads disposes everything f creates except the loss.
      metrics = Object.fromEntries(Object.entries(r.metrics).map(([k, t]) => [k, t.dataSync()[0]!]));
      return r.loss;
    }, varList);
    const byParam: Record<string, tf.Tensor> = {};
    for (const [varName, g] of Object.entries(grads)) byParam[paramName.get(varName) ?? varName] = g;
    const { grads: clipped, norm } = clipByGlobalNorm(byParam, clipNorm);
    optimizers.apply(vars, clipped, lr);
    return { loss: value.dataSync()[0]!, gradNorm: norm.dataSync()[0]!, metrics };
  });
}

/** Loss and metrics without gradients (validation). */
export function evaluateObjective(
  vars: Record<string, tf.Tensor>,
  objective: Objective,
): { loss: number; metrics: Record<string, number> } {
  return tf.tidy(() => {
    const r = objective(vars);
    return {
      loss: r.loss.dataSync()[0]!,
      metrics: Object.fromEntries(Object.entries(r.metrics).map(([k, t]) => [k, t.dataSync()[0]!])),
    };
  });
}
