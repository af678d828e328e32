// The Hugging Face GPT-2 layout, which is also feedloop's own folder format: GPT2Config keys in
// config.json, HF tensor names in model.safetensors, and the tokenizer side files transformers,
// vLLM and llama.cpp read. Pure mapping functions; reading and writing folders is checkpoint.ts.
import { ModelConfigSchema, type ModelConfig } from './config.ts';
import { SPECIAL_TOKENS } from './chat-format.ts';
import type { FloatStorage } from './safetensors.ts';

/**
 * Something in a folder that feedloop cannot read or reproduce. `field` names it: a file, a key
 * of config.json (`config.json activation_function`) or a tensor (`model.safetensors h.0.attn.c_attn.weight`).
 */
export class HfFormatError extends Error {
  override name = 'HfFormatError';
  constructor(
    readonly field: string,
    /** Why, without the field. */
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** Activations equal to feedloop's GELU (tanh approximation). */
const TANH_GELU = ['gelu_new', 'gelu_pytorch_tanh'];

const TORCH_DTYPE: Record<FloatStorage, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export interface SpecialTokenIds {
  endOfText: number;
  end: number;
}

/** config.json for a model with these token ids, in HF GPT2Config keys. */
export function toGpt2Config(
  c: ModelConfig,
  ids: SpecialTokenIds,
  floats: FloatStorage = 'F32',
): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_positions: c.contextLength,
    n_ctx: c.contextLength,
    n_embd: c.dModel,
    n_layer: c.nLayers,
    n_head: c.nHeads,
    n_inner: c.dFf,
    activation_function: 'gelu_new',
    layer_norm_epsilon: c.layerNormEps,
    initializer_range: c.initStd,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    summary_first_dropout: 0,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    add_cross_attention: false,
    tie_word_embeddings: true,
    use_cache: true,
    bos_token_id: ids.endOfText,
    eos_token_id: ids.endOfText,
    pad_token_id: ids.endOfText,
    torch_dtype: TORCH_DTYPE[floats],
  };
}

