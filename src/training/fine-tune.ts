// fineTune: SFT, DPO and KTO in sequence from a base checkpoint on a dataset snapshot, with
// layer-wise rates, gradual unfreezing, early stopping, warm-up + cosine/cyclic schedules, clipping,
// crash-safe resumable checkpoints in workDir, and a loadModel-able output folder with a manifest.
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHost, toHost } from '../llm/checkpoint.ts';
import {
  CHECKPOINT_FILES,
  countParams,
  cyclicLr,
  loadModel,
  saveModel,
  sequenceLogProb,
  warmupCosineLr,
  type ModelConfig,
} from '../llm/index.ts';
import { toVariables } from '../llm/params.ts';
import { deriveSeed, mulberry32 } from '../llm/rng.ts';
import type { HostTensor } from '../llm/safetensors.ts';
import { parseTrainingConfig, type Method, type TrainingConfig, type TrainingConfigInput } from './config.ts';
import {
  loadExamples,
  packSequences,
  SequenceEncoder,
  sftBatchArrays,
  type KtoExample,
  type MethodExample,
  type PairExample,
  type SftExample,
  type Split,
  type TokenSequence,
} from './data.ts';
import { layerGroups, StageOptimizers, trainableGroups, unfreezingStage } from './layers.ts';
import { dpoObjective, ktoKlEstimate, ktoObjective, sftObjective, type Objective } from './objectives.ts';
import {
  freshEarlyStopping,
  freshProgress,
  loadRunState,
  saveRunState,
  type HistoryPoint,
  type MethodRecord,
  type RunProgress,
} from './run-state.ts';
import { evaluateObjective, fineTuneStep } from './step.ts';

export interface TrainingProgress {
  phase: 'preparing' | 'reference' | 'training' | 'validating' | 'saving' | 'done';
  method: Method;
  step: number;
  totalSteps: number;
  epoch?: number;
  /** Gradual-unfreezing stage. */
  stage?: number;
  loss?: number;
  lr?: number;
  gradNorm?: number;
  valLoss?: number;
  /** DPO: rewardsChosen, rewardsRejected, margins, accuracies; KTO: rewardsChosen, rewardsRejected, kl. */
  metrics?: Record<string, number>;
  /** Set on the first event after a resume: the step of the method the run continued from. */
  resumedFromStep?: number;
}

