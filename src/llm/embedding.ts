// Embedding lookup with its own gradient. The wasm backend lacks UnsortedSegmentSum, which
// tf.gather's gradient needs; a one-hot matmul works but costs 2*N*V*d FLOPs per step, so the
// rows are scatter-added on the host instead (exact, and O(N*d)).
import * as tf from '@tensorflow/tfjs';

export function embed(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const [vocab, dim] = table.shape;
  const lookup = tf.customGrad((tbl, idx, save) => {
    (save as tf.GradSaveFunc)([idx as tf.Tensor]);
    return {
      value: tf.gather(tbl as tf.Tensor2D, idx as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const rows = (dy as tf.Tensor).dataSync() as Float32Array;
        const index = saved[0]!.dataSync();
        const grad = new Float32Array(vocab * dim);
        for (let i = 0; i < index.length; i++) {
          const dst = index[i]! * dim;
          const src = i * dim;
          for (let j = 0; j < dim; j++) grad[dst + j]! += rows[src + j]!;
        }
        return [tf.tensor2d(grad, [vocab, dim]), tf.zerosLike(saved[0]!)];
      },
    };
  });
  return lookup(table, ids) as tf.Tensor2D;
}
