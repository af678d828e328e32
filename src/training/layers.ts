// Layer-wise learning rates and gradual unfreezing. The model's parameter groups (embeddings,
// block.0 .. block.n-1, final_norm) are ordered top first; a group's rate is the method's rate times
// layerDecay^(distance from the top). TF.js-style optimizers take one rate, so each group gets its
// own AdamW, and each unfreezing stage starts a fresh set (as when a Keras model is recompiled).
import * as tf from '@tensorflow/tfjs';
import { AdamW, isDecayed, paramGroups, type ModelConfig } from '../llm/index.ts';
import type { TrainingConfig } from './config.ts';

export interface LayerGroup {
  name: string;
  params: string[];
  /** 0 for the top group (final norm), growing towards the embeddings. */
  distance: number;
  /** Multiplier of the method's learning rate: layerDecay^distance. */
  lrScale: number;
}

/** Groups top first, with their rate multipliers. */
export function layerGroups(config: ModelConfig, layerDecay: number): LayerGroup[] {
  return paramGroups(config)
    .reverse()
    .map((g, distance) => ({ ...g, distance, lrScale: layerDecay ** distance }));
}

/** The unfreezing stage at a step of a method (0 when unfreezing is off). */
export function unfreezingStage(step: number, u: TrainingConfig['unfreezing']): number {
  return u.enabled ? Math.floor(step / u.stepsPerStage) : 0;
}

/** The groups trained in a stage: all of them, or the top `initialGroups + stage` when unfreezing. */
export function trainableGroups(
  groups: readonly LayerGroup[],
  stage: number,
  u: TrainingConfig['unfreezing'],
): LayerGroup[] {
  if (!u.enabled) return [...groups];
  return groups.slice(0, Math.min(groups.length, u.initialGroups + stage));
}

export type AdamWSettings = Pick<TrainingConfig, 'beta1' | 'beta2' | 'weightDecay'>;

/** One AdamW per trainable group for one unfreezing stage. */
export class StageOptimizers {
  readonly stage: number;
  readonly groups: LayerGroup[];
  readonly optimizers: Map<string, AdamW>;

  constructor(stage: number, groups: LayerGroup[], settings: AdamWSettings) {
    this.stage = stage;
    this.groups = groups;
    this.optimizers = new Map(
      groups.map((g) => [
        g.name,
        new AdamW({
          beta1: settings.beta1,
          beta2: settings.beta2,
          epsilon: 1e-8,
          weightDecay: settings.weightDecay,
          decays: isDecayed,
        }),
      ]),
    );
  }

  trainableParams(): string[] {
    return this.groups.flatMap((g) => g.params);
  }

  /** Applies clipped gradients group by group, each with its own rate. Call inside tf.tidy. */
  apply(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>, lr: number): void {
    for (const g of this.groups) {
      const own: Record<string, tf.Tensor> = {};
      for (const p of g.params) if (grads[p]) own[p] = grads[p];
      const rate = lr * g.lrScale;
      this.optimizers.get(g.name)!.apply(vars, own, () => rate);
    }
  }

  /** Moments of every group, keyed by parameter name (each parameter is in one group). */
  state(): { m: Record<string, tf.Tensor>; v: Record<string, tf.Tensor>; steps: Record<string, number> } {
    const out = { m: {}, v: {}, steps: {} } as ReturnType<AdamW['state']>;
    for (const opt of this.optimizers.values()) {
      const s = opt.state();
      Object.assign(out.m, s.m);
      Object.assign(out.v, s.v);
      Object.assign(out.steps, s.steps);
    }
    return out;
  }

  restore(state: ReturnType<AdamW['state']>): void {
    for (const g of this.groups) {
      const pick = <T>(rec: Record<string, T>) =>
        Object.fromEntries(g.params.filter((p) => p in rec).map((p) => [p, rec[p]!]));
      this.optimizers.get(g.name)!.restore({ m: pick(state.m), v: pick(state.v), steps: pick(state.steps) });
    }
  }

  dispose(): void {
    for (const opt of this.optimizers.values()) opt.dispose();
  }
}
