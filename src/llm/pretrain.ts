// Self-supervised pretraining: tokenizer, token streams, AdamW with warm-up + cosine decay,
// validation loss, crash-safe checkpoints that resume, and the final model folder with a manifest.
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHost, saveModel, toHost, writeJsonAtomic } from './checkpoint.ts';
import {
  assertPrecisionSupported,
  modelConfigFor,
  PretrainConfigSchema,
  type ModelConfig,
  type PretrainConfig,
} from './config.ts';
import { CORPUS_FILES, type CorpusManifest } from './corpus/build.ts';
import { concatDocuments, fixedWindows, sampleWindows } from './data.ts';
import { initParams, countParams, type ParamTensors } from './params.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';
import { warmupCosineLr } from './schedules.ts';
import { TextTokenizer, trainTokenizer } from './tokenizer.ts';
import {
  batchTensors,
  createTrainState,
  disposeBatch,
  disposeTrainState,
  evaluateLoss,
  trainStep,
  type TrainState,
} from './train-step.ts';

export const TOKENIZER_VOCAB_SIZE = 4096;

export interface PretrainOptions {
  corpusDir: string;
  outDir: string;
  config: PretrainConfig;
  backend: string;
  log?: (event: Record<string, unknown>) => void;
  /** Set by a signal handler: the loop checkpoints and returns at the next step boundary. */
  shouldStop?: () => boolean;
}

interface HistoryPoint {
  step: number;
  trainLoss: number;
  valLoss?: number;
  lr: number;
  seconds: number;
}

interface RunState {
  step: number;
  elapsedSeconds: number;
  tokensSeen: number;
  corpusHash: string;
  model: ModelConfig;
  pretrain: PretrainConfig;
  history: HistoryPoint[];
  recentLosses: number[];
}

