// Dataset snapshots: build from the database, write the JSONL files, record the snapshot with its
// lineage. The API runs the CPU-bound part in its build thread; the loop's worker calls the same
// function in its own process.
import { createReadStream } from 'node:fs';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Db, PrismaClient } from '../platform/db/client.ts';
import type { Dataset, ImplicitEventType, Prisma } from '../generated/prisma/client.ts';
import { afterKeyset, decodeCursor, pageOf } from '../platform/pagination.ts';
import { AppError, notFound } from '../platform/errors/app-error.ts';
import { toJson } from '../platform/db/json.ts';
import {
  parseBuildConfig,
  type DatasetBuildConfig,
  type DatasetBuildConfigInput,
} from '../contract/dataset-build-config.ts';
import { buildDataset, fileName, type DatasetBuild } from './builders.ts';
import type { BuildRunner } from './build-thread.ts';
import type { DatasetFormat, DatasetSplit } from '../contract/datasets.ts';
import { loadFeedbackRows, type EventSelection } from '../feedback/feedback-rows.ts';
import { evaluationPromptSet } from '../suites/contamination.ts';
import { syncDirectory, writeError, writeFileDurably } from '../llm/atomic-file.ts';

export interface BuildDatasetsOptions {
  /** The data directory (FEEDLOOP_DATA_DIR). */
  dataDir: string;
  /** Who asked for the build (null for the scheduler). */
  actorId?: string | null;
  /** The normalized evaluation prompts to keep out; defaults to hygiene.evaluationPromptSet(). */
  evaluationPrompts?: ReadonlySet<string>;
  /** The build time, the window's end when the config has none. */
  now?: Date;
  /**
   * Runs the CPU-bound part (the API passes its build thread, so the event loop keeps answering);
   * in this thread when absent.
   */
  runner?: BuildRunner;
}

export interface BuildDatasetsResult {
  dataset: Dataset;
  /** False when a snapshot with the same content hash existed and was returned instead. */
  created: boolean;
  build: DatasetBuild;
}

/**
 * Writes the snapshot's files into a staging folder, flushes each file and the folder, then renames
 * the folder into place: a crash or a full disk never leaves a half-written snapshot under its
 * hash, and a failed write removes the staging folder (a full disk is a DiskFullError).
 */
async function writeFilesOnce(dir: string, build: DatasetBuild): Promise<void> {
  // The folder is named by the content hash, so an existing one already holds exactly these files.
  if (
    await access(path.join(dir, 'manifest.json')).then(
      () => true,
      () => false,
    )
  )
    return;
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    await mkdir(staging, { recursive: true });
    for (const [name, content] of Object.entries(build.files))
      await writeFileDurably(path.join(staging, name), content);
    await writeFileDurably(
      path.join(staging, 'manifest.json'),
      JSON.stringify(
        { contentHash: build.contentHash, sizes: build.sizes, sizesBySource: build.sizesBySource },
        null,
        2,
      ),
    );
    await syncDirectory(staging);
    const renamed = await rename(staging, dir).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        // Another build of the same content got there first: its files are the same.
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
        return false;
      },
    );
    if (renamed) await syncDirectory(path.dirname(dir));
    else await rm(staging, { recursive: true, force: true });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw writeError(err, staging);
  }
}

/**
 * The implicit events a build with `config` can count (buildKto skips the others), so it reads only
 * those: the snapshot is the same, and a build over a busy window reads far fewer rows.
 */
export function eventsCounted(config: DatasetBuildConfig): EventSelection {
  if (!config.implicit.enabled) return 'none';
  const types = Object.entries(config.implicit.weights)
    .filter(([, weight]) => weight)
    .map(([type]) => type as ImplicitEventType);
  return { types, dwellMinMs: config.implicit.dwellMinMs };
}

/**
 * Loads feedback in the config's window, builds every export, writes the files under
 * `<dataDir>/datasets/<hash>/` and records the snapshot with its lineage in one transaction.
 * Idempotent: unchanged feedback and config give the same hash and return the existing snapshot.
 */
