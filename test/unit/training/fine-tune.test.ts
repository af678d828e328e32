import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModel } from '../../../src/llm/index.ts';
import { paramGroups } from '../../../src/llm/params.ts';
import { fineTune, type TrainingConfigInput, type TrainingProgress } from '../../../src/training/index.ts';
import { loadRunState } from '../../../src/training/run-state.ts';
import {
  maxAbsDiff,
  readWeights,
  tempDir,
  tinyBase,
  useBackend,
  writeTinyDataset,
} from '../../helpers/training.ts';
import { tinyConfig } from '../../helpers/llm.ts';

const quick = (over: TrainingConfigInput = {}): TrainingConfigInput => ({
  batchSize: 4,
  layerDecay: 0.9,
  earlyStopping: { enabled: false, evalEvery: 5 },
  checkpointEvery: 10,
  ...over,
});

async function run(config: TrainingConfigInput, opts: { dataset?: string; base?: string } = {}) {
  const events: TrainingProgress[] = [];
  const outDir = tempDir('out');
  const result = await fineTune({
    baseDir: opts.base ?? tinyBase(),
    datasetDir: opts.dataset ?? writeTinyDataset(),
    outDir,
    workDir: tempDir('work'),
    config,
    seed: 3,
    onProgress: (p) => {
      events.push(p);
    },
  });
  return { result, events, outDir };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
function lossDrop(events: TrainingProgress[], method: string): { first: number; last: number } {
  const losses = events.filter((e) => e.phase === 'training' && e.method === method).map((e) => e.loss!);
  return { first: mean(losses.slice(0, 3)), last: mean(losses.slice(-3)) };
}

test('SFT lowers its loss and writes a loadable fine-tuned folder with a manifest', async () => {
  await useBackend('wasm');
  const { result, events, outDir } = await run(quick({ methods: ['sft'], sft: { lr: 5e-3, epochs: 8 } }));
  const { first, last } = lossDrop(events, 'sft');
  assert.ok(last < first * 0.7, `sft loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  assert.equal(result.methods.length, 1);
  assert.equal(result.methods[0]!.steps, 32);
  const loaded = loadModel(outDir);
  tf.dispose(Object.values(loaded.params));
  const m = loaded.manifest as Record<string, unknown>;
  assert.equal(m.kind, 'feedloop-fine-tuned');
  assert.equal(m.seed, 3);
  assert.match(String((m.dataset as { contentHash: string }).contentHash), /^test-/);
  assert.deepEqual((m.config as { methods: string[] }).methods, ['sft']);
  assert.ok(Array.isArray(m.methods) && (m.methods as { history: unknown[] }[])[0]!.history.length === 32);
  assert.equal(m.stoppedEarly, false);
  assert.ok('bestStep' in m && 'base' in m);
  const step = events.find((e) => e.phase === 'training')!;
  for (const k of ['step', 'totalSteps', 'epoch', 'stage', 'loss', 'lr', 'gradNorm'] as const)
    assert.equal(typeof step[k], 'number', k);
});

test('DPO (after SFT, from its weights) lowers its loss and logs rewards, margins and accuracies', async () => {
  await useBackend('wasm');
  const { result, events } = await run(
    quick({ methods: ['sft', 'dpo'], sft: { lr: 5e-3, epochs: 2 }, dpo: { lr: 5e-3, epochs: 6, beta: 0.5 } }),
  );
  assert.deepEqual(
    result.methods.map((m) => m.method),
    ['sft', 'dpo'],
  );
  assert.ok(events.some((e) => e.phase === 'reference' && e.method === 'dpo'));
  const dpo = events.filter((e) => e.phase === 'training' && e.method === 'dpo');
  // The reference is the starting policy, so the first loss is ln 2.
  assert.ok(Math.abs(dpo[0]!.loss! - Math.LN2) < 1e-4, `first DPO loss ${dpo[0]!.loss}`);
  const { first, last } = lossDrop(events, 'dpo');
  assert.ok(last < first * 0.7, `dpo loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  const metrics = dpo.at(-1)!.metrics!;
  for (const k of ['rewardsChosen', 'rewardsRejected', 'margins', 'accuracies'])
    assert.equal(typeof metrics[k], 'number');
  assert.ok(metrics.margins! > 0 && metrics.rewardsChosen! > metrics.rewardsRejected!);
});

test('KTO on unpaired labelled completions lowers its loss', async () => {
  await useBackend('wasm');
  const { events } = await run(quick({ methods: ['kto'], kto: { lr: 5e-3, epochs: 4, beta: 0.5 } }));
  const { first, last } = lossDrop(events, 'kto');
  assert.ok(last < first * 0.8, `kto loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  const metrics = events.filter((e) => e.phase === 'training').at(-1)!.metrics!;
  assert.ok(metrics.rewardsChosen! > metrics.rewardsRejected!, JSON.stringify(metrics));
  assert.ok(metrics.kl! >= 0);
});

test('a method with too few examples is skipped with the reason recorded', async () => {
  await useBackend('wasm');
  const { result } = await run(
    quick({ methods: ['sft', 'dpo'], sft: { epochs: 1 }, dpo: { minExamples: 1000 } }),
  );
  const dpo = result.methods.find((m) => m.method === 'dpo')!;
  assert.equal(dpo.steps, 0);
  assert.match(dpo.skippedReason!, /16 training examples, fewer than the minimum of 1000/);
});

test('early stopping stops when validation loss rises and restores the best weights', async () => {
  await useBackend('wasm');
  const base = tinyBase(4);
  // Validation answers contradict the training answers, so learning the data raises validation loss.
  const dataset = writeTinyDataset({ adversarialValidation: true });
  const { result, events, outDir } = await run(
    quick({
      methods: ['sft'],
      sft: { lr: 1e-2, epochs: 20 },
      earlyStopping: { enabled: true, methods: ['sft'], evalEvery: 4, patience: 2, minDelta: 0 },
    }),
    { base, dataset },
  );
  const vals = events
    .filter((e) => e.phase === 'training' && e.valLoss !== undefined)
    .map((e) => ({ step: e.step, v: e.valLoss! }));
  const sft = result.methods[0]!;
  assert.equal(sft.stoppedEarly, true);
  assert.ok(sft.steps < 80, `stopped after ${sft.steps} of 80 steps`);
  const bestVal = Math.min(...vals.map((v) => v.v));
  assert.equal(sft.bestValLoss, bestVal);
  assert.equal(vals.find((v) => v.v === bestVal)!.step, sft.bestStep);
  assert.ok(sft.bestStep > 0 && sft.bestStep < sft.steps);
  assert.ok(vals.at(-1)!.v > bestVal, 'validation loss rose after the best evaluation');
  // The output holds the best evaluation's weights: re-measured, its validation loss is the best one.
  const check = await run(
    quick({
      methods: ['sft'],
      sft: { lr: 1e-9, epochs: 0.01 },
      earlyStopping: { enabled: true, methods: ['sft'] },
    }),
    { base: outDir, dataset },
  );
  const remeasured = check.events.find((e) => e.phase === 'validating')!.valLoss!;
  assert.ok(
    Math.abs(remeasured - bestVal) < 1e-4,
    `restored weights give ${remeasured}, best was ${bestVal}`,
  );

  // With includeStartFor, training that only hurts ends on the starting weights, unchanged: the base
  // has learnt the validation answers, and training pushes it towards the contradicting ones.
  const knowsValidation = await run(quick({ methods: ['sft'], sft: { lr: 1e-2, epochs: 10 } }), {
    base,
    dataset: writeTinyDataset({ adversarialValidation: true, trainOnRejected: true }),
  });
  const undone = await run(
    quick({
      methods: ['sft'],
      sft: { lr: 1e-2, epochs: 20 },
      earlyStopping: {
        enabled: true,
        methods: ['sft'],
        evalEvery: 4,
        patience: 2,
        minDelta: 0,
        includeStartFor: ['sft'],
      },
    }),
    { base: knowsValidation.outDir, dataset },
  );
  assert.equal(undone.result.methods[0]!.bestStep, 0);
  assert.equal(undone.result.methods[0]!.stoppedEarly, true);
  const [w0, w1] = [readWeights(knowsValidation.outDir), readWeights(undone.outDir)];
  for (const name of Object.keys(w0)) assert.equal(maxAbsDiff(w0[name]!, w1[name]!), 0, name);
});

test('gradual unfreezing: frozen groups stay unchanged and each stage gets a new optimizer', async () => {
  await useBackend('wasm');
  const base = tinyBase(5);
  const workDir = tempDir('work');
  const controller = new AbortController();
  const config = quick({
    methods: ['sft'],
    sft: { lr: 5e-3, epochs: 4 },
    unfreezing: { enabled: true, initialGroups: 2, stepsPerStage: 6 },
  });
  const input = {
    baseDir: base,
    datasetDir: writeTinyDataset(),
    outDir: tempDir('out'),
    workDir,
    config,
    seed: 1,
  };
  // Stop two steps into stage 1 and look at the optimizer state the checkpoint holds.
  await assert.rejects(
    fineTune({
      ...input,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'training' && p.step === 8) controller.abort();
      },
    }),
    /abort/i,
  );
  const state = loadRunState(workDir)!;
  assert.equal(state.progress.step, 8);
  assert.equal(state.progress.stage, 1);
  const steps = state.progress.adamSteps;
  // Stage 1 started a fresh optimizer: the top groups' moments count 2 steps, not 8.
  assert.equal(steps['ln_f.g'], 2);
  assert.equal(steps['blocks.1.mlp.w1'], 2);
  assert.equal(steps['blocks.0.mlp.w1'], 2);
  assert.equal(steps['tok_emb'], undefined, 'embeddings are still frozen');

  const before = readWeights(base);
  const after = state.params;
  const groups = paramGroups(tinyConfig());
  for (const name of groups.find((g) => g.name === 'embeddings')!.params)
    assert.equal(maxAbsDiff(after[name]!.data as Float32Array, before[name]!), 0, `${name} is frozen`);
  for (const name of groups.find((g) => g.name === 'block.1')!.params.filter((n) => n.endsWith('w1')))
    assert.ok(maxAbsDiff(after[name]!.data as Float32Array, before[name]!) > 0, `${name} trained`);
});

test('tensor count stays flat across fine-tuning steps and nothing leaks after', async () => {
  await useBackend('wasm');
  const base = tinyBase(6);
  const dataset = writeTinyDataset();
  const start = tf.memory().numTensors;
  const counts: Record<string, number[]> = { sft: [], dpo: [], kto: [] };
  await fineTune({
    baseDir: base,
    datasetDir: dataset,
    outDir: tempDir('out'),
    workDir: tempDir('work'),
    config: quick({
      methods: ['sft', 'dpo', 'kto'],
      sft: { epochs: 2 },
      dpo: { epochs: 2 },
      kto: { epochs: 1 },
      earlyStopping: { enabled: true, evalEvery: 3, patience: 100 },
    }),
    onProgress: (p) => {
      if (p.phase === 'training') counts[p.method]!.push(tf.memory().numTensors);
    },
  });
  for (const [method, c] of Object.entries(counts)) {
    // Moments appear on the first update; from then on the count does not move.
    assert.ok(c.length >= 6, method);
    assert.equal(new Set(c.slice(1)).size, 1, `${method}: ${c.join(',')}`);
  }
  assert.equal(tf.memory().numTensors, start);
});

test('mixed precision is refused before any work with a clear error', async () => {
  await useBackend('wasm');
  await assert.rejects(
    fineTune({
      baseDir: tinyBase(),
      datasetDir: writeTinyDataset(),
      outDir: tempDir('out'),
      workDir: tempDir('work'),
      config: { precision: 'mixed' },
    }),
    (err: Error) => /precision "mixed" is not supported: TensorFlow\.js has no float16/.test(err.message),
  );
});

test('the manifest (feedloop.json) records the dataset hash from the snapshot manifest', async () => {
  await useBackend('wasm');
  const dataset = writeTinyDataset();
  const { outDir } = await run(quick({ methods: ['sft'], sft: { epochs: 0.25 } }), { dataset });
  const m = JSON.parse(readFileSync(join(outDir, 'feedloop.json'), 'utf8')) as {
    dataset: { contentHash: string };
  };
  const ds = JSON.parse(readFileSync(join(dataset, 'manifest.json'), 'utf8')) as { contentHash: string };
  assert.equal(m.dataset.contentHash, ds.contentHash);
});
