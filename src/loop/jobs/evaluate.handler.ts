// Stage 3: evaluate the candidate, and the active version when it has no report made with the same
// options (limits and the dataset's held-out preference pairs), so both are scored on the same
// items. Reports are stored as rows at once: a retry only evaluates what is still missing.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UnrecoverableError } from 'bullmq';
import type { Config } from '../../platform/config.ts';
import type { Dataset, LoopRun, ModelVersion } from '../../generated/prisma/client.ts';
import { toJson } from '../../platform/db/json.ts';
import { activeModelVersion } from '../../serving/active-version.ts';
import { loadModel, type ChatMessage } from '../../llm/index.ts';
import { evaluateModel, type EvaluationOptions, type PreferencePair } from '../../evaluation/evaluate.ts';
import { upstreamEvaluatedModel } from '../../evaluation/upstream-model.ts';
import { fileName } from '../../datasets/builders.ts';
import type { LoopContext } from '../context.ts';
import { log, type StageJob } from '../pipeline.ts';
import { ProgressRecorder, yieldToEventLoop } from '../progress-recorder.ts';

/** The evaluation limits from FEEDLOOP_EVAL_LIMIT (one number for every suite), or the suites' own. */
export function evaluationLimits(config: Config): EvaluationOptions['limits'] {
  const n = config.FEEDLOOP_EVAL_LIMIT;
  return n === undefined ? undefined : { countryFacts: n, definitions: n, perplexityDocs: n, biasPairs: n };
}

/** Reports with equal keys were made on the same items and can be compared. */
export const evaluationKey = (config: Config, datasetId: string | null) =>
  JSON.stringify({ limits: evaluationLimits(config) ?? 'default', datasetId });

/** The held-out human preference pairs of a dataset snapshot (its validation split). */
export async function heldOutPairs(dataDir: string, dataset: Dataset): Promise<PreferencePair[]> {
  const file = path.resolve(dataDir, dataset.path, fileName('preference', 'validation'));
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw err;
  });
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const row = JSON.parse(line) as {
        prompt: ChatMessage[];
        chosen: ChatMessage[];
        rejected: ChatMessage[];
      };
      return {
        prompt: row.prompt,
        chosen: row.chosen.at(-1)!.content,
        rejected: row.rejected.at(-1)!.content,
      };
    });
}

async function evaluateVersion(
  ctx: LoopContext,
  run: LoopRun,
  version: ModelVersion,
  options: { key: string; pairs: PreferencePair[]; signal?: AbortSignal },
): Promise<void> {
  const progress = new ProgressRecorder(ctx, run.id, () => {});
  // A local version is loaded here; an upstream one is asked over HTTP through its provider (the
  // worker process needs the upstream's API key variable too).
  const loaded =
    version.provider === 'local' && version.path !== null
      ? loadModel(path.resolve(ctx.config.MODEL_DIR, version.path))
      : null;
  const model =
    loaded ??
    (await upstreamEvaluatedModel(version, {
      timeouts: {
        connectMs: ctx.config.FEEDLOOP_UPSTREAM_CONNECT_TIMEOUT_MS,
        firstTokenMs: ctx.config.FEEDLOOP_UPSTREAM_FIRST_TOKEN_TIMEOUT_MS,
        totalMs: ctx.config.FEEDLOOP_UPSTREAM_TOTAL_TIMEOUT_MS,
      },
      signal: options.signal,
    }));
  try {
    await log(ctx, run.id, 'info', `evaluate: evaluating ${version.name}`, { modelVersionId: version.id });
    const report = await evaluateModel(model, {
      name: version.name,
      preferencePairs: options.pairs,
      limits: evaluationLimits(ctx.config),
      // A cancel of the run or the worker's shutdown stops it at the next item.
      signal: options.signal,
      onProgress: (p) => {
        void progress.record({
          phase: `evaluating ${version.name}: ${p.phase}`,
          step: p.done,
          totalSteps: p.total,
        });
      },
    });
    await progress.flush();
    await yieldToEventLoop();
    await ctx.prisma.evaluationReport.create({
      data: {
        modelVersionId: version.id,
        runId: run.id,
        evaluationKey: options.key,
        report: toJson(report),
      },
    });
  } finally {
    for (const t of Object.values(loaded?.params ?? {})) t.dispose();
  }
}

/** The newest report of `versionId` made with `key` (by this run, when `runId` is given). */
export function findReport(ctx: LoopContext, versionId: string, key: string, runId?: string) {
  return ctx.prisma.evaluationReport.findFirst({
    where: { modelVersionId: versionId, evaluationKey: key, ...(runId ? { runId } : {}) },
    orderBy: { createdAt: 'desc' },
  });
}

export async function evaluateVersions(ctx: LoopContext, run: LoopRun, stage?: StageJob): Promise<void> {
  const candidate = run.candidateVersionId
    ? await ctx.prisma.modelVersion.findUnique({ where: { id: run.candidateVersionId } })
    : null;
  if (!candidate) throw new UnrecoverableError('the run has no candidate version');
  const dataset = run.datasetId
    ? await ctx.prisma.dataset.findUnique({ where: { id: run.datasetId } })
    : null;
  const key = evaluationKey(ctx.config, dataset?.id ?? null);
  const pairs = dataset ? await heldOutPairs(ctx.config.FEEDLOOP_DATA_DIR, dataset) : [];

  const signal = stage?.signal;
  if (!(await findReport(ctx, candidate.id, key, run.id))) {
    await evaluateVersion(ctx, run, candidate, { key, pairs, signal });
  }
  const active = await activeModelVersion(ctx.prisma);
  if (active && active.id !== candidate.id) {
    if (await findReport(ctx, active.id, key)) {
      await log(
        ctx,
        run.id,
        'info',
        `evaluate: reusing the report of ${active.name} made with the same options`,
      );
    } else {
      await evaluateVersion(ctx, run, active, { key, pairs, signal });
    }
  }
}
