// Layer normalisation over the last axis with a closed-form gradient. Autodiff of the composed
// ops takes ~20 kernels per call, and the gain/bias gradients reduce over the row axis, which the
// wasm backend does by transposing first; here those two sums are ones-vector matmuls.
import * as tf from '@tensorflow/tfjs';

export function layerNorm(x: tf.Tensor2D, gain: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D {
  const f = tf.customGrad((xi, gi, bi, save) => {
    const input = xi as tf.Tensor2D;
    const mean = tf.mean(input, -1, true);
    const centered = tf.sub(input, mean);
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps));
    const normed = tf.mul(centered, rstd);
    // The gain is a parameter that outlives the step: read directly, not copied by save.
    (save as tf.GradSaveFunc)([normed, rstd]);
    return {
      value: tf.add(tf.mul(normed, gi as tf.Tensor1D), bi as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xhat, r] = saved as [tf.Tensor2D, tf.Tensor2D];
        const g = gain;
        const d = dy as tf.Tensor2D;
        return tf.tidy(() => {
          const dxhat = tf.mul(d, g);
          // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
          const dx = tf.mul(
            r,
            tf.sub(
              tf.sub(dxhat, tf.mean(dxhat, -1, true)),
              tf.mul(xhat, tf.mean(tf.mul(dxhat, xhat), -1, true)),
            ),
          );
          const ones = tf.ones([1, d.shape[0]]) as tf.Tensor2D;
          const dim = d.shape[1];
          const dGain = tf.reshape(tf.matMul(ones, tf.mul(d, xhat)), [dim]);
          const dBias = tf.reshape(tf.matMul(ones, d), [dim]);
          return [dx, dGain, dBias];
        });
      },
    };
  });
  return f(x, gain, bias) as tf.Tensor2D;
}
