// Next-token losses on logits. A per-token weight lets fine-tuning score answer tokens only
// (SFT), and per-sequence log-probs feed preference losses (DPO/KTO).
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.ts';
import type { ParamTensors } from './params.ts';
import { forward } from './transformer.ts';

/** Probabilities below this are clamped before the log, bounding a token's loss at ~69 nats. */
const MIN_PROB = 1e-30;

/**
 * log p(target) per position: logits [B,T,V], targets [B,T] int32 -> [B,T].
 * Written with the native softmax kernel and a closed-form gradient (onehot - softmax): the
 * generic logSumExp path costs several slow passes over the [B*T, V] logits on wasm, and
 * gather's gradient does not exist there at all.
 */
export function tokenLogProbs(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Tensor2D {
  const vocab = logits.shape[2];
  const f = tf.customGrad((lg, tg, save) => {
    const probs = tf.softmax(lg as tf.Tensor3D);
    // Cast rather than oneHot(..., 'float32'): the wasm OneHot kernel writes int bits into float output.
    const oneHot = tf.cast(tf.oneHot(tg as tf.Tensor2D, vocab), 'float32');
    (save as tf.GradSaveFunc)([probs, oneHot]);
    const picked = tf.sum(tf.mul(probs, oneHot), -1);
    return {
      value: tf.log(tf.maximum(picked, MIN_PROB)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [p, oh] = saved as [tf.Tensor, tf.Tensor];
        return [tf.mul(tf.sub(oh, p), tf.expandDims(dy as tf.Tensor, -1)), tf.zerosLike(tg as tf.Tensor)];
      },
    };
  });
  return f(logits, targets) as tf.Tensor2D;
}

/**
 * Mean cross-entropy over positions; with `weights` [B,T] it is sum(w * nll) / sum(w), so a mask of
 * zeros and ones restricts the loss to chosen tokens.
 */
export function crossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, weights?: tf.Tensor2D): tf.Scalar {
  const nll = tf.neg(tokenLogProbs(logits, targets));
  if (!weights) return tf.mean(nll);
  return tf.div(tf.sum(tf.mul(nll, weights)), tf.maximum(tf.sum(weights), 1e-8));
}

/**
 * Sum of log p(tokens[t] | tokens[<t]) over positions t >= 1 where `mask[t]` is 1:
 * tokens [B,T] int32, mask [B,T] float -> [B]. Position 0 has no prediction and is ignored.
 */
export function sequenceLogProb(
  params: ParamTensors,
  c: ModelConfig,
  tokens: tf.Tensor2D,
  mask: tf.Tensor2D,
): tf.Tensor1D {
  const [b, t] = tokens.shape;
  const inputs = tf.slice(tokens, [0, 0], [b, t - 1]);
  const targets = tf.slice(tokens, [0, 1], [b, t - 1]);
  const targetMask = tf.slice(mask, [0, 1], [b, t - 1]);
  const logp = tokenLogProbs(forward(params, c, inputs), targets);
  return tf.sum(tf.mul(logp, targetMask), 1) as tf.Tensor1D;
}
