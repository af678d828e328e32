// Autoregressive generation: prefill, KV-cached decoding (or full recompute, for comparison),
// sampling, stop sequences and incremental text. A session advances one token per call so a worker
// can interleave many requests and cancel any of them between tokens; `GenerationSession.stepAll`
// advances several sessions with one batched forward pass for their prefills and one for their
// decoding steps.
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import type { LoadedModel } from './checkpoint.ts';
import type { ModelConfig } from './config.ts';
import type { ParamTensors } from './params.ts';
import { mulberry32, type Rng } from './rng.ts';
import { sampleToken } from './sampling.ts';
import { forwardChunk, forwardRows, disposeCache, cacheLength, type KvCache } from './transformer.ts';

export const GenerationOptionsSchema = z.object({
  maxTokens: z.number().int().positive().max(4096).default(128),
  temperature: z.number().min(0).max(5).default(0.7),
  topK: z.number().int().min(0).default(40),
  topP: z.number().gt(0).max(1).default(0.95),
  stop: z.array(z.string().min(1)).max(8).default([]),
  /** Same seed + same prompt + same model = same text. Omitted: a random seed. */
  seed: z.number().int().nonnegative().optional(),
  /** End-of-turn tokens are not sampled before this many tokens (like vLLM's min_tokens). */
  minTokens: z.number().int().min(0).max(4096).default(0),
  /** Off only for benchmarks: recomputes the whole window for every token. */
  useKvCache: z.boolean().default(true),
});
export type GenerationOptions = z.infer<typeof GenerationOptionsSchema>;
export type GenerationOptionsInput = z.input<typeof GenerationOptionsSchema>;

export type FinishReason = 'stop' | 'length' | 'aborted';

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens dropped from the left to fit the context window. */
  truncatedPromptTokens: number;
}

// Transposed output embedding per loaded parameter set, built on first use by generation.
const outputWeights = new WeakMap<ParamTensors, tf.Tensor2D>();

function outputWeightT(params: ParamTensors): tf.Tensor2D {
  let w = outputWeights.get(params);
  if (!w) {
    // Called inside tf.tidy: keep it, the cache owns it.
    w = tf.keep(tf.transpose(params['tok_emb'] as tf.Tensor2D));
    outputWeights.set(params, w);
  }
  return w;
}

/** Frees what generation cached for a parameter set (call when unloading a model). */
export function releaseInferenceCache(params: ParamTensors): void {
  outputWeights.get(params)?.dispose();
  outputWeights.delete(params);
}

/** tf.tidy that keeps the last-position logits and the new cache (tidy cannot type nested objects). */
function tidyKeepCache(fn: () => { last: tf.Tensor; cache: KvCache }): { last: tf.Tensor; cache: KvCache } {
  const [last, ...kv] = tf.tidy(() => {
    const r = fn();
    return [r.last, ...r.cache.flatMap((l) => [l.k, l.v])];
  });
  const cache: KvCache = [];
  for (let i = 0; i < kv.length; i += 2) cache.push({ k: kv[i] as tf.Tensor3D, v: kv[i + 1] as tf.Tensor3D });
  return { last: last!, cache };
}

/** Logits of the last position after running `ids` from scratch, plus the cache for them. */
export function prefill(
  params: ParamTensors,
  config: ModelConfig,
  ids: number[],
): { logits: Float32Array; cache: KvCache } {
  const { last, cache } = tidyKeepCache(() => {
    const out = forwardChunk(params, config, tf.tensor2d([ids], [1, ids.length], 'int32'), {
      keepCache: true,
      outputWeightT: outputWeightT(params),
      lastPositionOnly: true,
    });
    return { last: out.logits, cache: out.cache! };
  });
  const logits = last.dataSync() as Float32Array;
  last.dispose();
  return { logits, cache };
}

/** One cached decoding step; the old cache is disposed and a longer one returned. */
export function decodeStep(
  params: ParamTensors,
  config: ModelConfig,
  cache: KvCache,
  id: number,
): { logits: Float32Array; cache: KvCache } {
  const out = tidyKeepCache(() => {
    const res = forwardChunk(params, config, tf.tensor2d([[id]], [1, 1], 'int32'), {
      cache,
      keepCache: true,
      outputWeightT: outputWeightT(params),
    });
    return { last: res.logits, cache: res.cache! };
  });
  disposeCache(cache);
  const logits = out.last.dataSync() as Float32Array;
  out.last.dispose();
  return { logits, cache: out.cache };
}

