// Matrix products whose gradients avoid transposed matmuls. On the wasm backend a matmul with
// transposeA/transposeB is 10-30x slower than a plain one (measured: [2048,4096]^T x [2048,192]
// took 3.2 s against ~0.1 s after an explicit transpose), and TF.js's own matMul gradient uses them.
//
// Only the activation is saved for the backward pass: TF.js saves by copying (on wasm, a full copy
// of the data), and the weight is a parameter that outlives the step anyway, so the gradient
// function reads it directly. That spares a copy of every weight per step: 0.5 GB for gpt2-small.
// Weights must therefore be tensors made outside the function being differentiated (parameters).
//
// The input gradient g @ w^T is computed as (w @ g^T)^T. On wasm only a plain matmul reaches
// XNNPACK, which packs its right operand on first use (cached per tensor); a weight changes every
// step, so g @ transpose(w) made a transposed copy of every weight each step and packed it too.
// Transposing g and the product instead moves tokens x width elements, not the whole weight:
// measured at 128 tokens on gpt2-small's four shapes, 108 ms against 268 ms a layer, with
// bit-identical results.
//
// Gradient functions run in tf.tidy: TF.js calls a custom gradient outside any scope of its own,
// so the transposed copies would otherwise live until the whole backward pass ends (a copy of
// every weight: 324 MiB for gpt2-small).
import * as tf from '@tensorflow/tfjs';

/** g [N,out] @ w^T as (w @ g^T)^T: the weight [in,out] is the left operand, never transposed. */
function inputGradient(g: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.transpose(tf.matMul(w, tf.transpose(g))) as tf.Tensor2D;
}

/** x [N,in] @ w [in,out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((a, b, save) => {
    (save as tf.GradSaveFunc)([a as tf.Tensor]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sa] = saved as [tf.Tensor2D];
        const sb = w;
        const g = dy as tf.Tensor2D;
        return tf.tidy(() => [inputGradient(g, sb), tf.matMul(tf.transpose(sa), g)]);
      },
    };
  });
  return f(x, w) as tf.Tensor2D;
}

/**
 * x @ w + b with the bias gradient as a ones-vector matmul: wasm reduces over a non-innermost
 * axis by transposing first, which made bias gradients cost more than some of the matmuls.
 */
export function affine(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  const f = tf.customGrad((a, b, c, save) => {
    (save as tf.GradSaveFunc)([a as tf.Tensor]);
    return {
      value: tf.add(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), c as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sa] = saved as [tf.Tensor2D];
        const sb = w;
        const g = dy as tf.Tensor2D;
        return tf.tidy(() => {
          const ones = tf.ones([1, g.shape[0]]) as tf.Tensor2D;
          return [
            inputGradient(g, sb),
            tf.matMul(tf.transpose(sa), g),
            tf.reshape(tf.matMul(ones, g), [g.shape[1]]),
          ];
        });
      },
    };
  });
  return f(x, w, bias) as tf.Tensor2D;
}
