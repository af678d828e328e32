// Decoder-only transformer (pre-layer-norm, causal self-attention, GELU MLP, tied embeddings) as
// pure functions of a parameter map. One chunked forward serves training (no cache), prefill and
// single-token decoding with a key/value cache, so all three share the same attention code.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.ts';
import { embed, tiedEmbedding } from './embedding.ts';
import { layerNorm } from './layer-norm.ts';
import { affine } from './matmul.ts';
import { blockPrefix, type ParamTensors } from './params.ts';

/** Keys and values per layer, shaped [batch*heads, length, headDim]. */
export interface LayerCache {
  k: tf.Tensor3D;
  v: tf.Tensor3D;
}
export type KvCache = LayerCache[];

export function cacheLength(cache: KvCache | null): number {
  return cache && cache.length ? cache[0]!.k.shape[1] : 0;
}

export function disposeCache(cache: KvCache | null): void {
  for (const layer of cache ?? []) {
    layer.k.dispose();
    layer.v.dispose();
  }
}

function param(params: ParamTensors, name: string): tf.Tensor {
  const t = params[name];
  if (!t) throw new Error(`missing parameter ${name}`);
  return t;
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** tanh(sqrt(2/pi) * (x + 0.044715 x^3)), the inner term of GELU's tanh approximation. */
function geluTanh(x: tf.Tensor): tf.Tensor {
  const cube = tf.mul(tf.mul(x, x), x);
  return tf.tanh(tf.mul(tf.add(x, tf.mul(cube, 0.044715)), GELU_C));
}

/**
 * tanh approximation of GELU (GPT-2's gelu_new) with a closed-form gradient. Autodiff of the
 * composition records nine element-wise kernels, each keeping copies of its inputs for the backward
 * pass: at gpt2-small's 3,072-wide MLP that was the largest share of a training step's memory.
 * Here only x is kept, and tanh is recomputed from it in the backward pass.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((xi, save) => {
    const input = xi as tf.Tensor;
    (save as tf.GradSaveFunc)([input]);
    return {
      value: tf.mul(tf.mul(input, 0.5), tf.add(geluTanh(input), 1)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sx] = saved as [tf.Tensor];
          const t = geluTanh(sx);
          // d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
          const outer = tf.mul(tf.add(t, 1), 0.5);
          const slope = tf.mul(tf.add(tf.mul(tf.mul(sx, sx), 3 * 0.044715), 1), GELU_C);
          const inner = tf.mul(tf.mul(tf.mul(sx, 0.5), tf.sub(1, tf.mul(t, t))), slope);
          return tf.mul(dy as tf.Tensor, tf.add(outer, inner));
        }),
    };
  });
  return f(x) as tf.Tensor;
}

/** Additive mask [T, past+T]: query i (at absolute position past+i) sees keys 0..past+i. */
function causalMask(past: number, t: number): tf.Tensor2D {
  const total = past + t;
  const data = new Float32Array(t * total);
  for (let i = 0; i < t; i++) for (let j = past + i + 1; j < total; j++) data[i * total + j] = -1e9;
  return tf.tensor2d(data, [t, total]);
}

function splitHeads(x: tf.Tensor2D, b: number, t: number, h: number, hd: number): tf.Tensor3D {
  return tf.reshape(tf.transpose(tf.reshape(x, [b, t, h, hd]), [0, 2, 1, 3]), [b * h, t, hd]);
}

function mergeHeads(x: tf.Tensor3D, b: number, t: number, h: number, hd: number): tf.Tensor2D {
  return tf.reshape(tf.transpose(tf.reshape(x, [b, h, t, hd]), [0, 2, 1, 3]), [b * t, h * hd]);
}

/** Self-attention of one layer: q, k, v as [rows, d] in, attended values as [rows, d] out. */
type Attention = (layer: number, q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D) => tf.Tensor2D;

/**
 * The blocks and the final layer norm over token rows `x` [rows, d]; how rows attend to each other
 * (causal window, KV cache, padded batch) is the caller's `attention`.
 */
function transformerLayers(
  params: ParamTensors,
  c: ModelConfig,
  x0: tf.Tensor2D,
  attention: Attention,
): tf.Tensor2D {
  let x = x0;
  for (let l = 0; l < c.nLayers; l++) {
    const p = blockPrefix(l);
    const a = layerNorm(
      x,
      param(params, `${p}ln1.g`) as tf.Tensor1D,
      param(params, `${p}ln1.b`) as tf.Tensor1D,
      c.layerNormEps,
    );
    const qkv = affine(
      a,
      param(params, `${p}attn.wqkv`) as tf.Tensor2D,
      param(params, `${p}attn.bqkv`) as tf.Tensor1D,
    ) as tf.Tensor2D;
    const [q, k, v] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const projected = affine(
      attention(l, q, k, v),
      param(params, `${p}attn.wo`) as tf.Tensor2D,
      param(params, `${p}attn.bo`) as tf.Tensor1D,
    );
    x = tf.add(x, projected) as tf.Tensor2D;
    const m = layerNorm(
      x,
      param(params, `${p}ln2.g`) as tf.Tensor1D,
      param(params, `${p}ln2.b`) as tf.Tensor1D,
      c.layerNormEps,
    );
    const hidden = gelu(
      affine(m, param(params, `${p}mlp.w1`) as tf.Tensor2D, param(params, `${p}mlp.b1`) as tf.Tensor1D),
    );
    const out = affine(
      hidden as tf.Tensor2D,
      param(params, `${p}mlp.w2`) as tf.Tensor2D,
      param(params, `${p}mlp.b2`) as tf.Tensor1D,
    );
    x = tf.add(x, out) as tf.Tensor2D;
  }
  return layerNorm(
    x,
    param(params, 'ln_f.g') as tf.Tensor1D,
    param(params, 'ln_f.b') as tf.Tensor1D,
    c.layerNormEps,
  ) as tf.Tensor2D;
}

export interface ChunkResult {
  /** [batch, T, vocab] */
  logits: tf.Tensor3D;
  /** Present only when the caller asked for a cache (generation). */
  cache: KvCache | null;
}

/**
 * Runs `tokens` [batch, T] whose first position is `cacheLength(cache)`. With `keepCache` the
 * returned cache holds past+T keys/values; the input cache is not disposed (the caller owns it).
 */
export interface ChunkOptions {
  /** Keys/values of earlier positions; not disposed here (the caller owns it). */
  cache?: KvCache | null;
  /** Return a cache holding past + T positions (generation). */
  keepCache?: boolean;
  /** Inference only: tok_emb already transposed to [d, V], so a step skips a 786k-element transpose. */
  outputWeightT?: tf.Tensor2D;
  /** Project only the last position to the vocabulary (logits come back as [batch, 1, vocab]). */
  lastPositionOnly?: boolean;
}

export function forwardChunk(
  params: ParamTensors,
  c: ModelConfig,
  tokens: tf.Tensor2D,
  options: ChunkOptions = {},
): ChunkResult {
  const { cache = null, keepCache = false, outputWeightT, lastPositionOnly = false } = options;
  const [b, t] = tokens.shape;
  const past = cacheLength(cache);
  if (past + t > c.contextLength)
    throw new Error(`sequence of ${past + t} tokens exceeds context ${c.contextLength}`);
  const h = c.nHeads;
  const hd = c.dModel / h;
  const ids = tf.reshape(tokens, [b * t]) as tf.Tensor1D;
  const positions = tf.tensor1d(
    Array.from({ length: b * t }, (_, i) => past + (i % t)),
    'int32',
  );
  const tokenTable = tiedEmbedding(param(params, 'tok_emb') as tf.Tensor2D);
  const x = tf.add(
    tokenTable.lookup(ids),
    embed(param(params, 'pos_emb') as tf.Tensor2D, positions),
  ) as tf.Tensor2D;
  const mask = causalMask(past, t);
  const scale = 1 / Math.sqrt(hd);
  const newCache: KvCache = [];
  const final = transformerLayers(params, c, x, (l, q, k, v) => {
    const qh = splitHeads(tf.mul(q, scale) as tf.Tensor2D, b, t, h, hd);
    let kh = splitHeads(k, b, t, h, hd);
    let vh = splitHeads(v, b, t, h, hd);
    const prev = cache?.[l];
    if (prev) {
      kh = tf.concat([prev.k, kh], 1);
      vh = tf.concat([prev.v, vh], 1);
    }
    if (keepCache) newCache.push({ k: kh, v: vh });
    const scores = tf.add(tf.matMul(qh, kh, false, true), mask);
    const attended = tf.matMul(tf.softmax(scores), vh) as tf.Tensor3D;
    return mergeHeads(attended, b, t, h, hd);
  });
  // Tied embeddings: the output projection is the token embedding transposed.
  const rows = lastPositionOnly
    ? (tf.reshape(tf.slice(tf.reshape(final, [b, t, c.dModel]), [0, t - 1, 0], [b, 1, c.dModel]), [
        b,
        c.dModel,
      ]) as tf.Tensor2D)
    : final;
  const projected = outputWeightT ? tf.matMul(rows, outputWeightT) : tokenTable.project(rows);
  const logits = tf.reshape(projected, [b, lastPositionOnly ? 1 : t, c.vocabSize]) as tf.Tensor3D;
  return { logits, cache: keepCache ? newCache : null };
}

/** One sequence in a batched step: its new tokens and the cache of its earlier ones (batch 1). */
export interface RowInput {
  tokens: number[];
  cache: KvCache | null;
}

export interface RowsResult {
  /** [rows, vocab]: the logits after each row's last new token. */
  logits: tf.Tensor2D;
  /** Per row: a cache holding its past plus its new tokens (the input caches are not disposed). */
  caches: KvCache[];
}

/**
 * Advances several independent sequences in one pass, each with its own cache length: the dense
 * layers run once over all rows instead of once per sequence. New tokens are left-padded to the
 * longest row and past keys right-padded to the longest cache; an additive mask hides the padding,
 * so each row sees exactly what `forwardChunk` would show it alone. Serves batched prefill (no
 * caches) and batched decoding (one new token per row).
 */
export function forwardRows(
  params: ParamTensors,
  c: ModelConfig,
  rows: RowInput[],
  options: { outputWeightT?: tf.Tensor2D } = {},
): RowsResult {
  const b = rows.length;
  if (b === 0) throw new Error('forwardRows needs at least one row');
  const pasts = rows.map((r) => cacheLength(r.cache));
  const t = Math.max(...rows.map((r) => r.tokens.length));
  const pastMax = Math.max(...pasts);
  const offsets = rows.map((r) => t - r.tokens.length);
  rows.forEach((r, i) => {
    if (r.tokens.length === 0) throw new Error(`row ${i} has no new tokens`);
    if (pasts[i]! + r.tokens.length > c.contextLength)
      throw new Error(`sequence of ${pasts[i]! + r.tokens.length} tokens exceeds context ${c.contextLength}`);
  });
  const h = c.nHeads;
  const hd = c.dModel / h;
  const idData = new Int32Array(b * t);
  const posData = new Int32Array(b * t);
  // Keys are [past (padded to pastMax) | new (left-padded to t)]; mask [b, 1, t, pastMax + t].
  const width = pastMax + t;
  const maskData = new Float32Array(b * t * width);
  rows.forEach((r, i) => {
    const off = offsets[i]!;
    for (let j = off; j < t; j++) {
      idData[i * t + j] = r.tokens[j - off]!;
      posData[i * t + j] = pasts[i]! + j - off;
      // Padding queries see everything (their outputs are discarded): no row is fully masked.
      const base = (i * t + j) * width;
      for (let k = pasts[i]!; k < pastMax; k++) maskData[base + k] = -1e9;
      for (let k = 0; k < t; k++) if (k < off || k > j) maskData[base + pastMax + k] = -1e9;
    }
  });
  const tokenTable = tiedEmbedding(param(params, 'tok_emb') as tf.Tensor2D);
  const x = tf.add(
    tokenTable.lookup(tf.tensor1d(idData, 'int32')),
    embed(param(params, 'pos_emb') as tf.Tensor2D, tf.tensor1d(posData, 'int32')),
  ) as tf.Tensor2D;
  const mask = tf.tensor4d(maskData, [b, 1, t, width]);
  const scale = 1 / Math.sqrt(hd);
  const caches: KvCache[] = rows.map(() => []);
  // Padding by concatenating zeros: tf.pad is ~30x slower than concat on wasm for these shapes.
  const zeros = new Map<number, tf.Tensor3D>();
  const zerosOf = (n: number): tf.Tensor3D => {
    let z = zeros.get(n);
    if (!z) zeros.set(n, (z = tf.zeros([h, n, hd])));
    return z;
  };
  const stackPast = (pick: (layer: LayerCache) => tf.Tensor3D, l: number): tf.Tensor3D =>
    tf.concat(
      rows.map((r, i) => {
        const pad = pastMax - pasts[i]!;
        if (!r.cache || pasts[i] === 0) return zerosOf(pastMax);
        const prev = pick(r.cache[l]!);
        return pad === 0 ? prev : tf.concat([prev, zerosOf(pad)], 1);
      }),
      0,
    );
  const final = transformerLayers(params, c, x, (l, q, k, v) => {
    const qh = splitHeads(tf.mul(q, scale) as tf.Tensor2D, b, t, h, hd);
    const kNew = splitHeads(k, b, t, h, hd);
    const vNew = splitHeads(v, b, t, h, hd);
    const keys = pastMax > 0 ? tf.concat([stackPast((p) => p.k, l), kNew], 1) : kNew;
    const values = pastMax > 0 ? tf.concat([stackPast((p) => p.v, l), vNew], 1) : vNew;
    rows.forEach((r, i) => {
      const size: [number, number, number] = [h, r.tokens.length, hd];
      const k1 = tf.slice(kNew, [i * h, offsets[i]!, 0], size);
      const v1 = tf.slice(vNew, [i * h, offsets[i]!, 0], size);
      const prev = r.cache && pasts[i]! > 0 ? r.cache[l]! : null;
      caches[i]!.push(
        prev ? { k: tf.concat([prev.k, k1], 1), v: tf.concat([prev.v, v1], 1) } : { k: k1, v: v1 },
      );
    });
    const scores = tf.reshape(tf.matMul(qh, keys, false, true), [b, h, t, width]);
    const probs = tf.softmax(tf.reshape(tf.add(scores, mask), [b * h, t, width]));
    const attended = tf.matMul(probs, values) as tf.Tensor3D;
    return mergeHeads(attended, b, t, h, hd);
  });
  const last = tf.reshape(tf.slice(tf.reshape(final, [b, t, c.dModel]), [0, t - 1, 0], [b, 1, c.dModel]), [
    b,
    c.dModel,
  ]) as tf.Tensor2D;
  const logits = (
    options.outputWeightT ? tf.matMul(last, options.outputWeightT) : tokenTable.project(last)
  ) as tf.Tensor2D;
  return { logits, caches };
}

/** Full causal forward pass: tokens [batch, T] -> logits [batch, T, vocab]. */
export function forward(params: ParamTensors, c: ModelConfig, tokens: tf.Tensor2D): tf.Tensor3D {
  return forwardChunk(params, c, tokens).logits;
}

/**
 * Analytic FLOPs per trained token (forward + backward = 3x forward), counting matmuls only:
 * the dense layers, the tied output projection and both attention products over the full window.
 */
export function trainFlopsPerToken(c: ModelConfig, seqLen = c.contextLength): number {
  const dense =
    c.nLayers * (2 * c.dModel * 3 * c.dModel + 2 * c.dModel * c.dModel + 2 * 2 * c.dModel * c.dFf);
  const output = 2 * c.dModel * c.vocabSize;
  const attention = c.nLayers * 2 * 2 * seqLen * c.dModel;
  return 3 * (dense + output + attention);
}
