import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossEntropy, sequenceLogProb } from '../../../src/llm/losses.ts';
import { initParams } from '../../../src/llm/params.ts';
import { forward } from '../../../src/llm/transformer.ts';
import { tinyConfig, useBackend } from '../../helpers/llm.ts';

test('sequence log-prob sums exactly the masked next-token log-probs (for DPO/KTO)', async () => {
  await useBackend('wasm');
  const config = tinyConfig();
  const params = initParams(config, 8);
  const ids = [[3, 50, 61, 7, 99, 12, 40, 8]];
  const t = ids[0]!.length;
  const tokens = tf.tensor2d(ids, [1, t], 'int32');
  const all = sequenceLogProb(params, config, tokens, tf.ones([1, t])).dataSync()[0]!;
  const ce = crossEntropy(
    forward(params, config, tf.tensor2d([ids[0]!.slice(0, -1)], [1, t - 1], 'int32')),
    tf.tensor2d([ids[0]!.slice(1)], [1, t - 1], 'int32'),
  ).dataSync()[0]!;
  assert.ok(Math.abs(all + ce * (t - 1)) < 1e-3, `sum ${all} vs -mean*n ${-ce * (t - 1)}`);
  // Answer-only mask: the last three tokens. Equals the full sum minus the unmasked part.
  const answerMask = tf.tensor2d([[0, 0, 0, 0, 0, 1, 1, 1]]);
  const promptMask = tf.tensor2d([[1, 1, 1, 1, 1, 0, 0, 0]]);
  const answer = sequenceLogProb(params, config, tokens, answerMask).dataSync()[0]!;
  const prompt = sequenceLogProb(params, config, tokens, promptMask).dataSync()[0]!;
  assert.ok(answer < 0 && prompt < 0);
  assert.ok(Math.abs(answer + prompt - all) < 1e-3);
  assert.equal(sequenceLogProb(params, config, tokens, tf.zeros([1, t])).dataSync()[0], 0);
});
