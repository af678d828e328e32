// Dataset snapshots: stream a build from the database into JSONL files (./stream-build.ts), record
// the snapshot with its lineage. The API runs the build in its build thread; the loop's worker
// calls the same function in its own process.
import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { access, rename, rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { Db, PrismaClient } from '../platform/db/client.ts';
import type { Dataset, Prisma } from '../generated/prisma/client.ts';
import { afterKeyset, decodeCursor, pageOf } from '../platform/pagination.ts';
import { AppError, notFound } from '../platform/errors/app-error.ts';
import { toJson } from '../platform/db/json.ts';
import { parseBuildConfig, type DatasetBuildConfigInput } from '../contract/dataset-build-config.ts';
import { fileName, type FeedbackRef } from './builders.ts';
import type { BuildRunner } from './build-thread.ts';
import {
  DATASET_FORMATS,
  DATASET_SPLITS,
  type DatasetFormat,
  type DatasetSplit,
} from '../contract/datasets.ts';
import { evaluationPromptSet } from '../suites/contamination.ts';
import { streamDataset, type BuildPhase, type StreamedBuild } from './stream-build.ts';

export { eventsCounted } from './stream-build.ts';
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
   * Runs the build (the API passes its build thread, so the event loop keeps answering); in this
   * thread when absent.
   */
  runner?: BuildRunner;
  /**
   * Told as each phase of a build in this thread ends (see BuildPhase; not with a runner): how a
   * build's time splits, for bench:scale.
   */
  onPhase?: (phase: BuildPhase) => void;
}

/** A build's outcome; `files` reads the snapshot's files from disk when asked (tests, small builds). */
export type SnapshotBuild = Omit<StreamedBuild, 'lineageFile'> & { readonly files: Record<string, string> };

export interface BuildDatasetsResult {
  dataset: Dataset;
  /** False when a snapshot with the same content hash existed and was returned instead. */
  created: boolean;
  build: SnapshotBuild;
}

/**
 * Moves the staged files into `dir` with their manifest, after flushing them and the folder: a
 * crash or a full disk never leaves a half-written snapshot under its hash. A folder already
 * there holds exactly these files (it is named by their hash), and the staged copy is dropped.
 */
async function publishFiles(staging: string, dir: string, build: StreamedBuild): Promise<void> {
  try {
    await writeFileDurably(
      path.join(staging, 'manifest.json'),
      JSON.stringify(
        { contentHash: build.contentHash, sizes: build.sizes, sizesBySource: build.sizesBySource },
        null,
        2,
      ),
    );
    await syncDirectory(staging);
    const present = await access(path.join(dir, 'manifest.json')).then(
      () => true,
      () => false,
    );
    const renamed =
      !present &&
      (await rename(staging, dir).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          // Another build of the same content got there first: its files are the same.
          if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
          return false;
        },
      ));
    if (renamed) await syncDirectory(path.dirname(dir));
    else await rm(staging, { recursive: true, force: true });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw writeError(err, staging);
  }
}

/** The lineage file's refs, a batch at a time. */
async function* lineageBatches(file: string, size = 20_000): AsyncGenerator<FeedbackRef[]> {
  let batch: FeedbackRef[] = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    batch.push(JSON.parse(line) as FeedbackRef);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

function withFiles(build: StreamedBuild, dir: string): SnapshotBuild {
  const { lineageFile: _file, ...rest } = build;
  return Object.defineProperty(rest, 'files', {
    enumerable: false,
    get: () =>
      Object.fromEntries(
        DATASET_FORMATS.flatMap((format) =>
          DATASET_SPLITS.map((split) => {
            const name = fileName(format, split);
            return [name, readFileSync(path.join(dir, name), 'utf8')];
          }),
        ),
      ),
  }) as SnapshotBuild;
}

/**
 * Streams feedback in the config's window into every export, writes the files under
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
  const datasets = path.resolve(options.dataDir, 'datasets');
  const stamp = `${process.pid}-${Date.now()}-${randomBytes(4).toString('hex')}`;
  const job = {
    config,
    window,
    outDir: path.join(datasets, `.staging-${stamp}`),
    workDir: path.join(datasets, `.work-${stamp}`),
  };
  try {
    const build = options.runner
      ? await options.runner(job, options.evaluationPrompts)
      : await streamDataset(prisma, job, options.evaluationPrompts ?? evaluationPromptSet(), options.onPhase);
    const relative = path.join('datasets', build.contentHash);
    await publishFiles(job.outDir, path.resolve(options.dataDir, relative), build);
    options.onPhase?.('published');
    const result = withFiles(build, path.resolve(options.dataDir, relative));

    return await prisma.$transaction(
      async (tx) => {
        // Serializes builds of the same content, so the second one finds the first one's row.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`dataset:${build.contentHash}`}))`;
        const existing = await tx.dataset.findUnique({ where: { contentHash: build.contentHash } });
        if (existing) return { dataset: existing, created: false, build: result };
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
        // Three array parameters a batch: createMany binds four parameters a row, and through it
        // the 488k lineage rows of a build at 250k messages took minutes while the process's
        // heap grew until it ran out (bench:scale at 4x).
        for await (const refs of lineageBatches(build.lineageFile)) {
          await tx.$executeRaw`
            INSERT INTO dataset_feedback (dataset_id, kind, feedback_id, user_id)
            SELECT ${dataset.id}::uuid, kind::"DatasetFeedbackKind", feedback_id, user_id
              FROM unnest(${refs.map((f) => f.kind)}::text[], ${refs.map((f) => f.id)}::text[],
                          ${refs.map((f) => f.userId ?? '')}::text[]) AS t(kind, feedback_id, user_id)`;
        }
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
        options.onPhase?.('recorded');
        return { dataset, created: true, build: result };
      },
      // Lineage is a row per feedback row used: millions in a large build.
      { timeout: 30 * 60_000 },
    );
  } finally {
    await rm(job.outDir, { recursive: true, force: true });
    await rm(job.workDir, { recursive: true, force: true });
  }
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
  return db.datasetFeedback.findMany({
    where: { datasetId: id },
    select: { kind: true, feedbackId: true, userId: true },
  });
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
