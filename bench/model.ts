// `npm run bench:model`: how fast the built-in model trains and generates on this machine.
// Prints progress lines, then one JSON object as the last line. The measuring functions are
// exported so the HTTP benchmark can reuse them (it fills in time-to-first-token).
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/llm/backend.ts';
import { loadModel, type LoadedModel } from '../src/llm/checkpoint.ts';
import { formatChatPrompt } from '../src/llm/chat-format.ts';
import { modelConfigFor, type ModelConfig, type ModelSize } from '../src/llm/config.ts';
import { GenerationSession } from '../src/llm/generate.ts';
import { initParams } from '../src/llm/params.ts';
import { TextTokenizer } from '../src/llm/tokenizer.ts';
import {
  batchTensors,
  createTrainState,
  disposeBatch,
  disposeTrainState,
  trainStep,
} from '../src/llm/train-step.ts';
import { trainFlopsPerToken } from '../src/llm/transformer.ts';
import { measureServingLatency } from './serving-latency.ts';
import { percentile } from './percentile.ts';

export type MatmulShape = [m: number, k: number, n: number];

/** The dense matmul shapes of one training step: QKV, attention out, MLP up/down, tied output. */
export function modelMatmulShapes(c: ModelConfig, tokens: number): MatmulShape[] {
  return [
    [tokens, c.dModel, 3 * c.dModel],
    [tokens, c.dModel, c.dModel],
    [tokens, c.dModel, c.dFf],
    [tokens, c.dFf, c.dModel],
    [tokens, c.dModel, c.vocabSize],
  ];
}

// Reads the product back (so the time includes finishing the work) without returning the typed
// array from tf.tidy, which would walk its million elements looking for tensors.
function readMatmul(a: tf.Tensor, b: tf.Tensor): void {
  const c = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
  c.dataSync();
  c.dispose();
}

/** GFLOP/s of plain matmuls at each shape on the active backend; `peak` is the best of them. */
export function matmulRates(
  shapes: MatmulShape[],
  reps = 5,
): { shapes: { shape: MatmulShape; gflops: number }[]; peak: number } {
  const out = shapes.map((shape) => {
    const [m, k, n] = shape;
    const a = tf.randomNormal([m, k]);
    const b = tf.randomNormal([k, n]);
    readMatmul(a, b);
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) readMatmul(a, b);
    const seconds = (performance.now() - t0) / 1000 / reps;
    tf.dispose([a, b]);
    return { shape, gflops: (2 * m * k * n) / seconds / 1e9 };
  });
  return { shapes: out, peak: Math.max(...out.map((s) => s.gflops)) };
}

/** Tokens per second of full training steps (forward, backward, clip, AdamW) on synthetic data. */
export function trainingThroughput(
  config: ModelConfig,
  batchSize: number,
  steps: number,
  warmupSteps = 1,
): { tokensPerSecond: number; secondsPerStep: number; flopsPerToken: number } {
  const init = initParams(config, 1);
  const state = createTrainState(config, init);
  tf.dispose(Object.values(init));
  const n = batchSize * config.contextLength;
  const inputs = Int32Array.from({ length: n }, (_, i) => (i * 7919) % config.vocabSize);
  const targets = Int32Array.from({ length: n }, (_, i) => (i * 104729 + 3) % config.vocabSize);
  const run = () => {
    const batch = batchTensors(inputs, targets, batchSize, config.contextLength);
    trainStep(state, batch, { lr: 1e-4, clipNorm: 1 });
    disposeBatch(batch);
  };
  for (let i = 0; i < warmupSteps; i++) run();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) run();
  const secondsPerStep = (performance.now() - t0) / 1000 / steps;
  disposeTrainState(state);
  return { tokensPerSecond: n / secondsPerStep, secondsPerStep, flopsPerToken: trainFlopsPerToken(config) };
}

