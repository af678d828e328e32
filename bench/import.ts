// `npm run bench:import [-- --smoke]`: a randomly initialised model the size of gpt2-small (124M
// parameters, 1,024 context, 50,257-token vocabulary), written as a hub folder would be (bare
// tensor names, F32, mask buffers, a tokenizer without chat tokens), imported, loaded, and run:
// import and load time, RSS, single-stream generation with the KV cache, training tokens/s and MFU
// against the measured matmul peak. Prints the CPU model and progress lines, then one JSON line.
// `--smoke` runs the same path on a small model in seconds (for CI-style checks, not figures).
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/llm/backend.ts';
import { loadModel } from '../src/llm/checkpoint.ts';
import { releaseInferenceCache, warmForGeneration } from '../src/llm/generate.ts';
import { MODEL_SIZES, type ModelConfig } from '../src/llm/config.ts';
import { runHfTask } from '../src/llm/hf-thread.ts';
import { countParams } from '../src/llm/params.ts';
import {
  batchTensors,
  createTrainState,
  disposeBatch,
  disposeTrainState,
  trainStep,
} from '../src/llm/train-step.ts';
import { trainFlopsPerToken } from '../src/llm/transformer.ts';
import { GPT2_VOCAB, writeHubFolder } from './hub-folder.ts';
import { generationThroughput, matmulRates, modelMatmulShapes } from './model.ts';

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 2 ** 20);

/** The training child's answer: one JSON line last on its stdout. */
interface TrainResult {
  secondsPerStep: number;
  rssBytes: number;
}

/** Runs `--train-from dir` in a new Node process with this one's loader flags (tsx). */
function trainInChild(dir: string, batchSize: number, seqLen: number, steps: number): TrainResult {
  const out = execFileSync(
    process.execPath,
    [
      ...process.execArgv,
      process.argv[1]!,
      '--train-from',
      dir,
      '--batch-size',
      String(batchSize),
      '--seq-len',
      String(seqLen),
      '--steps',
      String(steps),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 * 2 ** 20 },
  );
  const last = out.trim().split('\n').at(-1)!;
  return JSON.parse(last) as TrainResult;
}

