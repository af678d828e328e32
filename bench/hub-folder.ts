// A gpt2-small-shaped hub folder with random weights, as `bench:import` imports it (and
// `bench/decode-profile.ts` profiles it): bare tensor names, F32, mask buffers, and a byte-level
// tokenizer of GPT-2's size without chat tokens.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { byteLevelAlphabet } from 'tokenizers';
import { SPECIAL_TOKENS } from '../src/llm/chat-format.ts';
import type { ModelConfig } from '../src/llm/config.ts';
import { hfTensorName } from '../src/llm/hf-format.ts';
import { paramSpecs } from '../src/llm/params.ts';
import { mulberry32, normal } from '../src/llm/rng.ts';
import { encodeSafetensors, type HostTensor } from '../src/llm/safetensors.ts';

export const GPT2_VOCAB = 50257;

/**
 * A byte-level BPE tokenizer.json with exactly `vocab` entries in GPT-2's layout (the 256 byte
 * symbols, merges, `<|endoftext|>` last) and no chat tokens. Its merges are synthetic; only its size
 * matters here.
 */
export function syntheticGpt2Tokenizer(vocab: number): string {
  const symbols = [...byteLevelAlphabet()].sort();
  const ids: Record<string, number> = {};
  const tokens: string[] = [];
  for (const s of symbols) {
    ids[s] = tokens.length;
    tokens.push(s);
  }
  const merges: [string, string][] = [];
  for (let i = 0; tokens.length < vocab - 1; i++) {
    for (let j = 0; j < symbols.length && tokens.length < vocab - 1; j++) {
      const joined = tokens[i]! + symbols[j]!;
      if (joined in ids) continue;
      ids[joined] = tokens.length;
      tokens.push(joined);
      merges.push([tokens[i]!, symbols[j]!]);
    }
  }
  ids[SPECIAL_TOKENS.endOfText] = tokens.length;
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: tokens.length,
        content: SPECIAL_TOKENS.endOfText,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: true,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel, trim_offsets: false },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: ids,
      merges,
    },
  });
}

/** Writes a hub-style GPT-2 folder with random weights (no TF.js tensors: host memory only). */
export function writeHubFolder(dir: string, config: ModelConfig): void {
  const rng = mulberry32(1);
  const tensors: Record<string, HostTensor> = {};
  for (const spec of paramSpecs(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (spec.init.kind === 'ones') data.fill(1);
    else if (spec.init.kind === 'normal')
      for (let i = 0; i < size; i++) data[i] = normal(rng) * spec.init.std;
    tensors[hfTensorName(spec.name).slice('transformer.'.length)] = { dtype: 'F32', shape: spec.shape, data };
  }
  const n = config.contextLength;
  const tril = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) tril[i * n + j] = 1;
  for (let l = 0; l < config.nLayers; l++) {
    tensors[`h.${l}.attn.bias`] = { dtype: 'F32', shape: [1, 1, n, n], data: tril };
    tensors[`h.${l}.attn.masked_bias`] = { dtype: 'F32', shape: [], data: Float32Array.of(-1e4) };
  }
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      activation_function: 'gelu_new',
      architectures: ['GPT2LMHeadModel'],
      bos_token_id: config.vocabSize - 1,
      eos_token_id: config.vocabSize - 1,
      layer_norm_epsilon: 1e-5,
      model_type: 'gpt2',
      n_ctx: n,
      n_embd: config.dModel,
      n_head: config.nHeads,
      n_inner: null,
      n_layer: config.nLayers,
      n_positions: n,
      vocab_size: config.vocabSize,
    }),
  );
  writeFileSync(join(dir, 'tokenizer.json'), syntheticGpt2Tokenizer(config.vocabSize));
}