export async function buildDatasets(
  prisma: PrismaClient,
  configInput: DatasetBuildConfigInput,
  options: BuildDatasetsOptions,
): Promise<BuildDatasetsResult> {
  const config = parseBuildConfig(configInput);
  const window = { from: config.window.from, to: config.window.to ?? options.now ?? new Date() };
  const rows = await loadFeedbackRows(prisma, {
    window,
    modelVersionIds: config.modelVersionIds,
    events: eventsCounted(config),
  });
  const build = options.runner
    ? await options.runner(rows, config)
    : buildDataset(rows, config, options.evaluationPrompts ?? evaluationPromptSet());
  const relative = path.join('datasets', build.contentHash);
  await writeFilesOnce(path.resolve(options.dataDir, relative), build);

  return prisma.$transaction(async (tx) => {
    // Serializes builds of the same content, so the second one finds the first one's row.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`dataset:${build.contentHash}`}))`;
    const existing = await tx.dataset.findUnique({ where: { contentHash: build.contentHash } });
    if (existing) return { dataset: existing, created: false, build };
    const dataset = await tx.dataset.create({
      data: {
        contentHash: build.contentHash,
        path: relative,
        config: JSON.parse(JSON.stringify(config)),
        windowStart: window.from ?? null,
        windowEnd: window.to,
        modelVersionIds: build.lineage.modelVersionIds,
        sizes: build.sizes,
        sizesBySource: build.sizesBySource,
        stats: JSON.parse(JSON.stringify(build.stats)),
        createdById: options.actorId ?? null,
      },
    });
    await tx.datasetFeedback.createMany({
      data: build.lineage.feedback.map((f) => ({
        datasetId: dataset.id,
        kind: f.kind,
        feedbackId: f.id,
        userId: f.userId ?? null,
      })),
    });
    await tx.datasetAnnotation.createMany({
      data: build.lineage.annotations.map((a) => ({
        datasetId: dataset.id,
        itemId: a.itemId,
        consensus: toJson(a.consensus),
        weight: a.weight,
        agreement: a.agreement,
        raters: a.raters,
      })),
    });
    return { dataset, created: true, build };
  });
}

/** Snapshots, newest first; `cursor` is the previous page's nextCursor (`before`: the older form, an id). */
export async function listDatasets(db: Db, page: { limit: number; before?: string; cursor?: string }) {
  let key = page.cursor ? decodeCursor(page.cursor) : undefined;
  if (!key && page.before) {
    const cursor = await db.dataset.findUnique({ where: { id: page.before } });
    if (!cursor) throw notFound('Dataset');
    key = { at: cursor.createdAt, id: cursor.id };
  }
  const rows = await db.dataset.findMany({
    where: key ? (afterKeyset(key, 'createdAt') as Prisma.DatasetWhereInput) : {},
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: page.limit + 1,
  });
  return pageOf(rows, page.limit, (d) => ({ at: d.createdAt, id: d.id }));
}

/** A snapshot with its lineage counted by feedback kind (annotation queue items as `annotation_item`). */
export async function getDataset(db: Db, id: string) {
  const dataset = await db.dataset.findUnique({ where: { id } });
  if (!dataset) throw notFound('Dataset');
  const [groups, annotationItems] = await Promise.all([
    db.datasetFeedback.groupBy({ by: ['kind'], where: { datasetId: id }, _count: { _all: true } }),
    db.datasetAnnotation.count({ where: { datasetId: id } }),
  ]);
  const feedbackCounts: Record<string, number> = Object.fromEntries(
    groups.map((g) => [g.kind, g._count._all]),
  );
  if (annotationItems > 0) feedbackCounts.annotation_item = annotationItems;
  return { ...dataset, lineage: { feedbackCounts, modelVersionIds: dataset.modelVersionIds } };
}

/** The annotation queue items a snapshot used, with their consensus, weight and agreement. */
export async function datasetAnnotations(db: Db, id: string) {
  return db.datasetAnnotation.findMany({ where: { datasetId: id }, orderBy: { itemId: 'asc' } });
}

/** The ids of the feedback rows a snapshot used (for the training worker, and for erasure requests). */
export async function datasetFeedbackIds(db: Db, id: string) {
  return db.datasetFeedback.findMany({ where: { datasetId: id }, select: { kind: true, feedbackId: true } });
}

/** Absolute path of one export of a snapshot. */
export function datasetFilePath(
  dataDir: string,
  dataset: Pick<Dataset, 'path'>,
  format: DatasetFormat,
  split: DatasetSplit,
) {
  return path.resolve(dataDir, dataset.path, fileName(format, split));
}

/** A read stream of one export; a 404 when the files are not on this machine. */
export async function openDatasetFile(
  dataDir: string,
  dataset: Pick<Dataset, 'path'>,
  format: DatasetFormat,
  split: DatasetSplit,
) {
  const file = datasetFilePath(dataDir, dataset, format, split);
  const present = await access(file).then(
    () => true,
    () => false,
  );
  if (!present) throw new AppError('not_found', 'The files of this dataset are not on this server');
  return createReadStream(file);
}