/** The child: load the imported folder, then time AdamW steps on one fixed batch. */
async function trainOnly(dir: string, batchSize: number, seqLen: number, steps: number): Promise<void> {
  await selectBackend();
  const model = loadModel(dir);
  releaseInferenceCache(model.params);
  const state = createTrainState(model.config, model.params);
  tf.dispose(Object.values(model.params));
  const tokens = batchSize * seqLen;
  const inputs = Int32Array.from({ length: tokens }, (_, i) => (i * 7919) % model.config.vocabSize);
  const targets = Int32Array.from({ length: tokens }, (_, i) => (i * 104729 + 3) % model.config.vocabSize);
  const step = () => {
    const batch = batchTensors(inputs, targets, batchSize, seqLen);
    const r = trainStep(state, batch, { lr: 1e-5, clipNorm: 1 });
    disposeBatch(batch);
    return r;
  };
  step(); // warm-up: kernels and AdamW moments allocated
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const secondsPerStep = (performance.now() - t0) / 1000 / steps;
  const result: TrainResult = { secondsPerStep, rssBytes: process.memoryUsage().rss };
  disposeTrainState(state);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      'batch-size': { type: 'string' },
      'seq-len': { type: 'string' },
      steps: { type: 'string' },
      'new-tokens': { type: 'string' },
      'train-from': { type: 'string' },
    },
  });
  if (values['train-from']) {
    await trainOnly(
      values['train-from'],
      Number(values['batch-size']),
      Number(values['seq-len']),
      Number(values.steps),
    );
    return;
  }
  const smoke = values.smoke!;
  const log = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const cpu = cpus()[0]?.model ?? 'unknown';
  log({ stage: 'machine', cpu, cores: cpus().length });
  const backend = await selectBackend();
  log({ stage: 'backend', ...backend });

  // gpt2-small; the smoke run keeps the path and shrinks every dimension.
  const config: ModelConfig = smoke
    ? {
        contextLength: 64,
        dModel: 64,
        nLayers: 2,
        nHeads: 2,
        dFf: 256,
        layerNormEps: 1e-5,
        initStd: 0.02,
        vocabSize: 1024,
      }
    : { ...MODEL_SIZES['gpt2-small'], vocabSize: GPT2_VOCAB };
  // Fine-tuning batches are short chat exchanges. One sequence of 128 tokens a step keeps the
  // weights, AdamW moments, gradients and activations of a 124M model inside the wasm backend's
  // 4 GiB heap: weights and moments hold 1,424 MiB, a step allocates up to 905 MiB more (the first,
  // which creates the moments, 1,538 MiB over the weights). 2 x 128 ran past the heap before the
  // step's memory was cut (src/llm/README.md, "Training memory") and has not been measured since.
  const batchSize = Number(values['batch-size'] ?? (smoke ? 2 : 1));
  const seqLen = Number(values['seq-len'] ?? (smoke ? 32 : 128));
  const steps = Number(values.steps ?? (smoke ? 2 : 4));
  const newTokens = Number(values['new-tokens'] ?? (smoke ? 16 : 128));

  // The matmul peak MFU is judged against, measured first, in a fresh wasm heap: measured after the
  // model was loaded and run, the same products ran at 12.8 GFLOP/s against 27 in a fresh process
  // (AMD EPYC), which made the MFU over 1. The shapes are the model's (the import adds 4 tokens to
  // the vocabulary, which only changes the output projection, never the peak).
  const rates = matmulRates(modelMatmulShapes(config, batchSize * seqLen), smoke ? 2 : 3);
  log({ stage: 'matmul', peakGflops: round(rates.peak), shapes: rates.shapes });

  const work = mkdtempSync(join(tmpdir(), 'feedloop-bench-import-'));
  try {
    const source = join(work, 'hub');
    const dest = join(work, 'imported');
    mkdirSync(source);
    let t0 = performance.now();
    writeHubFolder(source, config);
    log({
      stage: 'hub-folder',
      parameters: countParams(config),
      seconds: round((performance.now() - t0) / 1000, 2),
    });

    t0 = performance.now();
    const imported = await runHfTask({ kind: 'import', src: source, dest });
    const importSeconds = (performance.now() - t0) / 1000;
    log({
      stage: 'import',
      seconds: round(importSeconds, 2),
      addedTokens: imported.addedTokens,
      storedAs: imported.storedAs,
    });

    const rssBefore = process.memoryUsage().rss;
    t0 = performance.now();
    const model = loadModel(dest);
    const readSeconds = (performance.now() - t0) / 1000;
    // Loaded as the serving worker loads a version: read, then warmed (weights packed, output table
    // transposed) before it takes a request, so the first token below is a served first token.
    await warmForGeneration(model);
    const loadSeconds = (performance.now() - t0) / 1000;
    const rssLoaded = process.memoryUsage().rss;
    log({
      stage: 'load',
      seconds: round(loadSeconds, 2),
      readSeconds: round(readSeconds, 2),
      warmSeconds: round(loadSeconds - readSeconds, 2),
      rssMb: mb(rssLoaded),
      rssDeltaMb: mb(rssLoaded - rssBefore),
    });

    const generation = await generationThroughput(model, newTokens, true);
    log({ stage: 'generate', newTokens, ...generation });

    const tokens = batchSize * seqLen;

    // Training runs in a fresh process, as it does in feedloop (the workers load the version to
    // train): the wasm heap never shrinks, and what generation and the matmul probe left in it
    // fragments the 4 GiB a 124M model's step needs (measured: "memory access out of bounds" on the
    // first step when trained in this process after generating).
    tf.dispose(Object.values(model.params));
    const trained = trainInChild(dest, batchSize, seqLen, steps);
    const trainTokensPerSecond = tokens / trained.secondsPerStep;
    const flopsPerToken = trainFlopsPerToken(model.config, seqLen);
    const mfu = (trainTokensPerSecond * flopsPerToken) / (rates.peak * 1e9);
    const rssTrained = trained.rssBytes;
    log({
      stage: 'train',
      batchSize,
      seqLen,
      steps,
      secondsPerStep: round(trained.secondsPerStep, 3),
      trainTokensPerSecond: round(trainTokensPerSecond),
      mfu: round(mfu, 3),
      rssMb: mb(rssTrained),
    });

    log({
      bench: 'import',
      smoke,
      cpu,
      backend: backend.backend,
      parameters: countParams(model.config),
      context: model.config.contextLength,
      vocab: model.config.vocabSize,
      import_s: round(importSeconds, 2),
      load_s: round(loadSeconds, 2),
      load_read_s: round(readSeconds, 2),
      load_warm_s: round(loadSeconds - readSeconds, 2),
      rss_after_load_mb: mb(rssLoaded),
      gen_tokens_per_s: round(generation.tokensPerSecond),
      first_token_ms: round(generation.firstTokenMs),
      peak_gflops: round(rates.peak),
      train_batch: `${batchSize}x${seqLen}`,
      train_tokens_per_s: round(trainTokensPerSecond),
      mfu: round(mfu, 3),
      rss_training_process_mb: mb(rssTrained),
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
