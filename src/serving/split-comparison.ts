// The live comparison of a traffic split's versions: per version, over the answers it served while
// the split was current, the thumbs-up rate, mean stars, and the correction, regenerate, copy and
// harmful-flag rates with 95% intervals; each against the baseline (the active version, else the
// heaviest arm) with the difference's interval and a two-proportion test; and how many more thumbs
// ratings the chosen effect needs. The canary guard (canary-guard.ts) reads the same numbers.
import type { Database } from '../platform/db/client.ts';
import { meanEstimate, rateEstimate } from '../stats/estimates.ts';
import {
  proportionDifference,
  twoProportionTest,
  meanDifferenceTest,
  sampleSizeForProportions,
} from '../stats/statistics.ts';
import type { SplitWithArms } from './traffic-split.ts';
import { splitView } from './traffic-split.ts';
import type { ComparedMetric, SplitComparisonView } from '../contract/traffic.ts';

/** Raw counts of one version's answers in a window. */
export interface ArmCounts {
  versionId: string;
  answers: number;
  thumbsUp: number;
  thumbsDown: number;
  thumbs: number;
  starsN: number;
  starsSum: number;
  starsSquares: number;
  corrected: number;
  regenerated: number;
  copied: number;
  harmfulFlagged: number;
}

/** Flags that say an answer was harmful (harmful or biased, or unsafe), unless a moderator rejected them. */
const HARMFUL = `f.category IN ('harmful_or_biased', 'unsafe') AND f.status <> 'rejected'`;

/** Counts for each of `versionIds` over served answers created in [from, to). */
export async function armCounts(
  db: Pick<Database, 'pool'>,
  versionIds: string[],
  window: { from: Date; to: Date },
): Promise<Map<string, ArmCounts>> {
  const { rows } = await db.pool.query<Record<string, string | null>>(
    `WITH answers AS (
       SELECT m.id, m.model_version_id, m.parent_id, m.created_at FROM messages m
        WHERE m.role = 'assistant' AND m.author = 'served' AND m.model_version_id = ANY($1::uuid[])
          -- Message times are stored as UTC without a zone.
          AND m.created_at >= ($2::timestamptz AT TIME ZONE 'UTC')
          AND m.created_at < ($3::timestamptz AT TIME ZONE 'UTC'))
     SELECT a.model_version_id::text AS version_id,
            count(a.id) AS answers,
            coalesce(sum(t.up), 0) AS thumbs_up, coalesce(sum(t.down), 0) AS thumbs_down,
            coalesce(sum(t.n), 0) AS thumbs,
            coalesce(sum(s.n), 0) AS stars_n, coalesce(sum(s.total), 0) AS stars_sum,
            coalesce(sum(s.squares), 0) AS stars_sq,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM corrections c WHERE c.message_id = a.id)) AS corrected,
            -- An arena battle's second answer is not a regeneration the user asked for.
            count(*) FILTER (WHERE EXISTS (
              SELECT 1 FROM messages later WHERE later.parent_id = a.parent_id AND later.role = 'assistant'
                 AND later.author <> 'human' AND later.created_at > a.created_at)
              AND NOT EXISTS (
              SELECT 1 FROM arena_battles ab WHERE ab.message_a_id = a.id OR ab.message_b_id = a.id)) AS regenerated,
            count(*) FILTER (WHERE EXISTS (
              SELECT 1 FROM implicit_events e WHERE e.message_id = a.id AND e.type = 'copy')) AS copied,
            count(*) FILTER (WHERE EXISTS (
              SELECT 1 FROM flags f WHERE f.message_id = a.id AND ${HARMFUL})) AS harmful
       FROM answers a
       LEFT JOIN LATERAL (
         SELECT count(*) FILTER (WHERE r.value > 0) AS up, count(*) FILTER (WHERE r.value < 0) AS down,
                count(*) AS n
           FROM ratings r WHERE r.message_id = a.id AND r.kind = 'thumbs') t ON true
       LEFT JOIN LATERAL (
         SELECT count(*) AS n, sum(r.value) AS total, sum(r.value * r.value) AS squares
           FROM ratings r WHERE r.message_id = a.id AND r.kind = 'stars') s ON true
      GROUP BY a.model_version_id`,
    [versionIds, window.from.toISOString(), window.to.toISOString()],
  );
  const counts = new Map<string, ArmCounts>();
  for (const id of versionIds) {
    const r = rows.find((row) => row.version_id === id);
    const n = (key: string) => Number(r?.[key] ?? 0);
    counts.set(id, {
      versionId: id,
      answers: n('answers'),
      thumbsUp: n('thumbs_up'),
      thumbsDown: n('thumbs_down'),
      thumbs: n('thumbs'),
      starsN: n('stars_n'),
      starsSum: n('stars_sum'),
      starsSquares: n('stars_sq'),
      corrected: n('corrected'),
      regenerated: n('regenerated'),
      copied: n('copied'),
      harmfulFlagged: n('harmful'),
    });
  }
  return counts;
}

