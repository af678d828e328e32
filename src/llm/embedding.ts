// Embedding lookup with its own gradient. The wasm backend lacks UnsortedSegmentSum, which
// tf.gather's gradient needs; a one-hot matmul works but costs 2*N*V*d FLOPs per step, so the
// rows are scatter-added on the host instead (exact, and O(N*d)).
import * as tf from '@tensorflow/tfjs';

/** Row sums of `rows` [ids.length, dim] per distinct id, accumulated from zero in id order. */
function rowSums(ids: ArrayLike<number>, rows: Float32Array, dim: number): Map<number, Float32Array> {
  const sums = new Map<number, Float32Array>();
  for (let i = 0; i < ids.length; i++) {
    let sum = sums.get(ids[i]!);
    if (!sum) sums.set(ids[i]!, (sum = new Float32Array(dim)));
    for (let j = 0; j < dim; j++) sum[j]! += rows[i * dim + j]!;
  }
  return sums;
}

/**
 * table[ids]. The table's gradient is `base` (a [V,d] gradient from elsewhere, consumed) plus the
 * scatter-added rows, or the rows alone; `base` is read when the backward pass reaches the lookup.
 */
function lookupWithBase(
  table: tf.Tensor2D,
  ids: tf.Tensor1D,
  takeBase: () => tf.Tensor2D | null,
): tf.Tensor2D {
  const [vocab, dim] = table.shape;
  const lookup = tf.customGrad((tbl, idx, save) => {
    (save as tf.GradSaveFunc)([idx as tf.Tensor]);
    return {
      value: tf.gather(tbl as tf.Tensor2D, idx as tf.Tensor1D),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const sums = rowSums(saved[0]!.dataSync(), (dy as tf.Tensor).dataSync() as Float32Array, dim);
        const base = takeBase();
        // Summed on the host, so the backend holds one [V,d] gradient at a time, never two plus
        // their sum: the same float sums as adding a dense scatter (untouched rows stay as they
        // are). `base` is this lookup's alone, so its data is reused once it is disposed.
        const grad = base ? (base.dataSync() as Float32Array) : new Float32Array(vocab * dim);
        base?.dispose();
        for (const [id, sum] of sums) {
          const row = id * dim;
          for (let j = 0; j < dim; j++) grad[row + j] = grad[row + j]! + sum[j]!;
        }
        return [tf.tensor2d(grad, [vocab, dim]), tf.zerosLike(saved[0]!)];
      },
    };
  });
  return lookup(table, ids) as tf.Tensor2D;
}

export function embed(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  return lookupWithBase(table, ids, () => null);
}

/** A token table used twice: looked up at the input, and transposed as the output projection. */
export interface TiedEmbedding {
  /** table[ids] -> [N, d]. */
  lookup(ids: tf.Tensor1D): tf.Tensor2D;
  /** x [N,d] @ table^T -> [N, V]. */
  project(x: tf.Tensor2D): tf.Tensor2D;
}

/**
 * Tied input and output embeddings whose table gradient is built as one tensor. Left to TF.js, the
 * projection's [V,d] gradient and the lookup's dense [V,d] scatter would be added, holding three
 * [V,d] tensors at once (442 MiB for gpt2-small's 50k vocabulary). Here the projection hands its
 * table gradient to the lookup, whose backward pass always comes later (it feeds the network),
 * and which adds its rows to it. The table reaches the projection through the closure (not as an
 * input), so TF.js sees one use of it: pass a parameter that outlives the step.
 */
export function tiedEmbedding(table: tf.Tensor2D): TiedEmbedding {
  let pending: tf.Tensor2D | null = null;
  const takePending = () => {
    const p = pending;
    pending = null;
    return p;
  };
  const projectFn = tf.customGrad((xi, save) => {
    const x = xi as tf.Tensor2D;
    (save as tf.GradSaveFunc)([x]);
    return {
      // (table @ x^T)^T, not x @ transpose(table): on wasm a plain matmul packs its right
      // operand, and the table changes every training step, so the old form transposed and packed
      // all [V,d] of it per call; here only x^T [d,N] is packed and the [V,N] product transposed.
      // Measured on gpt2-small's table at 128 tokens: 0.41 s against 1.16 s, bit-identical.
      value: tf.transpose(tf.matMul(table, tf.transpose(x))),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sa] = saved as [tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        // dE = g^T x. Transpose whichever is smaller: the [N,V] gradient when there are fewer
        // rows than the width (a short batch of a large-vocabulary model), otherwise the [d,V]
        // product, so the big [N,V] gradient of a long batch is never transposed.
        const [rows, width] = sa.shape;
        const [dx, dE] = tf.tidy(() => [
          tf.matMul(g, table),
          rows < width ? tf.matMul(tf.transpose(g), sa) : tf.transpose(tf.matMul(tf.transpose(sa), g)),
        ]) as [tf.Tensor2D, tf.Tensor2D];
        if (pending) {
          // Projected twice before one lookup: the same sum TF.js would form.
          const sum = tf.add(pending, dE) as tf.Tensor2D;
          tf.dispose([pending, dE]);
          pending = sum;
        } else pending = dE;
        return [dx];
      },
    };
  });
  return {
    lookup: (ids) => lookupWithBase(table, ids, takePending),
    project: (x) => projectFn(x) as tf.Tensor2D,
  };
}
