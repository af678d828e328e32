import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  fineTune,
  type FineTuneInput,
  type TrainingConfigInput,
  type TrainingProgress,
} from '../../../src/training/index.ts';
import {
  maxAbsDiff,
  readWeights,
  tempDir,
  tinyBase,
  useBackend,
  writeTinyDataset,
} from '../../helpers/training.ts';

// Exercises everything a checkpoint must carry: two methods, DPO reference log-probs, unfreezing
// stages, early-stopping state with best weights, per-group optimizer moments and data order.
const CONFIG: TrainingConfigInput = {
  methods: ['sft', 'dpo'],
  batchSize: 4,
  layerDecay: 0.8,
  checkpointEvery: 5,
  unfreezing: { enabled: true, initialGroups: 2, stepsPerStage: 4 },
  earlyStopping: { enabled: true, evalEvery: 3, patience: 50 },
  schedule: { kind: 'cyclic', cycleSteps: 6 },
  sft: { lr: 5e-3, epochs: 4 },
  dpo: { lr: 2e-3, epochs: 2, beta: 0.3 },
};

function inputs(base: string, dataset: string): Omit<FineTuneInput, 'onProgress' | 'signal'> {
  return {
    baseDir: base,
    datasetDir: dataset,
    outDir: tempDir('out'),
    workDir: tempDir('work'),
    config: CONFIG,
    seed: 11,
  };
}

function assertSameWeights(a: string, b: string): void {
  const wa = readWeights(a);
  const wb = readWeights(b);
  for (const name of Object.keys(wa)) {
    const d = maxAbsDiff(wa[name]!, wb[name]!);
    assert.ok(d < 1e-5, `${name} differs by ${d}`);
  }
}

test('an aborted run resumes from its checkpoint and ends with the weights of an uninterrupted run', async () => {
  await useBackend('wasm');
  const base = tinyBase(7);
  const dataset = writeTinyDataset();
  const whole = inputs(base, dataset);
  await fineTune(whole);

  const resumed = inputs(base, dataset);
  // First attempt: abort at step 7 of SFT (between periodic checkpoints); second: step 3 of DPO.
  for (const [method, step] of [
    ['sft', 7],
    ['dpo', 3],
  ] as const) {
    const controller = new AbortController();
    await assert.rejects(
      fineTune({
        ...resumed,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'training' && p.method === method && p.step === step) controller.abort();
        },
      }),
      /abort/i,
    );
  }
  const events: TrainingProgress[] = [];
  const result = await fineTune({ ...resumed, onProgress: (p) => void events.push(p) });
  assert.equal(events[0]!.method, 'dpo');
  assert.equal(events[0]!.resumedFromStep, 3);
  assert.equal(events.find((e) => e.phase === 'training')!.step, 4);
  assert.ok(!events.some((e) => e.phase === 'reference'), 'reference log-probs come from the checkpoint');
  assert.deepEqual(
    result.methods.map((m) => m.steps),
    [16, 8],
  );
  assertSameWeights(whole.outDir, resumed.outDir);
});

test('a worker killed with SIGKILL mid-training is re-run to the same result', async () => {
  await useBackend('wasm');
  const base = tinyBase(8);
  const dataset = writeTinyDataset();
  const whole = inputs(base, dataset);
  await fineTune(whole);

  const crashed = inputs(base, dataset);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('./fixtures/run-fine-tune.ts', import.meta.url)),
      JSON.stringify({ ...crashed, pauseMethod: 'sft', pauseAtStep: 13 }),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  const paused = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child did not reach step 13 within 60 s')), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { method?: string; step?: number };
      if (msg.method === 'sft' && msg.step === 13) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', () => reject(new Error('child exited before step 13')));
  });
  await paused;
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');

  const events: TrainingProgress[] = [];
  await fineTune({ ...crashed, onProgress: (p) => void events.push(p) });
  // The last periodic checkpoint before the kill was at step 10; steps 11-13 are redone.
  assert.equal(events[0]!.resumedFromStep, 10);
  assert.equal(events.find((e) => e.phase === 'training')!.step, 11);
  assertSameWeights(whole.outDir, crashed.outDir);
});
