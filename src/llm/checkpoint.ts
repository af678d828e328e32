// A model checkpoint is one folder: model.safetensors (weights), config.json (ModelConfig),
// tokenizer.json and manifest.json (how it was made). Loading validates the config with zod.
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync } from './atomic-file.ts';
import { join } from 'node:path';
import { ModelConfigSchema, type ModelConfig } from './config.ts';
import { paramSpecs, type ParamTensors } from './params.ts';
import { readSafetensors, writeSafetensors, type FloatStorage, type HostTensor } from './safetensors.ts';
import { TOKENIZER_FILE, TextTokenizer } from './tokenizer.ts';

export const CHECKPOINT_FILES = {
  weights: 'model.safetensors',
  config: 'config.json',
  tokenizer: TOKENIZER_FILE,
  manifest: 'manifest.json',
} as const;

export interface LoadedModel {
  config: ModelConfig;
  params: ParamTensors;
  tokenizer: TextTokenizer;
  manifest: Record<string, unknown>;
  dir: string;
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomicSync(path, JSON.stringify(value, null, 2) + '\n');
}

export function toHost(tensors: Record<string, tf.Tensor>): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    const data = t.dataSync();
    out[name] =
      t.dtype === 'int32'
        ? { dtype: 'I32', shape: t.shape, data: Int32Array.from(data) }
        : { dtype: 'F32', shape: t.shape, data: Float32Array.from(data) };
  }
  return out;
}

export function fromHost(tensors: Record<string, HostTensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(tensors))
    out[name] = tf.tensor(t.data, t.shape, t.dtype === 'I32' ? 'int32' : 'float32');
  return out;
}

export function saveModel(
  dir: string,
  model: {
    config: ModelConfig;
    params: ParamTensors;
    tokenizer: TextTokenizer;
    manifest: Record<string, unknown>;
  },
  options: { floats?: FloatStorage } = {},
): void {
  mkdirSync(dir, { recursive: true });
  // F16 storage halves the folder (the shipped base model); computation stays float32.
  writeSafetensors(
    join(dir, CHECKPOINT_FILES.weights),
    toHost(model.params),
    { format: 'feedloop-gpt', config: JSON.stringify(model.config) },
    options.floats ?? 'F32',
  );
  writeJsonAtomic(join(dir, CHECKPOINT_FILES.config), model.config);
  model.tokenizer.save(join(dir, CHECKPOINT_FILES.tokenizer));
  writeJsonAtomic(join(dir, CHECKPOINT_FILES.manifest), model.manifest);
}

export function loadModel(dir: string): LoadedModel {
  for (const f of [CHECKPOINT_FILES.weights, CHECKPOINT_FILES.config, CHECKPOINT_FILES.tokenizer]) {
    if (!existsSync(join(dir, f))) throw new Error(`not a model folder: ${join(dir, f)} is missing`);
  }
  const config = ModelConfigSchema.parse(
    JSON.parse(readFileSync(join(dir, CHECKPOINT_FILES.config), 'utf8')),
  );
  const { tensors } = readSafetensors(join(dir, CHECKPOINT_FILES.weights));
  for (const spec of paramSpecs(config)) {
    const t = tensors[spec.name];
    if (!t) throw new Error(`${dir}: weights lack ${spec.name}`);
    if (t.shape.join('x') !== spec.shape.join('x'))
      throw new Error(`${dir}: ${spec.name} has shape ${t.shape} but config implies ${spec.shape}`);
  }
  const tokenizer = TextTokenizer.fromFile(join(dir, CHECKPOINT_FILES.tokenizer));
  if (tokenizer.vocabSize !== config.vocabSize)
    throw new Error(`${dir}: tokenizer has ${tokenizer.vocabSize} tokens, config says ${config.vocabSize}`);
  const manifestPath = join(dir, CHECKPOINT_FILES.manifest);
  const manifest = existsSync(manifestPath)
    ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>)
    : {};
  return { config, params: fromHost(tensors), tokenizer, manifest, dir };
}
