// A model is one folder in Hugging Face's GPT-2 layout, so transformers, vLLM and llama.cpp read
// feedloop's checkpoints as they are: config.json (GPT2Config keys), model.safetensors (HF tensor
// names, metadata {"format":"pt"}), tokenizer.json with tokenizer_config.json (chat template),
// special_tokens_map.json and generation_config.json, plus feedloop.json (how it was made), a file
// no HF tool reads. Folders of the older feedloop layout (its own config keys and tensor names,
// manifest.json) still load, so versions registered before the change keep serving.
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { writeFileAtomicSync } from './atomic-file.ts';
import { ModelConfigSchema, type ModelConfig } from './config.ts';
import {
  fromGpt2Config,
  generationConfig,
  HfFormatError,
  hfTensorName,
  hfTensorRole,
  isLegacyConfig,
  specialTokensMap,
  toGpt2Config,
  tokenizerConfig,
} from './hf-format.ts';
import { paramSpecs, type ParamTensors } from './params.ts';
import {
  decodeSafetensors,
  writeSafetensors,
  type DecodedSafetensors,
  type FloatStorage,
  type HostTensor,
} from './safetensors.ts';
import { TOKENIZER_FILE, TextTokenizer } from './tokenizer.ts';

export const CHECKPOINT_FILES = {
  weights: 'model.safetensors',
  /** Sharded weights: {"weight_map": {tensor: file}} (read, never written). */
  weightsIndex: 'model.safetensors.index.json',
  config: 'config.json',
  tokenizer: TOKENIZER_FILE,
  tokenizerConfig: 'tokenizer_config.json',
  specialTokensMap: 'special_tokens_map.json',
  generationConfig: 'generation_config.json',
  /** feedloop's record of how the model was made (lineage, training config, provenance). */
  manifest: 'feedloop.json',
} as const;

/** The older layout's manifest (its config.json held feedloop's ModelConfig). */
const LEGACY_MANIFEST = 'manifest.json';

export interface LoadedModel {
  config: ModelConfig;
  params: ParamTensors;
  tokenizer: TextTokenizer;
  manifest: Record<string, unknown>;
  dir: string;
}

/** A model folder read into host memory, tensors under feedloop's parameter names. */
export interface ModelFolder {
  config: ModelConfig;
  tensors: Record<string, HostTensor>;
  tokenizerJson: string;
  manifest: Record<string, unknown>;
  /** How the floats were stored: one dtype for all of them, or F32 when they were mixed. */
  storedAs: FloatStorage;
  /** The config.json as found (HF keys, or the legacy ModelConfig). */
  rawConfig: Record<string, unknown>;
  /** The files that were read, relative to the folder. */
  files: string[];
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

/**
 * Writes a model folder in the HF layout. Tensors are keyed by feedloop's parameter names and
 * written under HF names; F16 or BF16 storage halves the file (computation stays float32).
 */
export function writeModelFolder(
  dir: string,
  model: {
    config: ModelConfig;
    tensors: Record<string, HostTensor>;
    tokenizer: TextTokenizer;
    manifest: Record<string, unknown>;
  },
  options: { floats?: FloatStorage } = {},
): void {
  const floats = options.floats ?? 'F32';
  mkdirSync(dir, { recursive: true });
  const hf: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(model.tensors)) hf[hfTensorName(name)] = t;
  // transformers refuses safetensors whose metadata format is not "pt" (or tf, flax, mlx).
  writeSafetensors(join(dir, CHECKPOINT_FILES.weights), hf, { format: 'pt' }, floats);
  const ids = { endOfText: model.tokenizer.endOfTextId, end: model.tokenizer.endId };
  writeJsonAtomic(join(dir, CHECKPOINT_FILES.config), toGpt2Config(model.config, ids, floats));
  writeFileAtomicSync(join(dir, CHECKPOINT_FILES.tokenizer), model.tokenizer.json);
  writeJsonAtomic(
    join(dir, CHECKPOINT_FILES.tokenizerConfig),
    tokenizerConfig(model.tokenizer.json, model.config.contextLength),
  );
  writeJsonAtomic(join(dir, CHECKPOINT_FILES.specialTokensMap), specialTokensMap());
  writeJsonAtomic(join(dir, CHECKPOINT_FILES.generationConfig), generationConfig(ids));
  writeJsonAtomic(join(dir, CHECKPOINT_FILES.manifest), model.manifest);
  // A folder rewritten in place from the older layout must not keep its old manifest.
  rmSync(join(dir, LEGACY_MANIFEST), { force: true });
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
  writeModelFolder(dir, { ...model, tensors: toHost(model.params) }, options);
}