/** Tokens per second generating exactly `newTokens` (no stop tokens), with or without the KV cache. */
export async function generationThroughput(
  model: LoadedModel,
  newTokens: number,
  useKvCache: boolean,
  prompt = formatChatPrompt([{ role: 'user', content: 'What is the capital of France?' }]),
): Promise<{ tokensPerSecond: number; tokens: number; firstTokenMs: number }> {
  const ids = await model.tokenizer.encode(prompt);
  const session = new GenerationSession(model, ids, {
    maxTokens: newTokens,
    temperature: 0.8,
    seed: 1,
    useKvCache,
  });
  const t0 = performance.now();
  let firstTokenMs = 0;
  let tokens = 0;
  for (;;) {
    const ev = await session.step();
    if (tokens === 0) firstTokenMs = performance.now() - t0;
    if (ev.done) {
      tokens = ev.result!.completionTokens;
      break;
    }
    tokens++;
  }
  return { tokensPerSecond: tokens / ((performance.now() - t0) / 1000), tokens, firstTokenMs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'models/base' },
      size: { type: 'string', default: 'small' },
      'batch-size': { type: 'string', default: '16' },
      steps: { type: 'string', default: '8' },
      'new-tokens': { type: 'string', default: '256' },
      'skip-cpu': { type: 'boolean', default: false },
      streams: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '15' },
    },
  });
  const log = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const report = await selectBackend();
  log({ stage: 'backend', ...report });
  const size = values.size as ModelSize;
  const batchSize = Number(values['batch-size']);
  const newTokens = Number(values['new-tokens']);

  // Serve the committed checkpoint when it matches the size; otherwise random weights of that size.
  let model: LoadedModel;
  if (existsSync(`${values.model}/config.json`) && size === 'small') model = loadModel(values.model!);
  else {
    const tokenizer = TextTokenizer.fromFile(`${values.model}/tokenizer.json`);
    const config = modelConfigFor(size, tokenizer.vocabSize);
    model = { config, params: initParams(config, 1), tokenizer, manifest: {}, dir: '' };
  }
  const config = model.config;

  const rates = matmulRates(modelMatmulShapes(config, batchSize * config.contextLength));
  log({ stage: 'matmul', backend: report.backend, ...rates });

  const train = trainingThroughput(config, batchSize, Number(values.steps), 2);
  const mfu = (train.tokensPerSecond * train.flopsPerToken) / (rates.peak * 1e9);
  log({
    stage: 'train',
    backend: report.backend,
    size,
    batchSize,
    ...train,
    achievedGflops: (train.tokensPerSecond * train.flopsPerToken) / 1e9,
    mfu,
  });

  let speedup: number | null = null;
  if (!values['skip-cpu'] && report.backend !== 'cpu') {
    // Same model and batch on the plain JS backend: one warm-up on a tiny batch, one timed step.
    await tf.setBackend('cpu');
    const warm = trainingThroughput(config, 1, 0, 1);
    void warm;
    const cpu = trainingThroughput(config, batchSize, 1, 0);
    speedup = cpu.secondsPerStep / train.secondsPerStep;
    log({ stage: 'train-cpu', ...cpu, speedup });
    await tf.setBackend(report.backend);
  }

  const cached = await generationThroughput(model, newTokens, true);
  const uncached = await generationThroughput(model, newTokens, false);
  log({ stage: 'generate', newTokens, cached, uncached });

  // Back to one thread of work for the API process: the model workers hold their own backends.
  const serving = await measureServingLatency({
    streams: Number(values.streams),
    rounds: Number(values.rounds),
    maxTokens: 64,
  });
  log({
    stage: 'http',
    streams: serving.streams,
    samples: serving.ttftMs.length,
    ttftP50: percentile(serving.ttftMs, 50),
    ttftP99: percentile(serving.ttftMs, 99),
    coldTtftMax: Math.max(...serving.coldTtftMs),
    ingestSamples: serving.ingestMs.length,
    ingestP50: percentile(serving.ingestMs, 50),
    ingestP99: percentile(serving.ingestMs, 99),
  });

  log({
    bench: 'model',
    backend: report.backend,
    peak_gflops: round(rates.peak),
    train_tokens_per_s: round(train.tokensPerSecond),
    mfu: round(mfu, 3),
    speedup_vs_cpu_backend: speedup === null ? null : round(speedup),
    gen_tokens_per_s: round(cached.tokensPerSecond),
    kv_cache_speedup: round(cached.tokensPerSecond / uncached.tokensPerSecond),
    ttft_p50_ms: round(percentile(serving.ttftMs, 50)),
    ttft_p99_ms: round(percentile(serving.ttftMs, 99)),
    ttft_max_ms: round(Math.max(...serving.ttftMs)),
    ttft_cold_max_ms: round(Math.max(...serving.coldTtftMs)),
    ingest_p99_ms_during_streams: round(percentile(serving.ingestMs, 99)),
    rss_mb: round(process.memoryUsage().rss / 2 ** 20),
  });
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
