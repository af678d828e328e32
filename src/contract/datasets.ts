// Request and response shapes for dataset snapshots and rater reliability.
import { z } from 'zod';
import { cursorQuery, isoDate, MAX_PAGE_SIZE, nextCursor, pageQuery, uuid } from './http.ts';
import { datasetBuildConfigSchema } from './dataset-build-config.ts';

export const DATASET_FORMATS = ['sft', 'preference', 'kto'] as const;
export const DATASET_SPLITS = ['train', 'validation'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];
export type DatasetSplit = (typeof DATASET_SPLITS)[number];

export const buildBody = z.strictObject({ config: datasetBuildConfigSchema.optional() });

/** Counts per format, then per split or source: {sft: {train: 3, validation: 1}, ...}. */
export const datasetCounts = z.record(z.string(), z.record(z.string(), z.number()));
/** Stored as JSON with the snapshot; read it with datasetCounts. */
const counts = z.unknown();

export const datasetView = z.object({
  id: z.string(),
  contentHash: z.string(),
  path: z.string(),
  config: z.unknown(),
  windowStart: isoDate.nullable(),
  windowEnd: isoDate,
  modelVersionIds: z.array(z.string()),
  sizes: counts,
  sizesBySource: counts,
  stats: z.unknown(),
  createdById: z.string().nullable(),
  createdAt: isoDate,
});

export const datasetDetail = datasetView.extend({
  lineage: z.object({
    /** Feedback rows used, by kind (rating, pairwise_vote, correction, implicit_event, annotation_item). */
    feedbackCounts: z.record(z.string(), z.number()),
    modelVersionIds: z.array(z.string()),
  }),
});

export const buildView = z.object({ created: z.boolean(), dataset: datasetView });
export const datasetPage = z.object({ items: z.array(datasetView), nextCursor });
export const listDatasetsQuery = pageQuery;

export const fileParams = z.strictObject({ id: uuid, split: z.enum(DATASET_SPLITS) });
export const fileQuery = z.strictObject({ format: z.enum(DATASET_FORMATS) });

export const ratersQuery = cursorQuery.extend({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(MAX_PAGE_SIZE),
  /** Assess feedback since this time (all feedback when absent). */
  from: z.coerce.date().optional(),
  status: z.enum(['trusted', 'down_weighted', 'excluded']).optional(),
});

export const raterView = z.object({
  userId: z.string(),
  email: z.string().nullable(),
  ratings: z.number(),
  votes: z.number(),
  consensusAgreement: z.number().nullable(),
  consensusComparisons: z.number(),
  goldAgreement: z.number().nullable(),
  goldComparisons: z.number(),
  /** Agreement with the majority of the other raters on annotation queue items. */
  queueAgreement: z.number().nullable(),
  queueComparisons: z.number(),
  trust: z.number(),
  status: z.enum(['trusted', 'down_weighted', 'excluded']),
  reasons: z.array(z.string()),
});
export const raterList = z.object({ items: z.array(raterView), nextCursor });
export type DatasetView = z.output<typeof datasetView>;
export type RaterView = z.output<typeof raterView>;
