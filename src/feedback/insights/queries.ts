// The ops dashboard's numbers, computed in Postgres from rollups kept by triggers: feedback volume
// per day by kind and model version (feedback_daily), and per-version online metrics (thumbs-up
// rate, mean stars, correction, regenerate and copy rates) with 95% intervals (answer_metrics_daily).
import type pg from 'pg';
import { meanEstimate, rateEstimate, type Estimate } from '../../stats/estimates.ts';

export interface Window {
  from: Date;
  to: Date;
}

export interface VolumePoint {
  /** Start of the UTC day. */
  day: string;
  kind: string;
  modelVersionId: string | null;
  count: number;
}

/**
 * Feedback counts per UTC day, kind (thumbs_up, stars, vote, flag, correction, event_copy...) and
 * version, for the UTC days from the window's start to its end, from the rollup: feedback_daily
 * plus the deltas the workers have not folded in yet (see the migration *_feedback_daily_rollup).
 */
export async function feedbackVolume(pool: pg.Pool, window: Window): Promise<VolumePoint[]> {
  const { rows } = await pool.query<{
    day: string;
    kind: string;
    model_version_id: string | null;
    count: string;
  }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, kind, model_version_id, sum(count) AS count
       FROM (SELECT day, kind, model_version_id, count FROM feedback_daily
              WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day <= ($2::timestamptz AT TIME ZONE 'UTC')::date
             UNION ALL
             SELECT day, kind, model_version_id, count FROM feedback_daily_deltas
              WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day <= ($2::timestamptz AT TIME ZONE 'UTC')::date) f
      GROUP BY day, kind, model_version_id HAVING sum(count) <> 0
      ORDER BY 1, 2, 3`,
    [window.from, window.to],
  );
  return rows.map((r) => ({
    day: r.day,
    kind: r.kind,
    modelVersionId: r.model_version_id,
    count: Number(r.count),
  }));
}

/**
 * Folds the rollup's deltas into feedback_daily, in one transaction (DELETE ... RETURNING then an
 * upsert): concurrent folds never move a delta twice. Returns how many deltas were folded.
 */
export async function compactFeedbackRollup(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ folded: string }>(
    `WITH moved AS (DELETE FROM feedback_daily_deltas RETURNING day, kind, model_version_id, count),
          summed AS (SELECT day, kind, model_version_id, sum(count) AS count, count(*) AS deltas
                       FROM moved GROUP BY 1, 2, 3),
          upserted AS (INSERT INTO feedback_daily (day, kind, model_version_id, count)
                       SELECT day, kind, model_version_id, count FROM summed
                       ON CONFLICT ON CONSTRAINT feedback_daily_key
                       DO UPDATE SET count = feedback_daily.count + excluded.count)
     SELECT coalesce(sum(deltas), 0) AS folded FROM summed`,
  );
  return Number(rows[0]?.folded ?? 0);
}

export interface VersionMetrics {
  modelVersionId: string;
  name: string;
  status: string;
  /** Assistant answers this version gave in the window. */
  answers: number;
  thumbsUpRate: Estimate;
  meanStars: Estimate;
  /** Share of answers that received at least one correction. */
  correctionRate: Estimate;
  /** Share of answers the user asked to answer again (a later sibling answer exists). */
  regenerateRate: Estimate;
  /** Share of answers copied at least once. */
  copyRate: Estimate;
}

type MetricName =
  | 'answers'
  | 'thumbs'
  | 'thumbs_up'
  | 'stars_n'
  | 'stars_sum'
  | 'stars_sq'
  | 'corrected'
  | 'regenerated'
  | 'copied';

function toVersionMetrics(
  version: { id: string; name: string; status: string },
  value: (metric: MetricName) => number,
): VersionMetrics {
  const answers = value('answers');
  return {
    modelVersionId: version.id,
    name: version.name,
    status: version.status,
    answers,
    thumbsUpRate: rateEstimate(value('thumbs_up'), value('thumbs')),
    meanStars: meanEstimate(value('stars_n'), value('stars_sum'), value('stars_sq'), 1, 5),
    correctionRate: rateEstimate(value('corrected'), answers),
    regenerateRate: rateEstimate(value('regenerated'), answers),
    copyRate: rateEstimate(value('copied'), answers),
  };
}

/**
 * Online metrics of every version that answered in the window's UTC days (the window starts at a
 * day's start, as the dashboard asks), newest version first, from the rollup: answer_metrics_daily
 * plus the deltas not folded in yet (migration *_answer_metrics_rollup). A few rows per version and
 * day, however many answers and events there are.
 */
export async function versionMetrics(pool: pg.Pool, window: Window): Promise<VersionMetrics[]> {
  const { rows } = await pool.query<{
    id: string;
    name: string;
    status: string;
    metric: MetricName;
    value: string;
  }>(
    `WITH totals AS (
       SELECT model_version_id, metric, sum(value) AS value
         FROM (SELECT model_version_id, metric, value FROM answer_metrics_daily
                WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day <= ($2::timestamptz AT TIME ZONE 'UTC')::date
               UNION ALL
               SELECT model_version_id, metric, value FROM answer_metrics_deltas
                WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date AND day <= ($2::timestamptz AT TIME ZONE 'UTC')::date) f
        GROUP BY 1, 2)
     SELECT v.id, v.name, v.status::text AS status, t.metric, t.value
       FROM totals t JOIN model_versions v ON v.id = t.model_version_id
      WHERE v.id IN (SELECT model_version_id FROM totals WHERE metric = 'answers' AND value > 0)
      ORDER BY v.created_at DESC, v.id`,
    [window.from, window.to],
  );
  const versions = new Map<
    string,
    { version: { id: string; name: string; status: string }; values: Map<string, number> }
  >();
  for (const r of rows) {
    const entry = versions.get(r.id) ?? {
      version: { id: r.id, name: r.name, status: r.status },
      values: new Map(),
    };
    entry.values.set(r.metric, Number(r.value));
    versions.set(r.id, entry);
  }
  return [...versions.values()].map(({ version, values }) =>
    toVersionMetrics(version, (m) => values.get(m) ?? 0),
  );
}

/** Folds the metrics rollup's deltas into answer_metrics_daily, as compactFeedbackRollup does for volume. */
export async function compactAnswerMetrics(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ folded: string }>(
    `WITH moved AS (DELETE FROM answer_metrics_deltas RETURNING day, model_version_id, metric, value),
          summed AS (SELECT day, model_version_id, metric, sum(value) AS value, count(*) AS deltas
                       FROM moved GROUP BY 1, 2, 3),
          upserted AS (INSERT INTO answer_metrics_daily (day, model_version_id, metric, value)
                       SELECT day, model_version_id, metric, value FROM summed
                       ON CONFLICT ON CONSTRAINT answer_metrics_daily_key
                       DO UPDATE SET value = answer_metrics_daily.value + excluded.value)
     SELECT coalesce(sum(deltas), 0) AS folded FROM summed`,
  );
  return Number(rows[0]?.folded ?? 0);
}

/**
 * The same metrics aggregated from the raw rows (every answer of the window with its ratings,
 * corrections, siblings and copy events): what the dashboard computed on every load before the
 * rollup, kept as the reference the rollup is tested and benchmarked against.
 */
export async function versionMetricsFromRows(pool: pg.Pool, window: Window): Promise<VersionMetrics[]> {
  const { rows } = await pool.query<{
    id: string;
    name: string;
    status: string;
    answers: string;
    thumbs_up: string;
    thumbs: string;
    stars_n: string;
    stars_sum: string | null;
    stars_sq: string | null;
    corrected: string;
    regenerated: string;
    copied: string;
  }>(
    `WITH answers AS (
       SELECT m.id, m.model_version_id, m.parent_id, m.created_at FROM messages m
        WHERE m.role = 'assistant' AND m.author = 'served' AND m.model_version_id IS NOT NULL
          AND m.created_at >= $1 AND m.created_at < $2)
     SELECT v.id, v.name, v.status::text AS status,
            count(a.id) AS answers,
            coalesce(sum(t.up), 0) AS thumbs_up, coalesce(sum(t.n), 0) AS thumbs,
            coalesce(sum(s.n), 0) AS stars_n, sum(s.total) AS stars_sum, sum(s.squares) AS stars_sq,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM corrections c WHERE c.message_id = a.id)) AS corrected,
            count(*) FILTER (WHERE EXISTS (
              SELECT 1 FROM messages later WHERE later.parent_id = a.parent_id AND later.role = 'assistant'
                 AND later.author <> 'human' AND later.created_at > a.created_at)) AS regenerated,
            count(*) FILTER (WHERE EXISTS (
              SELECT 1 FROM implicit_events e WHERE e.message_id = a.id AND e.type = 'copy')) AS copied
       FROM answers a
       JOIN model_versions v ON v.id = a.model_version_id
       LEFT JOIN LATERAL (
         SELECT count(*) FILTER (WHERE r.value > 0) AS up, count(*) AS n
           FROM ratings r WHERE r.message_id = a.id AND r.kind = 'thumbs') t ON true
       LEFT JOIN LATERAL (
         SELECT count(*) AS n, sum(r.value) AS total, sum(r.value * r.value) AS squares
           FROM ratings r WHERE r.message_id = a.id AND r.kind = 'stars') s ON true
      GROUP BY v.id, v.name, v.status, v.created_at
      ORDER BY v.created_at DESC, v.id`,
    [window.from, window.to],
  );
  return rows.map((r) => {
    const values: Record<MetricName, number> = {
      answers: Number(r.answers),
      thumbs: Number(r.thumbs),
      thumbs_up: Number(r.thumbs_up),
      stars_n: Number(r.stars_n),
      stars_sum: Number(r.stars_sum ?? 0),
      stars_sq: Number(r.stars_sq ?? 0),
      corrected: Number(r.corrected),
      regenerated: Number(r.regenerated),
      copied: Number(r.copied),
    };
    return toVersionMetrics(r, (m) => values[m]);
  });
}
