// Hugging Face hub-style model folders for the import tests, built here with random weights: tensor
// names without the `transformer.` prefix, BF16 storage, the old `attn.bias`/`attn.masked_bias`
// buffers, a hub-like config.json and a GPT-2-style tokenizer without feedloop's chat tokens
// (`<|endoftext|>` is its last token, as in gpt2).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { SPECIAL_TOKEN_LIST, SPECIAL_TOKENS } from '../../src/llm/chat-format.ts';
import { toHost } from '../../src/llm/checkpoint.ts';
import { modelConfigFor, type ModelConfig } from '../../src/llm/config.ts';
import { hfTensorName } from '../../src/llm/hf-format.ts';
import { initParams } from '../../src/llm/params.ts';
import { encodeSafetensors, type FloatStorage, type HostTensor } from '../../src/llm/safetensors.ts';
import { tinyTokenizer } from './llm.ts';

interface TokenizerJson {
  added_tokens: { id: number; content: string; special: boolean; normalized: boolean }[];
  model: { vocab: Record<string, number> };
}

/** The tiny test tokenizer as the hub would ship a GPT-2 one: no chat tokens, `<|endoftext|>` last. */
export function hubStyleTokenizerJson(): string {
  const json = JSON.parse(tinyTokenizer().json) as TokenizerJson & Record<string, unknown>;
  const ordinary = Object.entries(json.model.vocab)
    .filter(([token]) => !SPECIAL_TOKEN_LIST.includes(token))
    .sort((a, b) => a[1] - b[1]);
  const vocab: Record<string, number> = {};
  ordinary.forEach(([token], i) => (vocab[token] = i));
  const eot = ordinary.length;
  vocab[SPECIAL_TOKENS.endOfText] = eot;
  json.model.vocab = vocab;
  json.added_tokens = [
    {
      id: eot,
      content: SPECIAL_TOKENS.endOfText,
      special: true,
      normalized: true,
      ...{ single_word: false, lstrip: false, rstrip: false },
    },
  ];
  return JSON.stringify(json);
}

export const HUB_VOCAB = (): number => Object.keys(JSON.parse(hubStyleTokenizerJson()).model.vocab).length;

export interface HubFolderOptions {
  seed?: number;
  /** Keys laid over the hub-like config.json (e.g. `activation_function: 'relu'`). */
  config?: Record<string, unknown>;
  floats?: FloatStorage;
  /** Write names with `transformer.` (as save_pretrained does) instead of the hub's bare names. */
  prefix?: boolean;
  /** Write the attention-mask buffers older checkpoints carry (default true). */
  buffers?: boolean;
  /** Add an lm_head.weight: equal to wte, or different. */
  lmHead?: 'tied' | 'different';
  /** Extra tensors to write, by their name in the file. */
  extra?: Record<string, HostTensor>;
}

export function hubModelConfig(): ModelConfig {
  return modelConfigFor('tiny', HUB_VOCAB());
}

/** Writes a hub-style GPT-2 folder with random weights; returns its path. */
export function writeHubStyleFolder(
  options: HubFolderOptions = {},
  dir = mkdtempSync(join(tmpdir(), 'feedloop-hub-')),
): string {
  const config = hubModelConfig();
  const params = initParams(config, options.seed ?? 7);
  const host = toHost(params);
  tf.dispose(Object.values(params));
  const tensors: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(host)) {
    const hf = hfTensorName(name);
    tensors[options.prefix ? hf : hf.slice('transformer.'.length)] = t;
  }
  if (options.buffers ?? true) {
    const n = config.contextLength;
    const tril = new Float32Array(n * n).map((_, i) => (i % n <= Math.floor(i / n) ? 1 : 0));
    for (let l = 0; l < config.nLayers; l++) {
      tensors[`h.${l}.attn.bias`] = { dtype: 'F32', shape: [1, 1, n, n], data: tril };
      tensors[`h.${l}.attn.masked_bias`] = { dtype: 'F32', shape: [], data: Float32Array.of(-1e4) };
    }
  }
  if (options.lmHead) {
    const wte = host['tok_emb']!;
    const data = Float32Array.from(wte.data);
    if (options.lmHead === 'different') data[3] = data[3]! + 0.5;
    tensors['lm_head.weight'] = { dtype: 'F32', shape: wte.shape, data };
  }
  Object.assign(tensors, options.extra ?? {});
  writeFileSync(
    join(dir, 'model.safetensors'),
    encodeSafetensors(tensors, { format: 'pt' }, options.floats ?? 'BF16'),
  );
  const eot = HUB_VOCAB() - 1;
  const hubConfig = {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: eot,
    embd_pdrop: 0.1,
    eos_token_id: eot,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    n_ctx: config.contextLength,
    n_embd: config.dModel,
    n_head: config.nHeads,
    n_inner: null,
    n_layer: config.nLayers,
    n_positions: config.contextLength,
    resid_pdrop: 0.1,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
    vocab_size: config.vocabSize,
    ...options.config,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hubConfig, null, 2));
  writeFileSync(join(dir, 'tokenizer.json'), hubStyleTokenizerJson());
  return dir;
}

const REFERENCE = fileURLToPath(new URL('./hf_gpt2_reference.py', import.meta.url));

/** Logits [T][vocab] of `ids` by the numpy reading of HF GPT-2 (test/helpers/hf_gpt2_reference.py). */
export function referenceLogits(dir: string, ids: number[]): number[][] {
  const run = spawnSync('python3', [REFERENCE, dir, ...ids.map(String)], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) throw new Error(`reference forward failed: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { logits: number[][] }).logits;
}
