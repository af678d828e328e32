// The three fine-tuning objectives as functions of the parameters: SFT (answer tokens only,
// weighted by example), DPO (Rafailov et al. 2023) and KTO (Ethayarajh et al. 2024). Each returns
// the loss plus the scalars worth logging; reference log-probs come in precomputed.
import * as tf from '@tensorflow/tfjs';
import { crossEntropy, forward, sequenceLogProb, type ModelConfig, type ParamTensors } from '../llm/index.ts';

export interface ObjectiveResult {
  loss: tf.Scalar;
  metrics: Record<string, tf.Scalar>;
}

export type Objective = (params: ParamTensors) => ObjectiveResult;

/** log(sigmoid(x)) = -softplus(-x), written stably with ops every backend has gradients for. */
function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.add(tf.relu(tf.neg(x)), tf.log(tf.add(1, tf.exp(tf.neg(tf.abs(x)))))));
}

function weightedMean(values: tf.Tensor, weights: tf.Tensor): tf.Scalar {
  return tf.div(tf.sum(tf.mul(values, weights)), tf.maximum(tf.sum(weights), 1e-8)) as tf.Scalar;
}

export interface SftTensors {
  /** [B,T] int32 */
  inputs: tf.Tensor2D;
  /** [B,T] int32 */
  targets: tf.Tensor2D;
  /** [B,T]: example weight on completion targets, 0 on prompt targets and padding */
  weights: tf.Tensor2D;
}

export function sftObjective(config: ModelConfig, b: SftTensors): Objective {
  return (params) => ({
    loss: crossEntropy(forward(params, config, b.inputs), b.targets, b.weights),
    metrics: {},
  });
}

export interface DpoTensors {
  /** [2B,T]: the B chosen sequences, then the B rejected ones */
  tokens: tf.Tensor2D;
  /** [2B,T]: 1 on completion tokens */
  mask: tf.Tensor2D;
  /** [B] reference-model log-probs of the chosen / rejected completions */
  refChosen: tf.Tensor1D;
  refRejected: tf.Tensor1D;
  /** [B] example weights */
  weights: tf.Tensor1D;
}

/** -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))), weighted by example. */
export function dpoObjective(config: ModelConfig, beta: number, b: DpoTensors): Objective {
  return (params) => {
    const n = b.refChosen.shape[0];
    const logp = sequenceLogProb(params, config, b.tokens, b.mask);
    const chosen = tf.mul(tf.sub(tf.slice(logp, [0], [n]), b.refChosen), beta);
    const rejected = tf.mul(tf.sub(tf.slice(logp, [n], [n]), b.refRejected), beta);
    const margins = tf.sub(chosen, rejected);
    return {
      loss: weightedMean(tf.neg(logSigmoid(margins)), b.weights),
      metrics: {
        rewardsChosen: tf.mean(chosen) as tf.Scalar,
        rewardsRejected: tf.mean(rejected) as tf.Scalar,
        margins: tf.mean(margins) as tf.Scalar,
        accuracies: tf.mean(tf.cast(tf.greater(margins, 0), 'float32')) as tf.Scalar,
      },
    };
  };
}

export interface KtoTensors {
  /** [B,T] prompt + own completion */
  tokens: tf.Tensor2D;
  mask: tf.Tensor2D;
  /** [B] reference log-probs of the completions */
  ref: tf.Tensor1D;
  /** [B] 1 desirable, 0 undesirable */
  desirable: tf.Tensor1D;
  weights: tf.Tensor1D;
  /** Reference point z0: the batch's KL(policy || reference) estimate, clamped at 0, no gradient. */
  kl: tf.Scalar;
}

export interface KtoWeights {
  beta: number;
  desirableWeight: number;
  undesirableWeight: number;
}

/**
 * KTO: desirable examples lose 1 - sigmoid(beta (r - z0)), undesirable ones 1 - sigmoid(beta (z0 - r)),
 * with r = log pi/ref of the completion and z0 the (detached) KL estimate from mismatched pairs.
 */
export function ktoObjective(config: ModelConfig, w: KtoWeights, b: KtoTensors): Objective {
  return (params) => {
    const logp = sequenceLogProb(params, config, b.tokens, b.mask);
    const rewards = tf.mul(tf.sub(logp, b.ref), w.beta);
    const z = tf.mul(b.kl, w.beta);
    const undesirable = tf.sub(1, b.desirable);
    const losses = tf.add(
      tf.mul(tf.sub(1, tf.sigmoid(tf.sub(rewards, z))), tf.mul(b.desirable, w.desirableWeight)),
      tf.mul(tf.sub(1, tf.sigmoid(tf.sub(z, rewards))), tf.mul(undesirable, w.undesirableWeight)),
    );
    return {
      loss: weightedMean(losses, b.weights),
      metrics: {
        rewardsChosen: weightedMean(rewards, b.desirable),
        rewardsRejected: weightedMean(rewards, undesirable),
        kl: b.kl,
      },
    };
  };
}

/** z0 = max(0, mean(log pi(y'|x) - log ref(y'|x))) over mismatched pairs; computed without a tape. */
export function ktoKlEstimate(
  params: ParamTensors,
  config: ModelConfig,
  tokens: tf.Tensor2D,
  mask: tf.Tensor2D,
  ref: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(() => tf.maximum(tf.mean(tf.sub(sequenceLogProb(params, config, tokens, mask), ref)), 0));
}
