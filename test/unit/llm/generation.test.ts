import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModel } from '../../../src/llm/checkpoint.ts';
import {
  decodeStep,
  GenerationSession,
  prefill,
  releaseInferenceCache,
  warmForGeneration,
} from '../../../src/llm/generate.ts';
import { mulberry32 } from '../../../src/llm/rng.ts';
import { sampleToken } from '../../../src/llm/sampling.ts';
import { disposeCache, forward } from '../../../src/llm/transformer.ts';
import { relativeError, useBackend, writeTinyModel } from '../../helpers/llm.ts';

test('KV-cache decoding gives the same logits as a full forward pass', async () => {
  await useBackend('wasm');
  const model = loadModel(writeTinyModel(21));
  const ids = [4, 90, 17, 250, 33, 8, 61, 199, 5, 12, 140, 77];
  const full = tf.tidy(
    () => forward(model.params, model.config, tf.tensor2d([ids], [1, ids.length], 'int32')).arraySync()[0]!,
  );
  const start = 5;
  let { logits, cache } = prefill(model.params, model.config, ids.slice(0, start));
  assert.ok(relativeError(full[start - 1]!, logits) < 1e-4, 'prefill logits differ');
  for (let i = start; i < ids.length; i++) {
    ({ logits, cache } = decodeStep(model.params, model.config, cache, ids[i]!));
    const err = relativeError(full[i]!, logits);
    assert.ok(err < 1e-4, `position ${i}: relative error ${err}`);
  }
  disposeCache(cache);
});

async function run(session: GenerationSession): Promise<{ text: string; reason: string; tokens: number }> {
  let text = '';
  for (;;) {
    const ev = await session.step();
    text += ev.delta;
    if (ev.done) return { text, reason: ev.result!.finishReason, tokens: ev.result!.completionTokens };
  }
}

test('greedy generation is the same with and without the cache, past the context window', async () => {
  await useBackend('wasm');
  const model = loadModel(writeTinyModel(22));
  const prompt = await model.tokenizer.encode('The capital of France is');
  // 60 new tokens with a 32-token context: exercises the sliding-window restart too.
  const opts = { maxTokens: 60, temperature: 0 };
  const before = tf.memory().numTensors;
  const cached = await run(new GenerationSession(model, prompt, { ...opts, useKvCache: true }));
  const uncached = await run(new GenerationSession(model, prompt, { ...opts, useKvCache: false }));
  assert.equal(cached.reason, 'length');
  assert.equal(cached.tokens, 60);
  // Identical until the first window restart (the cached path then sees a shorter window).
  const cut = Math.min(cached.text.length, uncached.text.length, 40);
  assert.equal(cached.text.slice(0, cut), uncached.text.slice(0, cut));
  // Finished sessions free their KV caches; the per-model output cache goes on release.
  assert.equal(tf.memory().numTensors, before + 1);
  releaseInferenceCache(model.params);
  assert.equal(tf.memory().numTensors, before);
});

test('the same seed reproduces a sampled completion; another seed changes it', async () => {
  await useBackend('wasm');
  const model = loadModel(writeTinyModel(23));
  const prompt = await model.tokenizer.encode('A dog is');
  const opts = { maxTokens: 25, temperature: 1.2, topK: 0, topP: 1 };
  const a = await run(new GenerationSession(model, prompt, { ...opts, seed: 1 }));
  const b = await run(new GenerationSession(model, prompt, { ...opts, seed: 1 }));
  const c = await run(new GenerationSession(model, prompt, { ...opts, seed: 2 }));
  assert.equal(a.text, b.text);
  assert.notEqual(a.text, c.text);
});

test('stop sequences end generation and are not returned', async () => {
  await useBackend('wasm');
  const model = loadModel(writeTinyModel(24));
  const prompt = await model.tokenizer.encode('Paris');
  const free = await run(new GenerationSession(model, prompt, { maxTokens: 30, temperature: 0 }));
  assert.ok(free.text.length > 4);
  const stop = free.text.slice(2, 4);
  const stopped = await run(
    new GenerationSession(model, prompt, { maxTokens: 30, temperature: 0, stop: [stop] }),
  );
  assert.equal(stopped.reason, 'stop');
  assert.equal(stopped.text, free.text.slice(0, free.text.indexOf(stop)));
});

