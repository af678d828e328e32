// The loop's rows as the API, the WebSocket and the pub/sub channel show them (src/contract/loop.ts).
import type { LoopRun, LoopRunLog, LoopRunProgress } from '../generated/prisma/client.ts';
import { z } from 'zod';
import { datasetOverrides, trainingOverrides, type ProgressPoint, type RunView } from '../contract/loop.ts';

/** DPO/KTO metrics of a progress point (reward margins, accuracies), as stored. */
const progressMetrics = z.record(z.string(), z.number()).nullable();

export type LoopRunView = RunView;
/**
 * A progress event as stored and shown, for one run. The loop also reports evaluation phases, so
 * phase and method are wider than the trainer's.
 */
export type ProgressPointView = ProgressPoint;

export function runView(run: LoopRun): LoopRunView {
  return {
    id: run.id,
    status: run.status,
    phase: run.phase,
    trigger: run.trigger,
    reason: run.reason,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    datasetId: run.datasetId,
    candidateVersionId: run.candidateVersionId,
    evaluateOnly: run.evaluateOnly,
    reportId: run.reportId,
    decision: run.decision,
    error: run.error,
    trainingConfig: trainingOverrides.parse(run.config ?? {}),
    datasetConfig: datasetOverrides.parse(run.datasetConfig ?? {}),
  };
}

const present = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

export function progressView(row: LoopRunProgress): ProgressPointView {
  return {
    runId: row.runId,
    at: row.at,
    phase: row.phase,
    method: present(row.method),
    step: row.step,
    totalSteps: row.totalSteps,
    epoch: present(row.epoch),
    stage: present(row.stage),
    loss: present(row.loss),
    lr: present(row.lr),
    gradNorm: present(row.gradNorm),
    valLoss: present(row.valLoss),
    metrics: present(progressMetrics.parse(row.metrics)),
    resumedFromStep: present(row.resumedFromStep),
  };
}

export function logView(row: LoopRunLog) {
  return { at: row.at, level: row.level, message: row.message };
}
