// AdamW with state keyed by parameter name, and clipping by global norm.
//
// Written here rather than using tf.train.adam: TF.js optimizers take one learning rate and key
// their slots by position, while fine-tuning needs per-group rates and changing trainable sets.
// Keying moments by name makes both trivial and makes the state easy to checkpoint.
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** Which parameters get decoupled weight decay. */
  decays: (name: string) => boolean;
}

export class AdamW {
  readonly options: AdamWOptions;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly steps = new Map<string, number>();

  constructor(options: AdamWOptions) {
    this.options = options;
  }

  /**
   * Applies one update to every parameter that has a gradient, and disposes each gradient once it
   * is used. Temporaries are freed as the update goes instead of at the caller's tf.tidy: a dozen
   * tensors the size of gpt2-small's 38.6M-row embedding would not fit the wasm backend's 4 GiB.
   */
  apply(
    params: Record<string, tf.Variable>,
    grads: Record<string, tf.Tensor>,
    lrFor: (name: string) => number,
  ): void {
    const { beta1, beta2, epsilon, weightDecay, decays } = this.options;
    // Smallest first: each update frees its gradient, so the largest parameter's temporaries meet
    // no other gradient. gpt2-small's token table (147 MiB) first would meet all the others (327 MiB).
    const bySize = Object.entries(grads).sort(([, a], [, b]) => a.size - b.size);
    for (const [name, g] of bySize) {
      const p = params[name];
      if (!p) throw new Error(`gradient for unknown parameter ${name}`);
      const lr = lrFor(name);
      const m = this.slot(this.m, name, p);
      const v = this.slot(this.v, name, p);
      // Per-parameter step count: a layer unfrozen later gets its own bias correction.
      const step = (this.steps.get(name) ?? 0) + 1;
      this.steps.set(name, step);
      // The textbook update, with each intermediate freed as soon as the next one exists, so at
      // most three tensors of the parameter's size are alive at once.
      let a = tf.mul(m, beta1);
      let b = tf.mul(g, 1 - beta1);
      m.assign(tf.add(a, b));
      tf.dispose([a, b]);
      a = tf.mul(v, beta2);
      const squared = tf.square(g);
      g.dispose();
      b = tf.mul(squared, 1 - beta2);
      squared.dispose();
      v.assign(tf.add(a, b));
      tf.dispose([a, b]);
      const vHat = tf.div(v, 1 - beta2 ** step);
      const root = tf.sqrt(vHat);
      vHat.dispose();
      const denominator = tf.add(root, epsilon);
      root.dispose();
      const mHat = tf.div(m, 1 - beta1 ** step);
      const ratio = tf.div(mHat, denominator);
      tf.dispose([mHat, denominator]);
      const update = tf.mul(ratio, lr);
      ratio.dispose();
      let next = tf.sub(p, update);
      update.dispose();
      if (weightDecay > 0 && decays(name)) {
        const decay = tf.mul(p, lr * weightDecay);
        const decayed = tf.sub(next, decay);
        tf.dispose([next, decay]);
        next = decayed;
      }
      p.assign(next);
    }
  }

  private slot(map: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable {
    let s = map.get(name);
    if (!s) {
      // The variable shares the zeros' buffer; freeing the tensor here lets the first assign free
      // it. Otherwise the step's tf.tidy would hold every slot's zeros to the end of the first step
      // (two parameter sets: 949 MiB for gpt2-small).
      const zeros = tf.zerosLike(like);
      s = tf.variable(zeros, false);
      zeros.dispose();
      map.set(name, s);
    }
    return s;
  }

  /** Moments and step counts, for checkpoints. */
  state(): { m: Record<string, tf.Tensor>; v: Record<string, tf.Tensor>; steps: Record<string, number> } {
    return {
      m: Object.fromEntries(this.m),
      v: Object.fromEntries(this.v),
      steps: Object.fromEntries(this.steps),
    };
  }

  restore(state: {
    m: Record<string, tf.Tensor>;
    v: Record<string, tf.Tensor>;
    steps: Record<string, number>;
  }): void {
    this.dispose();
    for (const [name, t] of Object.entries(state.m)) this.m.set(name, tf.variable(t, false));
    for (const [name, t] of Object.entries(state.v)) this.v.set(name, tf.variable(t, false));
    for (const [name, s] of Object.entries(state.steps)) this.steps.set(name, s);
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
    this.steps.clear();
  }
}

/**
 * Scales all gradients by min(1, maxNorm / globalNorm). Returns the norm before clipping. The
 * input gradients are disposed as their scaled copies are made, so clipping never holds two full
 * sets of gradients at once.
 */
export function clipByGlobalNorm(
  grads: Record<string, tf.Tensor>,
  maxNorm: number,
): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  const squares = Object.values(grads).map((g) => tf.tidy(() => tf.sum(tf.square(g))));
  const norm = tf.sqrt(squares.length ? tf.addN(squares) : tf.scalar(0)) as tf.Scalar;
  tf.dispose(squares);
  const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
  const clipped: Record<string, tf.Tensor> = {};
  for (const [name, g] of Object.entries(grads)) {
    clipped[name] = tf.mul(g, scale);
    g.dispose();
  }
  return { grads: clipped, norm };
}