test('top-k 1 is greedy and top-p keeps only the nucleus', () => {
  const logits = Float32Array.from([0, 5, 1, 4.9]);
  const rng = mulberry32(3);
  for (let i = 0; i < 20; i++)
    assert.equal(sampleToken(logits, { temperature: 1, topK: 1, topP: 1 }, rng), 1);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(sampleToken(logits, { temperature: 1, topK: 0, topP: 0.9 }, rng));
  assert.deepEqual([...seen].sort(), [1, 3]);
});

/** Sampling as it was written first: a full descending sort of the row for every threshold. */
function sampleBySorting(
  logits: Float32Array,
  opts: { temperature: number; topK: number; topP: number },
  rng: () => number,
): number {
  const sorted = Float32Array.from(logits).sort().reverse();
  const finite = sorted.findIndex((v) => v === -Infinity);
  const available = finite < 0 ? sorted.length : finite;
  const max = sorted[0]!;
  let keep = opts.topK > 0 ? Math.min(opts.topK, available) : available;
  if (opts.topP < 1) {
    let total = 0;
    for (let j = 0; j < keep; j++) total += Math.exp((sorted[j]! - max) / opts.temperature);
    let cumulative = 0;
    for (let j = 0; j < keep; j++) {
      cumulative += Math.exp((sorted[j]! - max) / opts.temperature) / total;
      if (cumulative >= opts.topP) {
        keep = j + 1;
        break;
      }
    }
  }
  const cutoff = sorted[keep - 1]!;
  const ids: number[] = [];
  const weights: number[] = [];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i]! >= cutoff) {
      ids.push(i);
      weights.push(Math.exp((logits[i]! - max) / opts.temperature));
      sum += weights.at(-1)!;
    }
  }
  let r = rng() * sum;
  for (let j = 0; j < ids.length; j++) {
    r -= weights[j]!;
    if (r <= 0) return ids[j]!;
  }
  return ids.at(-1)!;
}

test('top-k sampling draws the same token as sorting the whole row', () => {
  const values = mulberry32(11);
  for (let trial = 0; trial < 300; trial++) {
    const vocab = 1 + Math.floor(values() * 300);
    // Few distinct values (ties at the cut-off) in some rows, masked tokens in others.
    const levels = trial % 3 === 0 ? 4 : 0;
    const logits = Float32Array.from({ length: vocab }, () => {
      if (trial % 5 === 1 && values() < 0.4) return -Infinity;
      const v = (values() - 0.5) * 12;
      return levels ? Math.round(v / levels) : v;
    });
    logits[Math.floor(values() * vocab)] = Math.max(0, ...logits.filter(Number.isFinite));
    const opts = {
      temperature: [0.3, 0.8, 1.5][trial % 3]!,
      topK: [1, 2, 5, 40, 400][trial % 5]!,
      topP: [1, 0.95, 0.5][trial % 3]!,
    };
    const seed = 1000 + trial;
    const expected = sampleBySorting(logits, opts, mulberry32(seed));
    assert.equal(sampleToken(logits, opts, mulberry32(seed)), expected, `trial ${trial}`);
  }
});

test('warming a model for serving keeps only its output table and changes no answer', async () => {
  await useBackend('wasm');
  const model = loadModel(writeTinyModel(24));
  const prompt = await model.tokenizer.encode('Tell me about rivers');
  const opts = { maxTokens: 24, temperature: 0.9, seed: 7 };
  const cold = await run(new GenerationSession(model, prompt, opts));
  releaseInferenceCache(model.params);
  const before = tf.memory().numTensors;
  await warmForGeneration(model);
  // What the warm-up keeps is the transposed output table the generations reuse; its sessions are freed.
  assert.equal(tf.memory().numTensors, before + 1);
  const warm = await run(new GenerationSession(model, prompt, opts));
  assert.deepEqual(warm, cold);
  assert.equal(tf.memory().numTensors, before + 1);
  releaseInferenceCache(model.params);
});
