// Batched prefill and decoding across sessions must give what each session gets alone.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModel } from '../../../../src/llm/checkpoint.ts';
import {
  decodeBatch,
  decodeStep,
  GenerationSession,
  prefill,
  prefillBatch,
  prefillGroups,
  releaseInferenceCache,
  type StepEvent,
} from '../../../../src/llm/generate.ts';
import { cacheLength, disposeCache, type KvCache } from '../../../../src/llm/transformer.ts';
import { relativeError, useBackend, writeTinyModel } from '../../../helpers/llm.ts';

const PROMPTS = [[4, 90, 17, 250, 33, 8, 61], [12, 140], [77, 5, 199, 30, 41, 8, 8, 150, 3, 66, 91], [200]];

test('batched prefill and decoding give the same logits as each sequence alone', async () => {
  await useBackend('wasm');
  const model = loadModel(writeTinyModel(41));
  const { params, config } = model;
  const before = tf.memory().numTensors;
  const alone = PROMPTS.map((ids) => prefill(params, config, ids));
  const batched = prefillBatch(params, config, PROMPTS);
  alone.forEach((a, i) => {
    const err = relativeError(a.logits, batched.logits[i]!);
    assert.ok(err < 1e-5, `prefill row ${i}: relative error ${err}`);
    assert.equal(cacheLength(batched.caches[i]!), PROMPTS[i]!.length);
  });
  // Caches of different lengths (2 to 11 positions) decode together; each row keeps its own.
  let single: KvCache[] = alone.map((a) => a.cache);
  let stacked: KvCache[] = batched.caches;
  for (let step = 0; step < 6; step++) {
    const ids = PROMPTS.map((_, i) => (step * 31 + i * 7) % config.vocabSize);
    const one = single.map((cache, i) => decodeStep(params, config, cache, ids[i]!));
    const all = decodeBatch(params, config, stacked, ids);
    one.forEach((o, i) => {
      const err = relativeError(o.logits, all.logits[i]!);
      assert.ok(err < 1e-5, `decode step ${step} row ${i}: relative error ${err}`);
      assert.equal(cacheLength(all.caches[i]!), PROMPTS[i]!.length + step + 1);
    });
    single = one.map((o) => o.cache);
    stacked = all.caches;
  }
  for (const cache of [...single, ...stacked]) disposeCache(cache);
  // Only the transposed output embedding stays (freed on release): caches and scratch are gone.
  assert.equal(tf.memory().numTensors, before + 1);
  releaseInferenceCache(params);
  assert.equal(tf.memory().numTensors, before);
});

test('prefill groups keep padding at most doubling the work', () => {
  assert.deepEqual(prefillGroups([10, 9, 10, 9]), [[1, 3, 0, 2]]);
  const lengths = [120, 8, 9, 10, 7, 11];
  const groups = prefillGroups(lengths);
  assert.deepEqual(groups.flat().sort(), [0, 1, 2, 3, 4, 5]);
  for (const g of groups) {
    const longest = Math.max(...g.map((i) => lengths[i]!));
    const sum = g.reduce((s, i) => s + lengths[i]!, 0);
    assert.ok(g.length * longest <= 2 * sum, `group ${g} pads too much`);
  }
  assert.ok(
    groups.some((g) => g.length === 1 && g[0] === 0),
    'the long prompt runs on its own',
  );
});

async function runAlone(session: GenerationSession): Promise<string> {
  let text = '';
  for (;;) {
    const ev = await session.step();
    text += ev.delta;
    if (ev.done) return text;
  }
}

test('seeded sessions stepped together produce the same text as alone, past the context window', async () => {
  await useBackend('wasm');
  const model = loadModel(writeTinyModel(42));
  const prompts = await Promise.all(
    ['A dog is', 'The capital of France is', 'Paris'].map((p) => model.tokenizer.encode(p)),
  );
  // 50 tokens with a 32-token context: the batch mixes window restarts (prefill) with decoding.
  const opts = (seed: number) => ({ maxTokens: 50 - seed * 7, temperature: 1, topK: 0, topP: 1, seed });
  const alone = [];
  for (const [i, ids] of prompts.entries())
    alone.push(await runAlone(new GenerationSession(model, ids, opts(i))));
  const before = tf.memory().numTensors;
  const sessions = prompts.map((ids, i) => new GenerationSession(model, ids, opts(i)));
  const texts = sessions.map(() => '');
  while (sessions.some((s) => !s.isFinished)) {
    const events: StepEvent[] = await GenerationSession.stepAll(sessions);
    events.forEach((ev, i) => (texts[i] += ev.delta));
  }
  assert.deepEqual(texts, alone);
  assert.equal(tf.memory().numTensors, before, 'finished sessions free their caches');
  releaseInferenceCache(model.params);
});

test('aborting one session of a batch frees it and leaves the others unchanged', async () => {
  await useBackend('wasm');
  const model = loadModel(writeTinyModel(43));
  const prompts = await Promise.all(
    ['A dog is', 'Paris', 'The capital of'].map((p) => model.tokenizer.encode(p)),
  );
  const opts = (seed: number) => ({ maxTokens: 20, temperature: 1, topK: 0, topP: 1, seed });
  const alone = [];
  for (const [i, ids] of prompts.entries())
    alone.push(await runAlone(new GenerationSession(model, ids, opts(i))));
  const before = tf.memory().numTensors;
  const sessions = prompts.map((ids, i) => new GenerationSession(model, ids, opts(i)));
  const texts = sessions.map(() => '');
  let rounds = 0;
  let aborted: StepEvent | null = null;
  while (sessions.some((s) => !s.isFinished)) {
    if (rounds === 3) aborted = sessions[1]!.abort();
    const events = await GenerationSession.stepAll(sessions);
    events.forEach((ev, i) => (texts[i] += ev.delta));
    rounds++;
  }
  assert.equal(aborted?.result?.finishReason, 'aborted');
  assert.equal(aborted?.result?.completionTokens, 3);
  assert.equal(texts[0], alone[0]);
  assert.equal(texts[2], alone[2]);
  assert.ok(alone[1]!.startsWith(texts[1]!), 'the aborted session kept what it had sent');
  assert.equal(tf.memory().numTensors, before);
  releaseInferenceCache(model.params);
});