/** tidyKeepCache for several rows: keeps the [rows, vocab] logits and every row's new cache. */
function tidyKeepRows(fn: () => { logits: tf.Tensor; caches: KvCache[] }): {
  logits: tf.Tensor;
  caches: KvCache[];
} {
  let layers = 0;
  const [logits, ...kv] = tf.tidy(() => {
    const r = fn();
    layers = r.caches[0]!.length;
    return [r.logits, ...r.caches.flatMap((cache) => cache.flatMap((l) => [l.k, l.v]))];
  });
  const caches: KvCache[] = [];
  for (let i = 0; i < kv.length; i += 2 * layers) {
    const cache: KvCache = [];
    for (let l = 0; l < layers; l++)
      cache.push({ k: kv[i + 2 * l] as tf.Tensor3D, v: kv[i + 2 * l + 1] as tf.Tensor3D });
    caches.push(cache);
  }
  return { logits: logits!, caches };
}

/** Splits [rows, vocab] logits into one array per row with a single read from the backend. */
function readRows(logits: tf.Tensor, rows: number, vocab: number): Float32Array[] {
  const data = logits.dataSync() as Float32Array;
  logits.dispose();
  return Array.from({ length: rows }, (_, i) => data.subarray(i * vocab, (i + 1) * vocab));
}

/** `prefill` for several prompts in one forward pass (shorter prompts are padded and masked). */
export function prefillBatch(
  params: ParamTensors,
  config: ModelConfig,
  prompts: number[][],
): { logits: Float32Array[]; caches: KvCache[] } {
  const { logits, caches } = tidyKeepRows(() =>
    forwardRows(
      params,
      config,
      prompts.map((tokens) => ({ tokens, cache: null })),
      { outputWeightT: outputWeightT(params) },
    ),
  );
  return { logits: readRows(logits, prompts.length, config.vocabSize), caches };
}

/**
 * `decodeStep` for several sequences at once, each with its own cache length. The input caches
 * are disposed and longer ones returned, in the same order.
 */
export function decodeBatch(
  params: ParamTensors,
  config: ModelConfig,
  caches: KvCache[],
  ids: number[],
): { logits: Float32Array[]; caches: KvCache[] } {
  const out = tidyKeepRows(() =>
    forwardRows(
      params,
      config,
      caches.map((cache, i) => ({ tokens: [ids[i]!], cache })),
      { outputWeightT: outputWeightT(params) },
    ),
  );
  for (const cache of caches) disposeCache(cache);
  return { logits: readRows(out.logits, caches.length, config.vocabSize), caches: out.caches };
}

/**
 * Groups prompt lengths for batched prefill so padding at most doubles a group's work: a long
 * prompt is not made to carry seven short ones padded to its length. Returns index groups.
 */
export function prefillGroups(lengths: number[]): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]!);
  const groups: number[][] = [];
  let group: number[] = [];
  let sum = 0;
  for (const i of order) {
    const len = lengths[i]!;
    // Sorted ascending, so `len` is the group's padded length if it joins.
    if (group.length > 0 && (group.length + 1) * len > 2 * (sum + len)) {
      groups.push(group);
      group = [];
      sum = 0;
    }
    group.push(i);
    sum += len;
  }
  if (group.length) groups.push(group);
  return groups;
}

/** What a session needs from the model for its next token. */
type ModelWork =
  | { kind: 'full'; ids: number[] }
  | { kind: 'prefill'; ids: number[] }
  | { kind: 'decode'; id: number; cache: KvCache };

/** Logits for the last position with no cache: the whole window is recomputed. */
export function lastLogitsFull(params: ParamTensors, config: ModelConfig, ids: number[]): Float32Array {
  // Read the data outside tidy: tidy walks whatever it returns, and a typed array is 4k elements.
  const last = tf.tidy(
    () =>
      forwardChunk(params, config, tf.tensor2d([ids], [1, ids.length], 'int32'), {
        outputWeightT: outputWeightT(params),
        lastPositionOnly: true,
      }).logits,
  );
  const logits = last.dataSync() as Float32Array;
  last.dispose();
  return logits;
}

export interface StepEvent {
  done: boolean;
  /** New text since the last event (may be empty while a stop sequence might be forming). */
  delta: string;
  tokenId?: number;
  result?: GenerationResult;
}