/** The arm the others are compared with: the active version if it takes part, else the heaviest. */
export function baselineArm(split: SplitWithArms): SplitWithArms['arms'][number] {
  return (
    split.arms.find((arm) => arm.modelVersion.status === 'active') ??
    split.arms.reduce((best, arm) => (arm.weight > best.weight ? arm : best))
  );
}

/** The answers a split covers: from its start to its end (or now). */
export const splitWindow = (split: SplitWithArms, now = new Date()) => ({
  from: split.createdAt,
  to: split.endedAt ?? new Date(now.getTime() + 1000),
});

const RATES: { metric: Exclude<ComparedMetric, 'meanStars'>; of: (c: ArmCounts) => [number, number] }[] = [
  { metric: 'thumbsUpRate', of: (c) => [c.thumbsUp, c.thumbs] },
  { metric: 'correctionRate', of: (c) => [c.corrected, c.answers] },
  { metric: 'regenerateRate', of: (c) => [c.regenerated, c.answers] },
  { metric: 'copyRate', of: (c) => [c.copied, c.answers] },
  { metric: 'harmfulFlagRate', of: (c) => [c.harmfulFlagged, c.answers] },
];

/** The comparison of `split`'s versions (null split: an empty comparison). */
export async function compareSplit(
  db: Pick<Database, 'pool'>,
  split: SplitWithArms | null,
  options: { effect: number; power: number },
): Promise<SplitComparisonView> {
  if (!split) return { split: null, ...options, arms: [] };
  const counts = await armCounts(
    db,
    split.arms.map((a) => a.modelVersionId),
    splitWindow(split),
  );
  const view = splitView(split);
  const baseline = baselineArm(split);
  const base = counts.get(baseline.modelVersionId)!;
  // The sample for the effect is planned around the baseline's rate (0.5, the worst case, if none).
  const p0 = base.thumbs > 0 ? base.thumbsUp / base.thumbs : 0.5;
  const p1 = p0 + options.effect <= 1 ? p0 + options.effect : p0 - options.effect;
  const perArm = sampleSizeForProportions(p0, p1, { power: options.power });
  return {
    split: view,
    ...options,
    arms: split.arms.map((arm, i) => {
      const c = counts.get(arm.modelVersionId)!;
      const isBaseline = arm.modelVersionId === baseline.modelVersionId;
      const differences: SplitComparisonView['arms'][number]['differences'] = [];
      if (!isBaseline) {
        for (const { metric, of } of RATES) {
          const [s, n] = of(c);
          const [bs, bn] = of(base);
          if (n === 0 || bn === 0) {
            differences.push({ metric, value: null, low: null, high: null, pValue: null });
            continue;
          }
          const d = proportionDifference({ successes: s, n }, { successes: bs, n: bn });
          differences.push({
            metric,
            value: d.value,
            low: d.interval[0],
            high: d.interval[1],
            pValue: twoProportionTest({ successes: s, n }, { successes: bs, n: bn }).pValue,
          });
        }
        const stars = meanDifferenceTest(
          { n: c.starsN, sum: c.starsSum, squares: c.starsSquares },
          { n: base.starsN, sum: base.starsSum, squares: base.starsSquares },
        );
        differences.push({ metric: 'meanStars', ...stars });
      }
      return {
        version: arm.modelVersion.name,
        versionId: arm.modelVersionId,
        share: view.arms[i]!.share,
        baseline: isBaseline,
        answers: c.answers,
        metrics: {
          thumbsUpRate: rateEstimate(c.thumbsUp, c.thumbs),
          meanStars: meanEstimate(c.starsN, c.starsSum, c.starsSquares, 1, 5),
          correctionRate: rateEstimate(c.corrected, c.answers),
          regenerateRate: rateEstimate(c.regenerated, c.answers),
          copyRate: rateEstimate(c.copied, c.answers),
          harmfulFlagRate: rateEstimate(c.harmfulFlagged, c.answers),
        },
        differences,
        thumbsPerArmForEffect: perArm,
        thumbsNeeded: Math.max(0, perArm - c.thumbs),
      };
    }),
  };
}