/**
 * The path of `name` in `dir`. With `confineTo`, the real path (symlinks resolved) must lie
 * inside that folder: an import must not read files from anywhere else.
 */
function folderFile(dir: string, name: string, confineTo?: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) throw new HfFormatError(name, `is missing from ${dir}`);
  if (confineTo) {
    const rel = relative(realpathSync(confineTo), realpathSync(path));
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new HfFormatError(name, `resolves outside ${confineTo} (a symbolic link?)`);
  }
  return path;
}

function readJson(path: string, field: string): Record<string, unknown> {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new HfFormatError(field, 'is not a JSON object');
}

function storageOf(dtypes: Record<string, string>): FloatStorage {
  const floats = new Set(Object.values(dtypes).filter((d) => d !== 'I32'));
  if (floats.size === 1) {
    const only = [...floats][0]!;
    if (only === 'F16' || only === 'BF16') return only;
  }
  return 'F32';
}

/** Reads the HF weights (one file or shards), skipping the attention-mask buffers. */
function readHfWeights(dir: string, confineTo: string | undefined, files: string[]): DecodedSafetensors {
  const skip = (name: string) => hfTensorRole(name).kind === 'buffer';
  const decode = (file: string): DecodedSafetensors => {
    files.push(file);
    try {
      return decodeSafetensors(readFileSync(folderFile(dir, file, confineTo)), { skip });
    } catch (err) {
      if (err instanceof HfFormatError) throw err;
      throw new HfFormatError(file, (err as Error).message);
    }
  };
  if (
    existsSync(join(dir, CHECKPOINT_FILES.weights)) ||
    !existsSync(join(dir, CHECKPOINT_FILES.weightsIndex))
  )
    return decode(CHECKPOINT_FILES.weights);
  const index = readJson(
    folderFile(dir, CHECKPOINT_FILES.weightsIndex, confineTo),
    CHECKPOINT_FILES.weightsIndex,
  );
  files.push(CHECKPOINT_FILES.weightsIndex);
  const map = index.weight_map as Record<string, string> | undefined;
  const shards = [...new Set(Object.values(map ?? {}))].sort();
  if (shards.some((s) => typeof s !== 'string' || s.includes('/') || s.includes('\\')))
    throw new HfFormatError(
      `${CHECKPOINT_FILES.weightsIndex} weight_map`,
      'must name files in the same folder',
    );
  const out: DecodedSafetensors = { tensors: {}, metadata: {}, dtypes: {} };
  for (const shard of shards) {
    const part = decode(shard);
    Object.assign(out.tensors, part.tensors);
    Object.assign(out.dtypes, part.dtypes);
  }
  return out;
}

/** HF tensors to feedloop's parameters, refusing what does not fit the config (naming the tensor). */
function hfParams(
  decoded: DecodedSafetensors,
  config: ModelConfig,
  rawConfig: Record<string, unknown>,
): Record<string, HostTensor> {
  const params: Record<string, HostTensor> = {};
  const hfName: Record<string, string> = {};
  let lmHead: HostTensor | null = null;
  for (const [name, t] of Object.entries(decoded.tensors)) {
    const role = hfTensorRole(name);
    if (role.kind === 'lm_head') lmHead = t;
    else if (role.kind === 'unknown')
      throw new HfFormatError(
        `model.safetensors ${name}`,
        'is not a tensor of GPT2LMHeadModel (another architecture or head?)',
      );
    else if (role.kind === 'param') {
      if (params[role.name])
        throw new HfFormatError(`model.safetensors ${name}`, `appears twice (as ${hfName[role.name]} too)`);
      params[role.name] = t;
      hfName[role.name] = name;
    }
  }
  for (const spec of paramSpecs(config)) {
    const t = params[spec.name];
    const field = `model.safetensors ${hfName[spec.name] ?? hfTensorName(spec.name)}`;
    if (!t) throw new HfFormatError(field, 'is missing');
    if (t.dtype !== 'F32') throw new HfFormatError(field, 'must be a float tensor');
    if (t.shape.join('x') !== spec.shape.join('x'))
      throw new HfFormatError(field, `has shape [${t.shape}] but config.json implies [${spec.shape}]`);
  }
  const wte = params['tok_emb']!;
  if (lmHead) {
    const same =
      lmHead.shape.join('x') === wte.shape.join('x') && lmHead.data.every((v, i) => v === wte.data[i]);
    if (!same)
      throw new HfFormatError(
        'model.safetensors lm_head.weight',
        'differs from transformer.wte.weight: feedloop ties the output layer to the token embeddings',
      );
  } else if (rawConfig.tie_word_embeddings === false) {
    throw new HfFormatError(
      'config.json tie_word_embeddings',
      'is false but there is no lm_head.weight: feedloop ties the output layer to the token embeddings',
    );
  }
  return params;
}

