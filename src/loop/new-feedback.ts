// What counts towards the schedule's feedback threshold, counted by Postgres: the check runs every
// minute and on every schedule view, so it reads counts per rater, never the feedback itself.
import { isDeepStrictEqual } from 'node:util';
import type { Db } from '../platform/db/client.ts';
import { Prisma, type LoopSchedule } from '../generated/prisma/client.ts';
import { datasetOverrides } from '../contract/loop.ts';
import { parseBuildConfig, type DatasetBuildConfig } from '../contract/dataset-build-config.ts';
import { trustOf, type RaterAssessment } from '../feedback/raters/raters.ts';
import { assessRatersStreamed } from '../feedback/raters/rater-stream.ts';
import { currentRaterAssessments } from '../feedback/raters/submitter-trust.ts';

/** A model's answer (what feedback may be on), from `versions` when given, as the builds read them. */
function modelAnswer(m: Prisma.Sql, versions: string[] | undefined): Prisma.Sql {
  const ofVersions = versions
    ? Prisma.sql`AND ${m}.model_version_id = ANY(${versions}::uuid[])`
    : Prisma.empty;
  return Prisma.sql`${m}.role = 'assistant' AND ${m}.author IN ('served', 'logged')
    AND ${m}.parent_id IS NOT NULL ${ofVersions}`;
}

/** `column` after `since` (any time when null) and before `to`. */
const inRange = (column: Prisma.Sql, since: Date | null, to: Date) =>
  since ? Prisma.sql`${column} > ${since} AND ${column} < ${to}` : Prisma.sql`${column} < ${to}`;

/**
 * New items per rater: answers rated, pairs voted on and queue items judged, each once however many
 * times it was rated or changed. Each branch is a range scan of its table's time index (ratings'
 * updated_at, votes' created_at, assignments' (status, submitted_at)) and primary-key lookups of the
 * answers. EXPLAIN (ANALYZE, BUFFERS) at 62.5k messages, 84k ratings, 12.5k votes, cursor a day
 * back: "Bitmap Index Scan on ratings_updated_at_idx (rows=10312)", "Bitmap Index Scan on
 * pairwise_votes_created_at_idx (rows=1695)", 8,764 buffers, 114 ms (the day's ratings touch a third
 * of the answers, so Postgres hashes the answers, 1,207 buffers, instead of 10k key lookups). The
 * count it replaced loaded every rating, vote, correction, flag and implicit event: 37 s and 1.6 GB
 * of RSS per check at that size; this function takes 0.15 s with the kept assessment.
 */
async function newItemsPerRater(db: Db, since: Date | null, to: Date, versions: string[] | undefined) {
  const m = Prisma.sql`m`;
  const a = Prisma.sql`a`;
  const b = Prisma.sql`b`;
  return db.$queryRaw<{ userId: string; items: number }[]>`
    SELECT user_id::text AS "userId", sum(items)::int AS "items" FROM (
      SELECT r.user_id, count(DISTINCT r.message_id) AS items
        FROM ratings r JOIN messages m ON m.id = r.message_id
       WHERE ${inRange(Prisma.sql`r.updated_at`, since, to)} AND ${modelAnswer(m, versions)}
       GROUP BY r.user_id
      UNION ALL
      SELECT v.user_id,
             count(DISTINCT (least(v.message_a_id, v.message_b_id), greatest(v.message_a_id, v.message_b_id)))
        FROM pairwise_votes v
        JOIN messages a ON a.id = v.message_a_id
        JOIN messages b ON b.id = v.message_b_id
       WHERE ${inRange(Prisma.sql`v.created_at`, since, to)}
         AND ${modelAnswer(a, versions)} AND ${modelAnswer(b, versions)}
       GROUP BY v.user_id
      UNION ALL
      SELECT j.rater_id, count(DISTINCT j.item_id)
        FROM annotation_assignments j
        JOIN annotation_items i ON i.id = j.item_id
        JOIN messages a ON a.id = i.message_id
        LEFT JOIN messages b ON b.id = i.message_b_id
       WHERE j.status = 'done' AND ${inRange(Prisma.sql`j.submitted_at`, since, to)}
         AND ${modelAnswer(a, versions)}
         AND (i.message_b_id IS NULL OR (${modelAnswer(b, undefined)}))
       GROUP BY j.rater_id
    ) per_kind
    GROUP BY user_id`;
}

/**
 * Corrections a moderator approved in the range, on models' answers. EXPLAIN (ANALYZE, BUFFERS), same
 * database: "Bitmap Index Scan on corrections_reviewed_at_idx (rows=1255)", 1,523 buffers, 38 ms.
 */
async function newApprovedCorrections(db: Db, since: Date | null, to: Date, versions: string[] | undefined) {
  const [row] = await db.$queryRaw<[{ count: number }]>`
    SELECT count(*)::int AS count
      FROM corrections c JOIN messages m ON m.id = c.message_id
     WHERE c.status = 'approved' AND ${inRange(Prisma.sql`c.reviewed_at`, since, to)}
       AND ${modelAnswer(Prisma.sql`m`, versions)}`;
  return row.count;
}

/**
 * The rater assessment the builds would make under `config`: the one kept for moderation when the
 * schedule changes nothing of the defaults (it is recomputed only when feedback changed), else one
 * of its own, streamed.
 */
function assessmentsUnder(db: Db, config: DatasetBuildConfig, to: Date): Promise<RaterAssessment[]> {
  if (isDeepStrictEqual(config, parseBuildConfig({}))) return currentRaterAssessments(db);
  return assessRatersStreamed(
    db,
    {
      window: { to },
      events: 'none',
      ...(config.modelVersionIds ? { modelVersionIds: config.modelVersionIds } : {}),
    },
    config,
  );
}

/**
 * Newly usable feedback since the schedule's cursor (all of it when null), counted the way the
 * dataset builds would use it: ratings, pairwise votes and annotation judgements only from raters
 * the builders do not exclude (the rater assessment of src/feedback/raters under the schedule's
 * dataset overrides), each answer (or pair, or queue item) once per rater however many times it was
 * rated or changed, plus corrections a moderator approved. Flags and implicit events do not count:
 * they do not make training examples on their own. One user hammering the rating route is excluded
 * by the same spam checks that keep them out of the datasets.
 */
export async function countNewFeedback(
  db: Db,
  schedule: Pick<LoopSchedule, 'lastRunCursor' | 'datasets'>,
  options: {
    /**
     * The scheduler's check only asks whether the count reaches this: when the items before trust
     * are already fewer, that count is returned without assessing raters, which reads all feedback.
     */
    below?: number;
  } = {},
): Promise<number> {
  const since = schedule.lastRunCursor;
  const to = new Date();
  const config = parseBuildConfig(datasetOverrides.parse(schedule.datasets));
  const [perRater, corrections] = await Promise.all([
    newItemsPerRater(db, since, to, config.modelVersionIds),
    newApprovedCorrections(db, since, to, config.modelVersionIds),
  ]);
  // Trust only takes items away: with none, or too few to matter, the assessment is not needed.
  const untrusted = perRater.reduce((sum, r) => sum + r.items, corrections);
  if (perRater.length === 0 || (options.below !== undefined && untrusted < options.below)) return untrusted;
  const trust = trustOf(await assessmentsUnder(db, config, to));
  return perRater.reduce((sum, r) => sum + (trust(r.userId) > 0 ? r.items : 0), corrections);
}
