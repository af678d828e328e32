// The ops dashboard's numbers, computed in Postgres: feedback volume per day by kind and model
// version, and per-version online metrics (thumbs-up rate, mean stars, correction, regenerate and
// copy rates) with 95% intervals.
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

// Every kind of feedback, each row with the answer it is about and when it arrived. Votes count
// against the version of answer A (both answers to one prompt usually share a version). Feedback on
// assistant turns a person wrote is not feedback on a model, so it is left out (m.author).
const FEEDBACK_ROWS = `
  SELECT CASE WHEN r.kind = 'thumbs' THEN CASE WHEN r.value > 0 THEN 'thumbs_up' ELSE 'thumbs_down' END
              ELSE 'stars' END AS kind, r.message_id, r.updated_at AS at FROM ratings r
  UNION ALL SELECT 'vote', v.message_a_id, v.created_at FROM pairwise_votes v
  UNION ALL SELECT 'flag', f.message_id, f.created_at FROM flags f
  UNION ALL SELECT 'correction', c.message_id, c.created_at FROM corrections c
  UNION ALL SELECT 'event_' || e.type::text, e.message_id, e.received_at FROM implicit_events e`;

/** Feedback counts per UTC day, kind (thumbs_up, stars, vote, flag, correction, event_copy...) and version. */
export async function feedbackVolume(pool: pg.Pool, window: Window): Promise<VolumePoint[]> {
  const { rows } = await pool.query<{
    day: Date;
    kind: string;
    model_version_id: string | null;
    count: string;
  }>(
    `SELECT date_trunc('day', f.at AT TIME ZONE 'UTC') AS day, f.kind, m.model_version_id, count(*) AS count
       FROM (${FEEDBACK_ROWS}) f JOIN messages m ON m.id = f.message_id
      WHERE f.at >= $1 AND f.at < $2 AND m.author <> 'human'
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    [window.from, window.to],
  );
  return rows.map((r) => ({
    day: `${r.day.toISOString().slice(0, 10)}`,
    kind: r.kind,
    modelVersionId: r.model_version_id,
    count: Number(r.count),
  }));
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

/** Online metrics of every version that answered in the window, newest version first. */
export async function versionMetrics(pool: pg.Pool, window: Window): Promise<VersionMetrics[]> {
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
    const answers = Number(r.answers);
    return {
      modelVersionId: r.id,
      name: r.name,
      status: r.status,
      answers,
      thumbsUpRate: rateEstimate(Number(r.thumbs_up), Number(r.thumbs)),
      meanStars: meanEstimate(Number(r.stars_n), Number(r.stars_sum ?? 0), Number(r.stars_sq ?? 0), 1, 5),
      correctionRate: rateEstimate(Number(r.corrected), answers),
      regenerateRate: rateEstimate(Number(r.regenerated), answers),
      copyRate: rateEstimate(Number(r.copied), answers),
    };
  });
}