/**
 * Reads a model folder into host memory: the HF layout (any GPT-2-family folder), or feedloop's
 * older one. Refusals are HfFormatErrors naming the file, config key or tensor. `confineTo`
 * refuses files whose real path lies outside that folder.
 */
export function readModelFolder(dir: string, options: { confineTo?: string } = {}): ModelFolder {
  const { confineTo } = options;
  const files: string[] = [CHECKPOINT_FILES.config];
  const rawConfig = readJson(folderFile(dir, CHECKPOINT_FILES.config, confineTo), CHECKPOINT_FILES.config);
  const tokenizerJson = readFileSync(folderFile(dir, CHECKPOINT_FILES.tokenizer, confineTo), 'utf8');
  files.push(CHECKPOINT_FILES.tokenizer);
  const manifestOf = (name: string): Record<string, unknown> => {
    if (!existsSync(join(dir, name))) return {};
    files.push(name);
    return readJson(folderFile(dir, name, confineTo), name);
  };

  if (isLegacyConfig(rawConfig)) {
    const config = ModelConfigSchema.parse(rawConfig);
    files.push(CHECKPOINT_FILES.weights);
    const decoded = decodeSafetensors(readFileSync(folderFile(dir, CHECKPOINT_FILES.weights, confineTo)));
    for (const spec of paramSpecs(config)) {
      const t = decoded.tensors[spec.name];
      if (!t) throw new HfFormatError(`model.safetensors ${spec.name}`, 'is missing');
      if (t.shape.join('x') !== spec.shape.join('x'))
        throw new HfFormatError(
          `model.safetensors ${spec.name}`,
          `has shape [${t.shape}] but config implies [${spec.shape}]`,
        );
    }
    return {
      config,
      tensors: decoded.tensors,
      tokenizerJson,
      manifest: manifestOf(LEGACY_MANIFEST),
      storedAs: storageOf(decoded.dtypes),
      rawConfig,
      files,
    };
  }
  const config = fromGpt2Config(rawConfig);
  const decoded = readHfWeights(dir, confineTo, files);
  const tensors = hfParams(decoded, config, rawConfig);
  return {
    config,
    tensors,
    tokenizerJson,
    manifest: manifestOf(CHECKPOINT_FILES.manifest),
    storedAs: storageOf(decoded.dtypes),
    rawConfig,
    files,
  };
}

/** A folder's model config and feedloop record, without reading its weights. */
export function readModelSummary(dir: string): { config: ModelConfig; manifest: Record<string, unknown> } {
  const raw = readJson(folderFile(dir, CHECKPOINT_FILES.config), CHECKPOINT_FILES.config);
  const legacy = isLegacyConfig(raw);
  const manifestPath = join(dir, legacy ? LEGACY_MANIFEST : CHECKPOINT_FILES.manifest);
  return {
    config: legacy ? ModelConfigSchema.parse(raw) : fromGpt2Config(raw),
    manifest: existsSync(manifestPath) ? readJson(manifestPath, manifestPath) : {},
  };
}

export function loadModel(dir: string): LoadedModel {
  const folder = readModelFolder(dir);
  const tokenizer = new TextTokenizer(folder.tokenizerJson);
  if (tokenizer.vocabSize !== folder.config.vocabSize)
    throw new Error(
      `${dir}: tokenizer has ${tokenizer.vocabSize} tokens, config says ${folder.config.vocabSize}`,
    );
  return {
    config: folder.config,
    params: fromHost(folder.tensors),
    tokenizer,
    manifest: folder.manifest,
    dir,
  };
}

/** Rewrites a folder of the older feedloop layout in the HF layout, keeping its storage dtype. */
export function upgradeModelFolder(dir: string): { upgraded: boolean } {
  const folder = readModelFolder(dir);
  if (!isLegacyConfig(folder.rawConfig)) return { upgraded: false };
  const tokenizer = new TextTokenizer(folder.tokenizerJson);
  writeModelFolder(
    dir,
    { config: folder.config, tensors: folder.tensors, tokenizer, manifest: folder.manifest },
    { floats: folder.storedAs },
  );
  return { upgraded: true };
}
