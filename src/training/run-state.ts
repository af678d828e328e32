// The resumable state of a fine-tuning run, kept in workDir as ONE safetensors file (weights,
// optimizer moments, best weights, reference log-probs) whose metadata holds the JSON progress
// (method index, step, unfreezing stage, early stopping, history). One file written to a temporary
// name and renamed means a SIGKILL leaves either the previous checkpoint or the new one, never a mix.
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { toHost } from '../llm/checkpoint.ts';
import { readSafetensors, writeSafetensors, type HostTensor } from '../llm/safetensors.ts';
import type { Method } from './config.ts';

export const STATE_FILE = 'fine-tune-state.safetensors';
const STATE_VERSION = 1;

export interface HistoryPoint {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  valLoss?: number;
  metrics?: Record<string, number>;
}

export interface MethodRecord {
  method: Method;
  steps: number;
  totalSteps: number;
  examples: number;
  validationExamples: number;
  bestStep: number;
  bestValLoss: number | null;
  /** Validation loss of the weights the method started from. */
  startValLoss: number | null;
  stoppedEarly: boolean;
  skippedReason?: string;
  trainSeconds: number;
  history: HistoryPoint[];
}

export interface EarlyStoppingState {
  bestValLoss: number | null;
  bestStep: number;
  /** Evaluations since the last improvement. */
  badEvals: number;
  stopped: boolean;
  /** Whether `best/*` weights are stored (the best evaluation so far). */
  hasBestWeights: boolean;
}

export interface RunProgress {
  version: number;
  /** Hash of base model, dataset, config and seed: a workDir only resumes the same run. */
  identity: string;
  methodIndex: number;
  /** Steps done in the current method. */
  step: number;
  stage: number;
  early: EarlyStoppingState;
  history: HistoryPoint[];
  startValLoss: number | null;
  methodSeconds: number;
  completed: MethodRecord[];
  /** Optimizer step counts by parameter name (moments are tensors in the file). */
  adamSteps: Record<string, number>;
}

export function freshEarlyStopping(): EarlyStoppingState {
  return { bestValLoss: null, bestStep: 0, badEvals: 0, stopped: false, hasBestWeights: false };
}

export function freshProgress(identity: string): RunProgress {
  return {
    version: STATE_VERSION,
    identity,
    methodIndex: 0,
    step: 0,
    stage: 0,
    early: freshEarlyStopping(),
    history: [],
    startValLoss: null,
    methodSeconds: 0,
    completed: [],
    adamSteps: {},
  };
}

export interface RunSnapshot {
  progress: RunProgress;
  params: Record<string, HostTensor>;
  adamM: Record<string, HostTensor>;
  adamV: Record<string, HostTensor>;
  best: Record<string, HostTensor>;
  /** Reference-model log-probs of the current method, by split and part. */
  reference: Record<string, Float32Array>;
}

const PREFIX = { param: 'param/', m: 'adam.m/', v: 'adam.v/', best: 'best/', ref: 'ref/' } as const;

export function saveRunState(
  workDir: string,
  s: {
    progress: RunProgress;
    params: Record<string, tf.Tensor>;
    adam: { m: Record<string, tf.Tensor>; v: Record<string, tf.Tensor> };
    best: Record<string, HostTensor>;
    reference: Record<string, Float32Array>;
  },
): void {
  mkdirSync(workDir, { recursive: true });
  const tensors: Record<string, HostTensor> = {};
  for (const [n, t] of Object.entries(toHost(s.params))) tensors[PREFIX.param + n] = t;
  for (const [n, t] of Object.entries(toHost(s.adam.m))) tensors[PREFIX.m + n] = t;
  for (const [n, t] of Object.entries(toHost(s.adam.v))) tensors[PREFIX.v + n] = t;
  if (s.progress.early.hasBestWeights)
    for (const [n, t] of Object.entries(s.best)) tensors[PREFIX.best + n] = t;
  for (const [n, data] of Object.entries(s.reference))
    tensors[PREFIX.ref + n] = { dtype: 'F32', shape: [data.length], data };
  writeSafetensors(join(workDir, STATE_FILE), tensors, { state: JSON.stringify(s.progress) });
}

export function loadRunState(workDir: string): RunSnapshot | null {
  const file = join(workDir, STATE_FILE);
  if (!existsSync(file)) return null;
  const { tensors, metadata } = readSafetensors(file);
  const progress = JSON.parse(metadata.state ?? 'null') as RunProgress | null;
  if (!progress || progress.version !== STATE_VERSION)
    throw new Error(
      `${file} is not a fine-tuning checkpoint this version can resume; delete it to start over`,
    );
  const snap: RunSnapshot = { progress, params: {}, adamM: {}, adamV: {}, best: {}, reference: {} };
  for (const [name, t] of Object.entries(tensors)) {
    if (name.startsWith(PREFIX.param)) snap.params[name.slice(PREFIX.param.length)] = t;
    else if (name.startsWith(PREFIX.m)) snap.adamM[name.slice(PREFIX.m.length)] = t;
    else if (name.startsWith(PREFIX.v)) snap.adamV[name.slice(PREFIX.v.length)] = t;
    else if (name.startsWith(PREFIX.best)) snap.best[name.slice(PREFIX.best.length)] = t;
    else if (name.startsWith(PREFIX.ref))
      snap.reference[name.slice(PREFIX.ref.length)] = t.data as Float32Array;
  }
  return snap;
}