export interface PretrainResult {
  finished: boolean;
  step: number;
  manifest?: Record<string, unknown>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function readLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

async function tokenStream(tokenizer: TextTokenizer, path: string, cachePath: string): Promise<Int32Array> {
  if (existsSync(cachePath)) {
    const buf = readFileSync(cachePath);
    return new Int32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  }
  const lines = readLines(path);
  const docs: number[][] = [];
  for (let i = 0; i < lines.length; i += 20000)
    docs.push(...(await tokenizer.encodeBatch(lines.slice(i, i + 20000))));
  const stream = concatDocuments(docs, tokenizer.endOfTextId);
  writeFileSync(cachePath, Buffer.from(stream.buffer));
  return stream;
}

function saveRun(dir: string, state: TrainState, run: RunState): void {
  const opt = state.optimizer.state();
  const tensors: Record<string, tf.Tensor> = { ...state.vars };
  for (const [n, t] of Object.entries(opt.m)) tensors[`adam.m/${n}`] = t;
  for (const [n, t] of Object.entries(opt.v)) tensors[`adam.v/${n}`] = t;
  writeSafetensors(join(dir, 'state.safetensors'), toHost(tensors), { step: String(run.step) });
  writeJsonAtomic(join(dir, 'state.json'), { ...run, adamSteps: opt.steps });
}

function loadRun(dir: string): {
  params: ParamTensors;
  m: ParamTensors;
  v: ParamTensors;
  run: RunState;
  adamSteps: Record<string, number>;
} | null {
  if (!existsSync(join(dir, 'state.json')) || !existsSync(join(dir, 'state.safetensors'))) return null;
  const saved = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as RunState & {
    adamSteps: Record<string, number>;
  };
  const all = fromHost(readSafetensors(join(dir, 'state.safetensors')).tensors);
  const params: ParamTensors = {};
  const m: ParamTensors = {};
  const v: ParamTensors = {};
  for (const [name, t] of Object.entries(all)) {
    if (name.startsWith('adam.m/')) m[name.slice(7)] = t;
    else if (name.startsWith('adam.v/')) v[name.slice(7)] = t;
    else params[name] = t;
  }
  return { params, m, v, run: saved, adamSteps: saved.adamSteps };
}

function validationLoss(state: TrainState, stream: Int32Array, cfg: PretrainConfig): number {
  const seqLen = state.config.contextLength;
  let total = 0;
  for (let i = 0; i < cfg.evalBatches; i++) {
    const w = fixedWindows(stream, cfg.batchSize, seqLen, i, cfg.evalBatches);
    const batch = batchTensors(w.inputs, w.targets, cfg.batchSize, seqLen);
    total += evaluateLoss(state.vars, state.config, batch);
    disposeBatch(batch);
  }
  return total / cfg.evalBatches;
}

export async function runPretraining(opts: PretrainOptions): Promise<PretrainResult> {
  const cfg = PretrainConfigSchema.parse(opts.config);
  assertPrecisionSupported(cfg.precision);
  const log = opts.log ?? (() => {});
  const ckptDir = join(opts.outDir, 'checkpoints');
  mkdirSync(ckptDir, { recursive: true });
  const corpus = JSON.parse(
    readFileSync(join(opts.corpusDir, CORPUS_FILES.manifest), 'utf8'),
  ) as CorpusManifest;

  // The tokenizer is trained once per run and kept with the checkpoint so a resume reuses it.
  const tokPath = join(ckptDir, 'tokenizer.json');
  if (!existsSync(tokPath)) {
    const t0 = performance.now();
    writeFileSync(tokPath, trainTokenizer([join(opts.corpusDir, CORPUS_FILES.train)], TOKENIZER_VOCAB_SIZE));
    log({ event: 'tokenizer-trained', seconds: (performance.now() - t0) / 1000 });
  }
  const tokenizer = TextTokenizer.fromFile(tokPath);
  const tokKey = sha256(tokenizer.json + corpus.hash).slice(0, 12);
  const train = await tokenStream(
    tokenizer,
    join(opts.corpusDir, CORPUS_FILES.train),
    join(ckptDir, `train-${tokKey}.i32`),
  );
  const valid = await tokenStream(
    tokenizer,
    join(opts.corpusDir, CORPUS_FILES.validation),
    join(ckptDir, `valid-${tokKey}.i32`),
  );
  log({ event: 'data', trainTokens: train.length, validTokens: valid.length, vocab: tokenizer.vocabSize });

  const model = modelConfigFor(cfg.size, tokenizer.vocabSize);
  const resumed = loadRun(ckptDir);
  let state: TrainState;
  let run: RunState;
  if (resumed) {
    if (resumed.run.corpusHash !== corpus.hash)
      throw new Error(
        `checkpoint in ${ckptDir} was trained on corpus ${resumed.run.corpusHash}, not ${corpus.hash}; delete it to start over`,
      );
    if (JSON.stringify(resumed.run.model) !== JSON.stringify(model))
      throw new Error(`checkpoint in ${ckptDir} has a different model config; delete it to start over`);
    state = createTrainState(model, resumed.params, {
      beta1: cfg.beta1,
      beta2: cfg.beta2,
      weightDecay: cfg.weightDecay,
    });
    state.optimizer.restore({ m: resumed.m, v: resumed.v, steps: resumed.adamSteps });
    for (const t of [
      ...Object.values(resumed.params),
      ...Object.values(resumed.m),
      ...Object.values(resumed.v),
    ])
      t.dispose();
    // The step budget may be extended on resume; the rest of the run's identity may not change.
    run = {
      ...resumed.run,
      pretrain: { ...resumed.run.pretrain, steps: cfg.steps, maxSeconds: cfg.maxSeconds },
    };
    log({ event: 'resumed', step: run.step, elapsedSeconds: run.elapsedSeconds });
  } else {
    const init = initParams(model, cfg.seed);
    state = createTrainState(model, init, {
      beta1: cfg.beta1,
      beta2: cfg.beta2,
      weightDecay: cfg.weightDecay,
    });
    for (const t of Object.values(init)) t.dispose();
    run = {
      step: 0,
      elapsedSeconds: 0,
      tokensSeen: 0,
      corpusHash: corpus.hash,
      model,
      pretrain: cfg,
      history: [],
      recentLosses: [],
    };
    log({ event: 'start', params: countParams(model), model, pretrain: cfg });
  }

  const schedule = {
    warmupSteps: run.pretrain.warmupSteps,
    totalSteps: cfg.steps,
    peakLr: run.pretrain.peakLr,
    minLr: run.pretrain.minLr,
  };
  const seqLen = model.contextLength;
  const sessionStart = performance.now();
  let lastSave = run.step;
  while (run.step < cfg.steps) {
    if (opts.shouldStop?.() || (cfg.maxSeconds && (performance.now() - sessionStart) / 1000 > cfg.maxSeconds))
      break;
    const t0 = performance.now();
    const lr = warmupCosineLr(run.step, schedule);
    const w = sampleWindows(train, cfg.batchSize, seqLen, run.pretrain.seed, run.step);
    const batch = batchTensors(w.inputs, w.targets, cfg.batchSize, seqLen);
    const { loss, gradNorm } = trainStep(state, batch, { lr, clipNorm: run.pretrain.clipNorm });
    disposeBatch(batch);
    if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${run.step}`);
    const seconds = (performance.now() - t0) / 1000;
    run.step += 1;
    run.elapsedSeconds += seconds;
    run.tokensSeen += cfg.batchSize * seqLen;
    run.recentLosses = [...run.recentLosses, loss].slice(-50);
    const point: HistoryPoint = { step: run.step, trainLoss: loss, lr, seconds: run.elapsedSeconds };
    if (run.step % run.pretrain.evalEvery === 0 || run.step === cfg.steps)
      point.valLoss = validationLoss(state, valid, run.pretrain);
    if (point.valLoss !== undefined || run.step % 10 === 0) {
      run.history.push(point);
      log({
        event: 'step',
        ...point,
        gradNorm,
        tokensPerSecond: (cfg.batchSize * seqLen) / seconds,
        numTensors: tf.memory().numTensors,
      });
    }
    if (run.step - lastSave >= run.pretrain.checkpointEvery) {
      saveRun(ckptDir, state, run);
      lastSave = run.step;
    }
  }
  saveRun(ckptDir, state, run);
  if (run.step < cfg.steps) {
    log({ event: 'paused', step: run.step });
    disposeTrainState(state);
    return { finished: false, step: run.step };
  }

  const valLoss = run.history.at(-1)?.valLoss ?? validationLoss(state, valid, run.pretrain);
  const trainLoss = run.recentLosses.reduce((a, b) => a + b, 0) / Math.max(1, run.recentLosses.length);
  const manifest = {
    kind: 'feedloop-base-model',
    size: cfg.size,
    config: model,
    parameters: countParams(model),
    pretrain: run.pretrain,
    seed: run.pretrain.seed,
    corpusHash: corpus.hash,
    corpusCounts: corpus.counts,
    tokenizerSha256: sha256(tokenizer.json),
    steps: run.step,
    tokensSeen: run.tokensSeen,
    trainLoss,
    validationLoss: valLoss,
    validationPerplexity: Math.exp(valLoss),
    trainingSeconds: run.elapsedSeconds,
    backend: opts.backend,
    finishedAt: new Date().toISOString(),
    validationHistory: run.history
      .filter((h) => h.valLoss !== undefined)
      .map(({ step, valLoss: v, trainLoss: t }) => ({ step, trainLoss: t, validationLoss: v })),
  };
  // Shipped weights are stored as F16 to keep the committed folder small.
  saveModel(
    opts.outDir,
    { config: model, params: state.vars, tokenizer, manifest: { ...manifest, weightsStoredAs: 'F16' } },
    { floats: 'F16' },
  );
  log({ event: 'finished', ...manifest, validationHistory: undefined });
  disposeTrainState(state);
  return { finished: true, step: run.step, manifest };
}
