import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModel } from '../../../src/llm/checkpoint.ts';
import { decodeStep, GenerationSession, prefill, releaseInferenceCache } from '../../../src/llm/generate.ts';
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
