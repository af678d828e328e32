// Stage 2: fine-tune a candidate from the active version on the run's dataset and register it.
// fineTune checkpoints into the run's work folder, so a retry or a new worker after a crash
// resumes from the last checkpoint instead of starting over.
import path from 'node:path';
import { UnrecoverableError } from 'bullmq';
import type { LoopRun } from '../../generated/prisma/client.ts';
import { toJsonArray } from '../../platform/db/json.ts';
import { activeModelVersion } from '../../serving/active-version.ts';
import { registerModelVersion } from '../../promotion/model-versions.ts';
import { fineTune, TrainingConfigSchema } from '../../training/index.ts';
import type { LoopContext } from '../context.ts';
import { lockRunningRun, log, type StageJob } from '../pipeline.ts';
import { runView } from '../views.ts';
import { ProgressRecorder, yieldToEventLoop } from '../progress-recorder.ts';

/** The candidate's name and its folder under MODEL_DIR. */
export const candidateName = (runId: string) => `ft-${runId.slice(0, 8)}`;

export const runWorkDir = (dataDir: string, runId: string) => path.resolve(dataDir, 'runs', runId, 'train');

export async function trainCandidate(ctx: LoopContext, run: LoopRun, stage: StageJob): Promise<void> {
  if (run.candidateVersionId) return; // trained and registered by an earlier attempt
  const dataset = run.datasetId
    ? await ctx.prisma.dataset.findUnique({ where: { id: run.datasetId } })
    : null;
  if (!dataset) throw new UnrecoverableError('the run has no dataset snapshot');
  const active = await activeModelVersion(ctx.prisma);
  if (!active) throw new UnrecoverableError('no model version is active: nothing to fine-tune from');
  if (active.provider !== 'local' || active.path === null)
    throw new UnrecoverableError(
      `the active version ${active.name} is served by an upstream (provider ${active.provider}): training applies to local versions only`,
    );

  const name = candidateName(run.id);
  const cancel = new AbortController();
  const signal = stage.signal ? AbortSignal.any([stage.signal, cancel.signal]) : cancel.signal;
  const progress = new ProgressRecorder(ctx, run.id, () => cancel.abort(new Error('run cancelled')));
  const result = await fineTune({
    baseDir: path.resolve(ctx.config.MODEL_DIR, active.path),
    datasetDir: path.resolve(ctx.config.FEEDLOOP_DATA_DIR, dataset.path),
    outDir: path.resolve(ctx.config.MODEL_DIR, name),
    workDir: runWorkDir(ctx.config.FEEDLOOP_DATA_DIR, run.id),
    config: TrainingConfigSchema.parse(run.config ?? {}),
    signal,
    onProgress: async (p) => {
      if (p.resumedFromStep !== undefined) {
        await log(ctx, run.id, 'info', `train: resumed from step ${p.resumedFromStep}`, {
          resumedFromStep: p.resumedFromStep,
          method: p.method,
        });
      }
      await progress.record({
        phase: p.phase,
        method: p.method,
        step: p.step,
        totalSteps: p.totalSteps,
        epoch: p.epoch,
        stage: p.stage,
        loss: p.loss,
        lr: p.lr,
        gradNorm: p.gradNorm,
        valLoss: p.valLoss,
        metrics: p.metrics,
        resumedFromStep: p.resumedFromStep,
      });
      await yieldToEventLoop();
    },
  }).finally(() => progress.flush());
  // An abort (shutdown or cancel) leaves a checkpoint, not a finished candidate: never register it.
  if (signal.aborted)
    throw signal.reason instanceof Error ? signal.reason : new Error('training was aborted');

  const summary = result.methods
    .map((m) =>
      m.skippedReason
        ? `${m.method} skipped (${m.skippedReason})`
        : `${m.method} ${m.steps} steps on ${m.examples}`,
    )
    .join(', ');
  // Registered and recorded on the run under the run's lock, and only while it is running: a
  // cancel lands before (nothing is registered) or after (the candidate is the run's).
  const version = await ctx.prisma.$transaction(async (tx) => {
    await lockRunningRun(tx, run.id);
    const registered =
      (await tx.modelVersion.findUnique({ where: { name } })) ?? // an attempt that died before recording it
      (await registerModelVersion(tx, {
        name,
        path: name,
        parentId: active.id,
        datasetId: dataset.id,
        notes: `Fine-tuned by loop run ${run.id} from ${active.name} on dataset ${dataset.contentHash.slice(0, 12)}: ${summary}`,
        actorId: null,
      }));
    await tx.loopRun.update({ where: { id: run.id }, data: { candidateVersionId: registered.id } });
    return registered;
  });
  await ctx.events.publish({
    type: 'run',
    run: runView(await ctx.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } })),
  });
  await log(ctx, run.id, 'info', `train: registered candidate ${version.name} (${summary})`, {
    candidateVersionId: version.id,
    methods: toJsonArray(result.methods),
  });
}