export interface FineTuneInput {
  baseDir: string;
  datasetDir: string;
  outDir: string;
  workDir: string;
  config?: TrainingConfigInput;
  seed?: number;
  onProgress?: (p: TrainingProgress) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface MethodResult {
  method: Method;
  steps: number;
  examples: number;
  bestStep: number;
  bestValLoss: number | null;
  stoppedEarly: boolean;
  skippedReason?: string;
}

export interface FineTuneResult {
  outDir: string;
  manifest: Record<string, unknown>;
  methods: MethodResult[];
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

interface DatasetInfo {
  contentHash: string;
  sizes?: unknown;
}

function datasetInfo(dir: string): DatasetInfo {
  const manifestPath = join(dir, 'manifest.json');
  if (existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { contentHash?: string; sizes?: unknown };
    if (m.contentHash) return { contentHash: m.contentHash, sizes: m.sizes };
  }
  // A folder not written by src/datasets: hash the files we read.
  const h = createHash('sha256');
  for (const f of ['sft', 'preference', 'kto'].flatMap((x) => [`${x}.train.jsonl`, `${x}.validation.jsonl`]))
    if (existsSync(join(dir, f))) h.update(f).update(readFileSync(join(dir, f)));
  return { contentHash: h.digest('hex') };
}

/** Steps of a method: epochs over the train split in batches, bounded by maxSteps. */
export function methodTotalSteps(
  examples: number,
  batchSize: number,
  epochs: number,
  maxSteps: number,
): number {
  const total = Math.max(1, Math.ceil(epochs * Math.ceil(examples / batchSize)));
  return maxSteps > 0 ? Math.min(total, maxSteps) : total;
}

/** Example indices of a step: a fresh seeded shuffle per epoch, so the order depends only on (seed, step). */
export function batchIndices(
  seed: number,
  method: Method,
  n: number,
  batchSize: number,
  step: number,
): number[] {
  const perEpoch = Math.ceil(n / batchSize);
  const epoch = Math.floor(step / perEpoch);
  const k = step % perEpoch;
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = mulberry32(deriveSeed(seed, method, 'epoch', epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(k * batchSize, (k + 1) * batchSize);
}

export function learningRate(
  step: number,
  totalSteps: number,
  peak: number,
  s: TrainingConfig['schedule'],
): number {
  const minLr = peak * s.minLrRatio;
  if (s.kind === 'cyclic')
    return cyclicLr(step, { cycleSteps: s.cycleSteps, minLr, maxLr: peak, shape: s.cyclicShape });
  return warmupCosineLr(step, {
    warmupSteps: Math.round(s.warmupFraction * totalSteps),
    totalSteps,
    peakLr: peak,
    minLr,
  });
}

/** Sequence log-probs of the current weights, in batches, without gradients. */
function sequenceLogProbs(
  vars: Record<string, tf.Tensor>,
  config: ModelConfig,
  seqs: readonly TokenSequence[],
  batchSize: number,
  pad: number,
): Float32Array {
  const out = new Float32Array(seqs.length);
  for (let i = 0; i < seqs.length; i += batchSize) {
    const p = packSequences(seqs.slice(i, i + batchSize), pad);
    const values = tf.tidy(() =>
      sequenceLogProb(
        vars,
        config,
        tf.tensor2d(p.tokens, [p.batch, p.length], 'int32'),
        tf.tensor2d(p.mask, [p.batch, p.length], 'float32'),
      ).dataSync(),
    );
    out.set(values, i);
  }
  return out;
}

/** The sequences whose reference log-probs a method needs, by reference key part. */
function referenceSequences(method: Method, examples: MethodExample[]): Record<string, TokenSequence[]> {
  if (method === 'dpo') {
    const pairs = examples as PairExample[];
    return { chosen: pairs.map((e) => e.chosen), rejected: pairs.map((e) => e.rejected) };
  }
  if (method === 'kto') {
    const kto = examples as KtoExample[];
    return { seq: kto.map((e) => e.seq), mismatched: kto.map((e) => e.mismatched) };
  }
  return {};
}

interface BuiltObjective {
  objective: Objective;
  dispose: () => void;
}

/** Tensors for one batch of a method and the objective over them. */
function buildObjective(
  method: Method,
  cfg: TrainingConfig,
  model: ModelConfig,
  vars: Record<string, tf.Tensor>,
  examples: MethodExample[],
  indices: number[],
  reference: (part: string) => Float32Array,
  pad: number,
): BuiltObjective {
  const tensors: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    tensors.push(t);
    return t;
  };
  const dispose = () => tf.dispose(tensors);
  const pick = (part: string) => Float32Array.from(indices, (i) => reference(part)[i]!);
  const weights = Float32Array.from(indices, (i) => examples[i]!.weight);
  if (method === 'sft') {
    const a = sftBatchArrays(
      indices.map((i) => examples[i] as SftExample),
      pad,
    );
    const shape: [number, number] = [a.batch, a.length];
    const objective = sftObjective(model, {
      inputs: keep(tf.tensor2d(a.inputs, shape, 'int32')),
      targets: keep(tf.tensor2d(a.targets, shape, 'int32')),
      weights: keep(tf.tensor2d(a.weights, shape, 'float32')),
    });
    return { objective, dispose };
  }
  if (method === 'dpo') {
    const pairs = indices.map((i) => examples[i] as PairExample);
    const p = packSequences([...pairs.map((e) => e.chosen), ...pairs.map((e) => e.rejected)], pad);
    const objective = dpoObjective(model, cfg.dpo.beta, {
      tokens: keep(tf.tensor2d(p.tokens, [p.batch, p.length], 'int32')),
      mask: keep(tf.tensor2d(p.mask, [p.batch, p.length], 'float32')),
      refChosen: keep(tf.tensor1d(pick('chosen'))),
      refRejected: keep(tf.tensor1d(pick('rejected'))),
      weights: keep(tf.tensor1d(weights)),
    });
    return { objective, dispose };
  }
  const kto = indices.map((i) => examples[i] as KtoExample);
  const own = packSequences(
    kto.map((e) => e.seq),
    pad,
  );
  const mis = packSequences(
    kto.map((e) => e.mismatched),
    pad,
  );
  const kl = tf.tidy(() =>
    ktoKlEstimate(
      vars,
      model,
      tf.tensor2d(mis.tokens, [mis.batch, mis.length], 'int32'),
      tf.tensor2d(mis.mask, [mis.batch, mis.length], 'float32'),
      tf.tensor1d(pick('mismatched')),
    ),
  );
  const objective = ktoObjective(model, cfg.kto, {
    tokens: keep(tf.tensor2d(own.tokens, [own.batch, own.length], 'int32')),
    mask: keep(tf.tensor2d(own.mask, [own.batch, own.length], 'float32')),
    ref: keep(tf.tensor1d(pick('seq'))),
    desirable: keep(tf.tensor1d(Float32Array.from(kto, (e) => (e.desirable ? 1 : 0)))),
    weights: keep(tf.tensor1d(weights)),
    kl: keep(kl),
  });
  return { objective, dispose };
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('fine-tuning was aborted', 'AbortError');
}

export async function fineTune(input: FineTuneInput): Promise<FineTuneResult> {
  const cfg = parseTrainingConfig(input.config);
  const seed = input.seed ?? 0;
  const emit = async (p: TrainingProgress) => {
    await input.onProgress?.(p);
  };
  const base = loadModel(input.baseDir);
  const model = base.config;
  const pad = base.tokenizer.endOfTextId;
  const dataset = datasetInfo(input.datasetDir);
  const baseWeightsSha = sha256(readFileSync(join(input.baseDir, CHECKPOINT_FILES.weights)));
  const identity = sha256(
    JSON.stringify({ base: baseWeightsSha, model, dataset: dataset.contentHash, config: cfg, seed }),
  );

  // Resume or start: the weights to train come from the checkpoint when there is one.
  const snap = loadRunState(input.workDir);
  if (snap && snap.progress.identity !== identity)
    throw new Error(
      `${input.workDir} holds a checkpoint of a different fine-tuning run (other base, dataset, config or seed); use a new workDir or delete it`,
    );
  const progress: RunProgress = snap?.progress ?? freshProgress(identity);
  const startParams = snap ? fromHost(snap.params) : base.params;
  if (snap) tf.dispose(Object.values(base.params));
  const { vars, paramName } = toVariables(startParams);
  tf.dispose(Object.values(startParams));
  let best: Record<string, HostTensor> = snap?.best ?? {};
  let reference: Record<string, Float32Array> = snap?.reference ?? {};
  const groups = layerGroups(model, cfg.layerDecay);
  let optimizers: StageOptimizers | null = null;
  let pendingAdam = snap ? { m: fromHost(snap.adamM), v: fromHost(snap.adamV) } : null;
  let resumedFromStep: number | undefined = snap ? snap.progress.step : undefined;

  const encoder = new SequenceEncoder(base.tokenizer, cfg.maxSequenceTokens || model.contextLength + 1);
  const checkpoint = () =>
    saveRunState(input.workDir, {
      progress: { ...progress, adamSteps: optimizers?.state().steps ?? {} },
      params: vars,
      adam: optimizers?.state() ?? { m: {}, v: {} },
      best,
      reference,
    });

  try {
    for (; progress.methodIndex < cfg.methods.length;) {
      const method = cfg.methods[progress.methodIndex]!;
      const mcfg = cfg[method];
      const train = await loadExamples(input.datasetDir, method, 'train', encoder);
      const validation = (await loadExamples(input.datasetDir, method, 'validation', encoder)).slice(
        0,
        cfg.earlyStopping.maxExamples,
      );
      const totalSteps = methodTotalSteps(train.length, cfg.batchSize, mcfg.epochs, mcfg.maxSteps);
      const where = { method, totalSteps } as const;
      await emit({ phase: 'preparing', ...where, step: progress.step, resumedFromStep });
      resumedFromStep = undefined;

      const record = (skippedReason?: string): MethodRecord => ({
        method,
        steps: progress.step,
        totalSteps,
        examples: train.length,
        validationExamples: validation.length,
        // Without early stopping the run ends on its last weights, so those are what is reported.
        bestStep: progress.early.hasBestWeights ? progress.early.bestStep : progress.step,
        bestValLoss: progress.early.hasBestWeights
          ? progress.early.bestValLoss
          : (progress.history.findLast((h) => h.valLoss !== undefined)?.valLoss ??
            progress.early.bestValLoss),
        startValLoss: progress.startValLoss,
        stoppedEarly: progress.early.stopped,
        trainSeconds: progress.methodSeconds,
        history: progress.history,
        ...(skippedReason ? { skippedReason } : {}),
      });
      const nextMethod = (r: MethodRecord) => {
        progress.completed.push(r);
        progress.methodIndex += 1;
        progress.step = 0;
        progress.stage = 0;
        progress.early = freshEarlyStopping();
        progress.history = [];
        progress.startValLoss = null;
        progress.methodSeconds = 0;
        best = {};
        reference = {};
        optimizers?.dispose();
        optimizers = null;
        checkpoint();
      };

      if (train.length < mcfg.minExamples) {
        nextMethod({
          ...record(`${train.length} training examples, fewer than the minimum of ${mcfg.minExamples}`),
          steps: 0,
          totalSteps: 0,
          bestStep: 0,
        });
        continue;
      }

      // The reference model is the weights this method starts from; its log-probs are computed once.
      const refParts = {
        train: referenceSequences(method, train),
        validation: referenceSequences(method, validation),
      };
      for (const split of ['train', 'validation'] as Split[]) {
        for (const [part, seqs] of Object.entries(refParts[split])) {
          const key = `${split}/${part}`;
          if (reference[key]?.length === seqs.length) continue;
          await emit({ phase: 'reference', ...where, step: progress.step });
          reference[key] = sequenceLogProbs(vars, model, seqs, cfg.batchSize, pad);
        }
      }
      const refOf = (split: Split) => (part: string) => reference[`${split}/${part}`]!;

      const validate = (): number => {
        let total = 0;
        for (let i = 0; i < validation.length; i += cfg.batchSize) {
          const idx = Array.from({ length: Math.min(cfg.batchSize, validation.length - i) }, (_, k) => i + k);
          const built = buildObjective(method, cfg, model, vars, validation, idx, refOf('validation'), pad);
          total += evaluateObjective(vars, built.objective).loss * idx.length;
          built.dispose();
        }
        return total / validation.length;
      };
      const stopsEarly = cfg.earlyStopping.enabled && cfg.earlyStopping.methods.includes(method);
      const considerValidation = (valLoss: number) => {
        const e = progress.early;
        if (e.bestValLoss === null || valLoss < e.bestValLoss - cfg.earlyStopping.minDelta) {
          e.bestValLoss = valLoss;
          e.bestStep = progress.step;
          e.badEvals = 0;
          if (stopsEarly) {
            best = toHost(vars);
            e.hasBestWeights = true;
          }
        } else {
          e.badEvals += 1;
          if (stopsEarly && e.badEvals >= cfg.earlyStopping.patience) e.stopped = true;
        }
      };

      if (validation.length > 0 && progress.step === 0 && progress.startValLoss === null) {
        // Recorded in the method's record; for includeStartFor methods the start can also be the best.
        const valLoss = validate();
        if (cfg.earlyStopping.includeStartFor.includes(method)) considerValidation(valLoss);
        progress.startValLoss = valLoss;
        await emit({ phase: 'validating', ...where, step: 0, valLoss });
      }
      checkpoint();

      const perEpoch = Math.ceil(train.length / cfg.batchSize);
      while (progress.step < totalSteps && !progress.early.stopped) {
        if (input.signal?.aborted) {
          checkpoint();
          throw abortError(input.signal);
        }
        const stage = unfreezingStage(progress.step, cfg.unfreezing);
        if (!optimizers || optimizers.stage !== stage) {
          optimizers?.dispose();
          optimizers = new StageOptimizers(stage, trainableGroups(groups, stage, cfg.unfreezing), cfg);
          if (pendingAdam) {
            // Moments saved in an earlier stage are dropped: a new stage starts a new optimizer.
            if (stage === progress.stage) optimizers.restore({ ...pendingAdam, steps: progress.adamSteps });
            tf.dispose([...Object.values(pendingAdam.m), ...Object.values(pendingAdam.v)]);
            pendingAdam = null;
          }
          progress.stage = stage;
        }
        const t0 = performance.now();
        const lr = learningRate(progress.step, totalSteps, mcfg.lr, cfg.schedule);
        const idx = batchIndices(seed, method, train.length, cfg.batchSize, progress.step);
        const built = buildObjective(method, cfg, model, vars, train, idx, refOf('train'), pad);
        const r = fineTuneStep(vars, paramName, optimizers, built.objective, lr, cfg.clipNorm);
        built.dispose();
        if (!Number.isFinite(r.loss))
          throw new Error(`${method} loss became ${r.loss} at step ${progress.step}`);
        progress.step += 1;
        progress.methodSeconds += (performance.now() - t0) / 1000;
        const point: HistoryPoint = { step: progress.step, loss: r.loss, lr, gradNorm: r.gradNorm };
        if (Object.keys(r.metrics).length) point.metrics = r.metrics;
        if (
          validation.length > 0 &&
          (progress.step % cfg.earlyStopping.evalEvery === 0 || progress.step === totalSteps)
        ) {
          point.valLoss = validate();
          considerValidation(point.valLoss);
        }
        progress.history.push(point);
        await emit({
          phase: 'training',
          ...where,
          step: progress.step,
          epoch: Math.floor((progress.step - 1) / perEpoch),
          stage,
          loss: r.loss,
          lr,
          gradNorm: r.gradNorm,
          valLoss: point.valLoss,
          metrics: r.metrics,
        });
        if (progress.step % cfg.checkpointEvery === 0) checkpoint();
      }

      if (progress.early.hasBestWeights) {
        // End on the best evaluated weights (a no-op when the last evaluation was the best).
        tf.tidy(() => {
          for (const [name, t] of Object.entries(best))
            vars[name]!.assign(tf.tensor(t.data, t.shape, 'float32'));
        });
      }
      nextMethod(record());
    }

    const trained = progress.completed.filter((m) => !m.skippedReason);
    await emit({ phase: 'saving', method: cfg.methods.at(-1)!, step: 0, totalSteps: 0 });
    const manifest = {
      kind: 'feedloop-fine-tuned',
      config: cfg,
      seed,
      model,
      parameters: countParams(model),
      dataset: { dir: input.datasetDir, contentHash: dataset.contentHash, sizes: dataset.sizes ?? null },
      base: {
        dir: input.baseDir,
        weightsSha256: baseWeightsSha,
        kind: base.manifest.kind ?? null,
        size: base.manifest.size ?? null,
        seed: base.manifest.seed ?? null,
        corpusHash: base.manifest.corpusHash ?? null,
        validationLoss: base.manifest.validationLoss ?? null,
        finishedAt: base.manifest.finishedAt ?? null,
      },
      methods: progress.completed,
      bestStep: trained.at(-1)?.bestStep ?? 0,
      stoppedEarly: trained.some((m) => m.stoppedEarly),
      trainSeconds: progress.completed.reduce((s, m) => s + m.trainSeconds, 0),
      backend: tf.getBackend(),
      finishedAt: new Date().toISOString(),
    };
    saveModel(input.outDir, { config: model, params: vars, tokenizer: base.tokenizer, manifest });
    // The exact bytes of the base tokenizer (saveModel re-serialises it).
    copyFileSync(
      join(input.baseDir, CHECKPOINT_FILES.tokenizer),
      join(input.outDir, CHECKPOINT_FILES.tokenizer),
    );
    const last = cfg.methods.at(-1)!;
    await emit({ phase: 'done', method: last, step: 0, totalSteps: 0 });
    return {
      outDir: input.outDir,
      manifest,
      methods: progress.completed.map((m) => ({
        method: m.method,
        steps: m.steps,
        examples: m.examples,
        bestStep: m.bestStep,
        bestValLoss: m.bestValLoss,
        stoppedEarly: m.stoppedEarly,
        ...(m.skippedReason ? { skippedReason: m.skippedReason } : {}),
      })),
    };
  } finally {
    optimizers?.dispose();
    if (pendingAdam) tf.dispose([...Object.values(pendingAdam.m), ...Object.values(pendingAdam.v)]);
    tf.dispose(Object.values(vars));
  }
}
