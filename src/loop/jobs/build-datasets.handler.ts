// Stage 1: the run's dataset snapshot, built with the run's dataset settings from all feedback up to
// the run's creation. Builds are content-addressed, so a retry (or a run with no new feedback)
// finds the same snapshot.
import type { LoopRun, Prisma } from '../../generated/prisma/client.ts';
import type { DatasetBuildConfigInput } from '../../contract/dataset-build-config.ts';
import { buildDatasets } from '../../datasets/snapshots.ts';
import type { LoopContext } from '../context.ts';
import { log, updateRun } from '../pipeline.ts';

export async function buildRunDatasets(ctx: LoopContext, run: LoopRun): Promise<void> {
  const { dataset, created } = await buildDatasets(
    ctx.prisma,
    { ...(run.datasetConfig as DatasetBuildConfigInput), window: { to: run.createdAt } },
    { dataDir: ctx.config.FEEDLOOP_DATA_DIR, actorId: run.createdById, runner: ctx.datasetBuilds },
  );
  await updateRun(ctx, run.id, { datasetId: dataset.id });
  await log(
    ctx,
    run.id,
    'info',
    `datasets: ${created ? 'built' : 'reused'} snapshot ${dataset.contentHash.slice(0, 12)}`,
    {
      datasetId: dataset.id,
      sizes: dataset.sizes as Prisma.InputJsonValue,
    },
  );
}