function positiveInt(config: Record<string, unknown>, key: string, fallback?: number): number {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new HfFormatError(`config.json ${key}`, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function refuseIf(config: Record<string, unknown>, key: string, bad: (v: unknown) => boolean, why: string) {
  if (key in config && bad(config[key]))
    throw new HfFormatError(`config.json ${key}`, `is ${JSON.stringify(config[key])}: ${why}`);
}

/**
 * The model config of a GPT-2-family config.json, or an HfFormatError naming the first key
 * feedloop cannot reproduce. The context length is `n_positions`.
 */
export function fromGpt2Config(config: Record<string, unknown>): ModelConfig {
  if (config.model_type !== 'gpt2')
    throw new HfFormatError(
      'config.json model_type',
      `is ${JSON.stringify(config.model_type)}: feedloop runs GPT-2-family models only ("gpt2")`,
    );
  refuseIf(
    config,
    'activation_function',
    (v) => !TANH_GELU.includes(v as string),
    'feedloop implements GELU with the tanh approximation only (gelu_new)',
  );
  refuseIf(
    config,
    'scale_attn_weights',
    (v) => v === false,
    'feedloop always scales attention by 1/sqrt(head size)',
  );
  refuseIf(
    config,
    'scale_attn_by_inverse_layer_idx',
    (v) => v === true,
    'feedloop does not scale attention by the layer index',
  );
  refuseIf(
    config,
    'reorder_and_upcast_attn',
    (v) => v === true,
    'feedloop does not reorder or upcast attention (a mixed-precision variant)',
  );
  refuseIf(
    config,
    'add_cross_attention',
    (v) => v === true,
    'feedloop has no cross-attention (decoder-only)',
  );
  const dModel = positiveInt(config, 'n_embd');
  const nHeads = positiveInt(config, 'n_head');
  if (dModel % nHeads !== 0)
    throw new HfFormatError('config.json n_head', `${nHeads} does not divide n_embd ${dModel}`);
  const nInner = config.n_inner ?? null;
  const parsed = ModelConfigSchema.safeParse({
    vocabSize: positiveInt(config, 'vocab_size'),
    contextLength: positiveInt(config, 'n_positions'),
    dModel,
    nLayers: positiveInt(config, 'n_layer'),
    nHeads,
    dFf: nInner === null ? 4 * dModel : positiveInt(config, 'n_inner'),
    layerNormEps: config.layer_norm_epsilon ?? 1e-5,
    initStd: config.initializer_range ?? 0.02,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = { layerNormEps: 'layer_norm_epsilon', initStd: 'initializer_range' }[String(issue.path[0])];
    throw new HfFormatError(`config.json ${key ?? String(issue.path[0])}`, issue.message);
  }
  return parsed.data;
}

/** Whether config.json is feedloop's old layout (its own ModelConfig keys). */
export function isLegacyConfig(config: Record<string, unknown>): boolean {
  return !('model_type' in config) && 'dModel' in config;
}

// Internal parameter name (params.ts) -> HF name below `transformer.`.
const BLOCK_NAMES: Record<string, string> = {
  'ln1.g': 'ln_1.weight',
  'ln1.b': 'ln_1.bias',
  'attn.wqkv': 'attn.c_attn.weight',
  'attn.bqkv': 'attn.c_attn.bias',
  'attn.wo': 'attn.c_proj.weight',
  'attn.bo': 'attn.c_proj.bias',
  'ln2.g': 'ln_2.weight',
  'ln2.b': 'ln_2.bias',
  'mlp.w1': 'mlp.c_fc.weight',
  'mlp.b1': 'mlp.c_fc.bias',
  'mlp.w2': 'mlp.c_proj.weight',
  'mlp.b2': 'mlp.c_proj.bias',
};
const TOP_NAMES: Record<string, string> = {
  tok_emb: 'wte.weight',
  pos_emb: 'wpe.weight',
  'ln_f.g': 'ln_f.weight',
  'ln_f.b': 'ln_f.bias',
};
const FROM_BLOCK = Object.fromEntries(Object.entries(BLOCK_NAMES).map(([k, v]) => [v, k]));
const FROM_TOP = Object.fromEntries(Object.entries(TOP_NAMES).map(([k, v]) => [v, k]));

/** The HF tensor name of an internal parameter, as transformers writes it (with `transformer.`). */
export function hfTensorName(internal: string): string {
  const top = TOP_NAMES[internal];
  if (top) return `transformer.${top}`;
  const m = /^blocks\.(\d+)\.(.+)$/.exec(internal);
  const block = m ? BLOCK_NAMES[m[2]!] : undefined;
  if (!m || !block) throw new Error(`no HF name for parameter ${internal}`);
  return `transformer.h.${m[1]}.${block}`;
}

/** What a tensor of an HF file is to feedloop. */
export type HfTensorRole =
  | { kind: 'param'; name: string }
  /** `attn.bias` / `attn.masked_bias`: causal-mask buffers older files carry; rebuilt, not read. */
  | { kind: 'buffer' }
  | { kind: 'lm_head' }
  | { kind: 'unknown' };

/** Maps an HF tensor name, with or without the `transformer.` prefix (hub files omit it). */
export function hfTensorRole(name: string): HfTensorRole {
  if (name === 'lm_head.weight') return { kind: 'lm_head' };
  const bare = name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
  const top = FROM_TOP[bare];
  if (top) return { kind: 'param', name: top };
  const m = /^h\.(\d+)\.(.+)$/.exec(bare);
  if (!m) return { kind: 'unknown' };
  if (m[2] === 'attn.bias' || m[2] === 'attn.masked_bias') return { kind: 'buffer' };
  const block = FROM_BLOCK[m[2]!];
  return block ? { kind: 'param', name: `blocks.${m[1]}.${block}` } : { kind: 'unknown' };
}

/**
 * The chat template of `formatChatPrompt` in Jinja (as transformers, vLLM and TRL render it):
 * every message as `<|role|>content<|end|>`, then `<|assistant|>` with add_generation_prompt.
 */
export const CHAT_TEMPLATE =
  '{%- for message in messages -%}' +
  "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}" +
  "{{ raise_exception('Only system, user and assistant messages are supported') }}" +
  '{%- endif -%}' +
  "{{ '<|' + message['role'] + '|>' + message['content'] + '" +
  SPECIAL_TOKENS.end +
  "' }}" +
  '{%- endfor -%}' +
  "{%- if add_generation_prompt -%}{{ '" +
  SPECIAL_TOKENS.assistant +
  "' }}{%- endif -%}";

const CHAT_ROLE_TOKENS = [
  SPECIAL_TOKENS.system,
  SPECIAL_TOKENS.user,
  SPECIAL_TOKENS.assistant,
  SPECIAL_TOKENS.end,
];

interface AddedToken {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

/** The added tokens of a tokenizer.json, by id. */
export function addedTokens(tokenizerJson: string): AddedToken[] {
  const parsed = JSON.parse(tokenizerJson) as { added_tokens?: AddedToken[] };
  return parsed.added_tokens ?? [];
}

/**
 * tokenizer_config.json: the special tokens, the chat template and the class transformers loads
 * tokenizer.json with. eos is `<|endoftext|>` as in GPT-2; generation_config.json lists `<|end|>`
 * too, so generation ends with the turn.
 */
export function tokenizerConfig(tokenizerJson: string, contextLength: number): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  for (const t of addedTokens(tokenizerJson))
    decoder[String(t.id)] = {
      content: t.content,
      lstrip: t.lstrip ?? false,
      normalized: t.normalized ?? false,
      rstrip: t.rstrip ?? false,
      single_word: t.single_word ?? false,
      special: t.special ?? true,
    };
  return {
    tokenizer_class: 'GPT2Tokenizer',
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: decoder,
    additional_special_tokens: CHAT_ROLE_TOKENS,
    bos_token: SPECIAL_TOKENS.endOfText,
    eos_token: SPECIAL_TOKENS.endOfText,
    pad_token: SPECIAL_TOKENS.endOfText,
    unk_token: SPECIAL_TOKENS.endOfText,
    clean_up_tokenization_spaces: false,
    errors: 'replace',
    model_max_length: contextLength,
    chat_template: CHAT_TEMPLATE,
  };
}

export function specialTokensMap(): Record<string, unknown> {
  return {
    bos_token: SPECIAL_TOKENS.endOfText,
    eos_token: SPECIAL_TOKENS.endOfText,
    pad_token: SPECIAL_TOKENS.endOfText,
    unk_token: SPECIAL_TOKENS.endOfText,
    additional_special_tokens: CHAT_ROLE_TOKENS,
  };
}

/** generation_config.json: a turn ends at `<|end|>` (or `<|endoftext|>`). */
export function generationConfig(ids: SpecialTokenIds): Record<string, unknown> {
  return {
    bos_token_id: ids.endOfText,
    eos_token_id: [ids.end, ids.endOfText],
    pad_token_id: ids.endOfText,
  };
}
