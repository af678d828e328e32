import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initParams } from '../../../src/llm/params.ts';
import { parseTrainingConfig, TrainingConfigSchema } from '../../../src/training/config.ts';
import { SequenceEncoder, sftBatchArrays } from '../../../src/training/data.ts';
import { layerGroups, StageOptimizers, trainableGroups } from '../../../src/training/layers.ts';
import { sftObjective } from '../../../src/training/objectives.ts';
import { evaluateObjective } from '../../../src/training/step.ts';
import { tinyConfig, tinyTokenizer, useBackend } from '../../helpers/llm.ts';

test('SFT loss ignores prompt-token targets and counts completion targets', async () => {
  await useBackend('wasm');
  const config = tinyConfig();
  const tok = tinyTokenizer();
  const encoder = new SequenceEncoder(tok, config.contextLength + 1);
  const seqs = await encoder.encode([
    { prompt: [{ role: 'user', content: 'What is the capital of France?' }], completion: 'Paris.' },
    {
      prompt: [{ role: 'user', content: 'What is the capital of Italy?' }],
      completion: 'The capital of Italy is Rome.',
    },
  ]);
  const a = sftBatchArrays(
    seqs.map((seq, i) => ({ seq, weight: i + 1 })),
    tok.endOfTextId,
  );
  const params = initParams(config, 5);
  const lossWith = (targets: Int32Array) =>
    tf.tidy(() => {
      const shape: [number, number] = [a.batch, a.length];
      const objective = sftObjective(config, {
        inputs: tf.tensor2d(a.inputs, shape, 'int32'),
        targets: tf.tensor2d(targets, shape, 'int32'),
        weights: tf.tensor2d(a.weights, shape, 'float32'),
      });
      return evaluateObjective(params, objective).loss;
    });
  const masked = a.weights.reduce((n, w) => n + (w === 0 ? 1 : 0), 0);
  assert.ok(masked >= 10, `prompt and padding positions are masked (${masked})`);
  assert.ok(a.weights.includes(2), 'the second example carries its weight on its completion tokens');

  const base = lossWith(a.targets);
  const promptChanged = a.targets.map((t, i) => (a.weights[i] === 0 ? (t + 7) % config.vocabSize : t));
  assert.equal(lossWith(promptChanged), base);
  const completionChanged = a.targets.map((t, i) => (a.weights[i]! > 0 ? (t + 7) % config.vocabSize : t));
  assert.notEqual(lossWith(completionChanged), base);
  tf.dispose(Object.values(params));
});

test('layer-wise learning rates differ by the decay factor from group to group', async () => {
  await useBackend('wasm');
  const config = tinyConfig();
  const groups = layerGroups(config, 0.5);
  assert.deepEqual(
    groups.map((g) => g.name),
    ['final_norm', 'block.1', 'block.0', 'embeddings'],
  );
  assert.deepEqual(
    groups.map((g) => g.lrScale),
    [1, 0.5, 0.25, 0.125],
  );
  // One real update: Adam's first step moves every element by ~lr (m/sqrt(v) = sign(g)), so the
  // largest change in each group is the group's own rate.
  const params = initParams(config, 2);
  const vars = Object.fromEntries(Object.entries(params).map(([n, t]) => [n, tf.variable(t)]));
  const before = Object.fromEntries(Object.entries(params).map(([n, t]) => [n, t.dataSync().slice()]));
  const opt = new StageOptimizers(0, groups, { beta1: 0.9, beta2: 0.99, weightDecay: 0 });
  assert.equal(opt.optimizers.size, groups.length, 'one optimizer per group');
  tf.tidy(() => {
    const grads = Object.fromEntries(Object.entries(params).map(([n, t]) => [n, tf.onesLike(t)]));
    opt.apply(vars, grads, 0.01);
  });
  for (const g of groups) {
    let moved = 0;
    for (const p of g.params) {
      const after = vars[p]!.dataSync();
      for (let i = 0; i < after.length; i++) moved = Math.max(moved, Math.abs(after[i]! - before[p]![i]!));
    }
    assert.ok(
      Math.abs(moved - 0.01 * g.lrScale) < 1e-6,
      `${g.name} moved ${moved}, expected ${0.01 * g.lrScale}`,
    );
  }
  opt.dispose();
  tf.dispose([...Object.values(vars), ...Object.values(params)]);
});

test('gradual unfreezing adds the next group down per stage', () => {
  const groups = layerGroups(tinyConfig(), 0.8);
  const u = { enabled: true, initialGroups: 1, stepsPerStage: 5 };
  assert.deepEqual(
    [0, 1, 2, 3, 9].map((s) => trainableGroups(groups, s, u).map((g) => g.name)),
    [
      ['final_norm'],
      ['final_norm', 'block.1'],
      ['final_norm', 'block.1', 'block.0'],
      ['final_norm', 'block.1', 'block.0', 'embeddings'],
      ['final_norm', 'block.1', 'block.0', 'embeddings'],
    ],
  );
  assert.equal(trainableGroups(groups, 0, { ...u, enabled: false }).length, groups.length);
});

test('mixed or float16 precision is refused with a clear error; defaults are complete', () => {
  for (const precision of ['mixed', 'float16'] as const)
    assert.throws(() => parseTrainingConfig({ precision }), /TensorFlow\.js has no float16/);
  const c = TrainingConfigSchema.parse({});
  assert.deepEqual(c.methods, ['sft']);
  assert.deepEqual(c.earlyStopping.methods, ['dpo', 'kto']);
  assert.equal(c.precision, 'float32');
  assert.equal(typeof c.earlyStopping.patience, 'number');
  assert.equal(typeof c.sft.lr, 'number');
  assert.throws(() => TrainingConfigSchema.parse({ methods: ['sft', 'sft'] }), /only once/);
});
