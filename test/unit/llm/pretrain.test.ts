import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKPOINT_FILES } from '../../../src/llm/checkpoint.ts';
import { PretrainConfigSchema } from '../../../src/llm/config.ts';
import { CORPUS_FILES } from '../../../src/llm/corpus/build.ts';
import { runPretraining } from '../../../src/llm/pretrain.ts';
import { tinyCorpus, useBackend } from '../../helpers/llm.ts';

function tinyCorpusDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'feedloop-corpus-'));
  writeFileSync(join(dir, CORPUS_FILES.train), tinyCorpus(10));
  writeFileSync(join(dir, CORPUS_FILES.validation), tinyCorpus(2));
  writeFileSync(join(dir, CORPUS_FILES.manifest), JSON.stringify({ hash: 'tiny-test-corpus', counts: {} }));
  return dir;
}

const config = PretrainConfigSchema.parse({
  size: 'tiny',
  steps: 6,
  batchSize: 2,
  warmupSteps: 2,
  evalEvery: 3,
  evalBatches: 1,
  checkpointEvery: 2,
});

test('pretraining interrupted and resumed ends with the same weights as an uninterrupted run', async () => {
  await useBackend('wasm');
  const corpusDir = tinyCorpusDir();
  const straight = mkdtempSync(join(tmpdir(), 'feedloop-run-'));
  const full = await runPretraining({ corpusDir, outDir: straight, config, backend: 'wasm' });
  assert.equal(full.finished, true);

  const resumed = mkdtempSync(join(tmpdir(), 'feedloop-run-'));
  // Simulated crash: stop after three steps (the loop checkpoints on the way out).
  let calls = 0;
  const first = await runPretraining({
    corpusDir,
    outDir: resumed,
    config,
    backend: 'wasm',
    shouldStop: () => ++calls > 3,
  });
  assert.deepEqual([first.finished, first.step], [false, 3]);
  const second = await runPretraining({ corpusDir, outDir: resumed, config, backend: 'wasm' });
  assert.deepEqual([second.finished, second.step], [true, 6]);

  const weights = (dir: string) => readFileSync(join(dir, CHECKPOINT_FILES.weights));
  assert.ok(weights(straight).equals(weights(resumed)), 'resumed run diverged from the uninterrupted one');
  const manifest = JSON.parse(readFileSync(join(resumed, CHECKPOINT_FILES.manifest), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(manifest['corpusHash'], 'tiny-test-corpus');
  assert.equal(manifest['seed'], config.seed);
  assert.equal(manifest['steps'], 6);
  assert.ok(typeof manifest['validationLoss'] === 'number');
});
