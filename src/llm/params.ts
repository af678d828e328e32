// The model's parameters as a flat, named map of tensors (names double as safetensors keys),
// with deterministic initialisation and the per-layer grouping fine-tuning needs.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.ts';
import { mulberry32, normal } from './rng.ts';

export type ParamTensors = Record<string, tf.Tensor>;
export type ParamVariables = Record<string, tf.Variable>;

type Init = { kind: 'normal'; std: number } | { kind: 'ones' } | { kind: 'zeros' };
interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
}

export function blockPrefix(layer: number): string {
  return `blocks.${layer}.`;
}

/** Every parameter in a fixed order: embeddings, blocks 0..n-1, final norm. */
export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const std = c.initStd;
  // Residual output projections are scaled down (GPT-2) so the residual stream does not grow with depth.
  const residualStd = std / Math.sqrt(2 * c.nLayers);
  const specs: ParamSpec[] = [
    { name: 'tok_emb', shape: [c.vocabSize, c.dModel], init: { kind: 'normal', std } },
    { name: 'pos_emb', shape: [c.contextLength, c.dModel], init: { kind: 'normal', std } },
  ];
  for (let l = 0; l < c.nLayers; l++) {
    const p = blockPrefix(l);
    specs.push(
      { name: `${p}ln1.g`, shape: [c.dModel], init: { kind: 'ones' } },
      { name: `${p}ln1.b`, shape: [c.dModel], init: { kind: 'zeros' } },
      { name: `${p}attn.wqkv`, shape: [c.dModel, 3 * c.dModel], init: { kind: 'normal', std } },
      { name: `${p}attn.bqkv`, shape: [3 * c.dModel], init: { kind: 'zeros' } },
      { name: `${p}attn.wo`, shape: [c.dModel, c.dModel], init: { kind: 'normal', std: residualStd } },
      { name: `${p}attn.bo`, shape: [c.dModel], init: { kind: 'zeros' } },
      { name: `${p}ln2.g`, shape: [c.dModel], init: { kind: 'ones' } },
      { name: `${p}ln2.b`, shape: [c.dModel], init: { kind: 'zeros' } },
      { name: `${p}mlp.w1`, shape: [c.dModel, c.dFf], init: { kind: 'normal', std } },
      { name: `${p}mlp.b1`, shape: [c.dFf], init: { kind: 'zeros' } },
      { name: `${p}mlp.w2`, shape: [c.dFf, c.dModel], init: { kind: 'normal', std: residualStd } },
      { name: `${p}mlp.b2`, shape: [c.dModel], init: { kind: 'zeros' } },
    );
  }
  specs.push(
    { name: 'ln_f.g', shape: [c.dModel], init: { kind: 'ones' } },
    { name: 'ln_f.b', shape: [c.dModel], init: { kind: 'zeros' } },
  );
  return specs;
}

export function countParams(c: ModelConfig): number {
  return paramSpecs(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Initial weights from a seeded JS generator, so a seed gives the same model on every backend. */
export function initParams(c: ModelConfig, seed: number): ParamTensors {
  const rng = mulberry32(seed);
  const out: ParamTensors = {};
  for (const spec of paramSpecs(c)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (spec.init.kind === 'ones') data.fill(1);
    else if (spec.init.kind === 'normal')
      for (let i = 0; i < size; i++) data[i] = normal(rng) * spec.init.std;
    out[spec.name] = tf.tensor(data, spec.shape, 'float32');
  }
  return out;
}

let variableSerial = 0;

/**
 * Wraps tensors in tf.Variables for training. TF.js variable names are global, so each set gets a
 * unique prefix; `paramName` maps gradients (keyed by variable name) back to parameter names.
 */
export function toVariables(
  params: ParamTensors,
  trainable = true,
): { vars: ParamVariables; paramName: Map<string, string> } {
  const prefix = `p${++variableSerial}/`;
  const vars: ParamVariables = {};
  const paramName = new Map<string, string>();
  for (const [name, t] of Object.entries(params)) {
    const v = tf.variable(t, trainable, `${prefix}${name}`);
    vars[name] = v;
    paramName.set(v.name, name);
  }
  return { vars, paramName };
}

export function disposeParams(params: ParamTensors): void {
  for (const t of Object.values(params)) t.dispose();
}

export interface ParamGroup {
  /** 'embeddings', 'block.0' .. 'block.{n-1}', 'final_norm' */
  name: string;
  params: string[];
}

/** Layer-wise view used for per-layer learning rates and gradual unfreezing. */
export function paramGroups(c: ModelConfig): ParamGroup[] {
  const specs = paramSpecs(c).map((s) => s.name);
  const groups: ParamGroup[] = [
    { name: 'embeddings', params: specs.filter((n) => n === 'tok_emb' || n === 'pos_emb') },
  ];
  for (let l = 0; l < c.nLayers; l++)
    groups.push({ name: `block.${l}`, params: specs.filter((n) => n.startsWith(blockPrefix(l))) });
  groups.push({ name: 'final_norm', params: specs.filter((n) => n.startsWith('ln_f.')) });
  return groups;
}

/** Weight decay applies to matrices only: not to norms, biases or (tied) embeddings. */
export function isDecayed(name: string): boolean {
  return /\.(wqkv|wo|w1|w2)$/.test(name);
}