export class GenerationSession {
  private readonly model: LoadedModel;
  private readonly options: GenerationOptions;
  private readonly rng: Rng;
  private readonly stopIds: ReadonlySet<number>;
  private readonly context: number[];
  private readonly generated: number[] = [];
  private cache: KvCache | null = null;
  private pending: number | null = null;
  private emitted = 0;
  private lastText = '';
  private finished: GenerationResult | null = null;
  private readonly promptTokens: number;
  private readonly truncated: number;

  constructor(
    model: LoadedModel,
    promptIds: number[],
    options: GenerationOptionsInput = {},
    stopTokenIds: readonly number[] = [],
  ) {
    if (promptIds.length === 0) throw new Error('prompt is empty');
    this.model = model;
    this.options = GenerationOptionsSchema.parse(options);
    this.rng = mulberry32(this.options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.stopIds = new Set(stopTokenIds);
    const max = model.config.contextLength - 1;
    this.promptTokens = promptIds.length;
    this.truncated = Math.max(0, promptIds.length - max);
    this.context = promptIds.slice(this.truncated);
  }

  get isFinished(): boolean {
    return this.finished !== null;
  }

  /** What the model must compute for the next token; a window restart frees the old cache here. */
  private work(): ModelWork {
    const { config } = this.model;
    if (!this.options.useKvCache) return { kind: 'full', ids: this.context.slice(-config.contextLength) };
    if (this.cache === null || this.pending === null) {
      disposeCache(this.cache);
      this.cache = null;
      return { kind: 'prefill', ids: this.context.slice(-config.contextLength) };
    }
    if (cacheLength(this.cache) + 1 > config.contextLength) {
      // Window full: restart the cache from the newest half so positions stay within training range.
      disposeCache(this.cache);
      this.cache = null;
      return { kind: 'prefill', ids: this.context.slice(-Math.floor(config.contextLength / 2)) };
    }
    return { kind: 'decode', id: this.pending, cache: this.cache };
  }

  /** Runs one session's work alone (the path `step` takes). */
  private runAlone(w: ModelWork): { logits: Float32Array; cache: KvCache | null } {
    const { params, config } = this.model;
    if (w.kind === 'full') return { logits: lastLogitsFull(params, config, w.ids), cache: null };
    if (w.kind === 'prefill') return prefill(params, config, w.ids);
    return decodeStep(params, config, w.cache, w.id);
  }

  /** Takes the model's output for this step and samples the next token. */
  private accept(logits: Float32Array, cache: KvCache | null): number {
    if (this.options.useKvCache) this.cache = cache;
    if (this.generated.length < this.options.minTokens) {
      for (const stopId of this.stopIds) logits[stopId] = -Infinity;
    }
    const id = sampleToken(logits, this.options, this.rng);
    this.pending = id;
    return id;
  }

  /**
   * Advances every unfinished session by one token, like calling `step` on each, but with one
   * forward pass per model for all prefills (grouped by length) and one for all decoding steps.
   * Sampling uses each session's own generator, so a seeded session gives the same text whether it
   * runs alone or in a batch (up to float rounding in the batched matmuls). Events come back in
   * the order of `sessions`.
   */
  static async stepAll(sessions: GenerationSession[]): Promise<StepEvent[]> {
    const outputs = new Map<GenerationSession, { logits: Float32Array; cache: KvCache | null }>();
    const prefills = new Map<ParamTensors, { session: GenerationSession; ids: number[] }[]>();
    const decodes = new Map<ParamTensors, { session: GenerationSession; id: number; cache: KvCache }[]>();
    try {
      const live = sessions.filter((s) => !s.finished);
      for (const s of live) {
        const w = s.work();
        const key = s.model.params;
        if (w.kind === 'full') outputs.set(s, s.runAlone(w));
        else if (w.kind === 'prefill')
          prefills.set(key, [...(prefills.get(key) ?? []), { session: s, ids: w.ids }]);
        else decodes.set(key, [...(decodes.get(key) ?? []), { session: s, id: w.id, cache: w.cache }]);
      }
      for (const jobs of prefills.values()) {
        for (const group of prefillGroups(jobs.map((j) => j.ids.length))) {
          const members = group.map((i) => jobs[i]!);
          if (members.length === 1) {
            const [only] = members;
            outputs.set(only!.session, only!.session.runAlone({ kind: 'prefill', ids: only!.ids }));
            continue;
          }
          const { params, config } = members[0]!.session.model;
          const r = prefillBatch(
            params,
            config,
            members.map((m) => m.ids),
          );
          members.forEach((m, i) => outputs.set(m.session, { logits: r.logits[i]!, cache: r.caches[i]! }));
        }
      }
      for (const jobs of decodes.values()) {
        if (jobs.length === 1) {
          const [only] = jobs;
          outputs.set(
            only!.session,
            only!.session.runAlone({ kind: 'decode', id: only!.id, cache: only!.cache }),
          );
          continue;
        }
        const { params, config } = jobs[0]!.session.model;
        const r = decodeBatch(
          params,
          config,
          jobs.map((j) => j.cache),
          jobs.map((j) => j.id),
        );
        jobs.forEach((j, i) => outputs.set(j.session, { logits: r.logits[i]!, cache: r.caches[i]! }));
      }
    } catch (err) {
      // Sessions that already have new caches would leak them: the caller fails the whole batch.
      for (const out of outputs.values()) disposeCache(out.cache);
      throw err;
    }
    return Promise.all(
      sessions.map((s) => {
        const out = outputs.get(s);
        if (!out) return s.step();
        return s.emit(s.accept(out.logits, out.cache));
      }),
    );
  }

  /** Advances by one token. After `done`, further calls return the same result. */
  async step(): Promise<StepEvent> {
    if (this.finished) return { done: true, delta: '', result: this.finished };
    const w = this.work();
    const out = this.runAlone(w);
    return this.emit(this.accept(out.logits, out.cache));
  }

  /** Records a sampled token and works out the text it adds. */
  private async emit(id: number): Promise<StepEvent> {
    if (this.stopIds.has(id)) return this.finish('stop');
    this.generated.push(id);
    this.context.push(id);
    const text = this.model.tokenizer.decodeWithoutSpecials(this.generated);
    this.lastText = text;
    const stopAt = this.findStop(text);
    if (stopAt >= 0) return this.finish('stop', text.slice(0, stopAt));
    if (this.generated.length >= this.options.maxTokens) return this.finish('length', text);
    const safe = this.safeLength(text);
    const delta = safe > this.emitted ? text.slice(this.emitted, safe) : '';
    this.emitted = Math.max(this.emitted, safe);
    return { done: false, delta, tokenId: id };
  }

  /** Ends early (client went away); frees the cache. */
  abort(): StepEvent {
    if (this.finished) return { done: true, delta: '', result: this.finished };
    return this.finishSync('aborted', null);
  }

  private async finish(reason: FinishReason, text?: string): Promise<StepEvent> {
    const full = text ?? this.model.tokenizer.decodeWithoutSpecials(this.generated);
    return this.finishSync(reason, full);
  }

  private finishSync(reason: FinishReason, full: string | null): StepEvent {
    disposeCache(this.cache);
    this.cache = null;
    // Aborted: the result holds what the client was already sent.
    const text = full ?? this.lastText.slice(0, this.emitted);
    const delta = text.length > this.emitted ? text.slice(this.emitted) : '';
    this.finished = {
      text,
      finishReason: reason,
      promptTokens: this.promptTokens,
      completionTokens: this.generated.length,
      truncatedPromptTokens: this.truncated,
    };
    return { done: true, delta, result: this.finished };
  }

  private findStop(text: string): number {
    let best = -1;
    for (const s of this.options.stop) {
      const i = text.indexOf(s, Math.max(0, this.emitted - s.length));
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  /** Text that can be sent now: not a partial UTF-8 character, not a possible stop-string prefix. */
  private safeLength(text: string): number {
    let end = text.length;
    while (end > 0 && text[end - 1] === '\uFFFD') end--;
    for (const s of this.options.stop) {
      for (let k = Math.min(s.length - 1, end); k > 0; k--) {
        if (text.slice(end - k, end) === s.slice(0, k)) {
          end -= k;
          break;
        }
      }
    }
    return end;
  }
}

/**
 * Readies a loaded model for serving: one short cached generation builds the transposed output
 * table and has the wasm backend pack every weight matrix once (XNNPACK packs a matmul's right
 * operand on first use and keeps it per tensor). On a 124M model that one-time work is 2 to 3 s;
 * done at load, it is not charged to the first user's first token.
 */
export async function warmForGeneration(model: LoadedModel): Promise<void> {
  const ids = await model.tokenizer.encode('Hello');
  const session = new GenerationSession(model, ids.length ? ids : [0], {
    maxTokens: 2,
    temperature: 0,
    seed: 0,
  });
  while (!(await session.step()).done);
}
