// Rater reliability: how often each rater agrees with other raters (consensus) and with answers of
// known quality (gold), and whether their ratings look like spam (always the same rating, or too
// fast to have read the answers). The result is a trust weight per rater, with the reasons.
// Agreement is counted per answer (a rater's thumbs and stars on one answer are one verdict), and
// trust rests on the lower confidence bound of that agreement, not on the share itself: a rater
// who tosses a coin agrees on 12 of 17 answers now and then (71%), but the bound (51% at 95%)
// shows that chance explains it, while 16 of 17 (bound 78%) earns full trust.
// Annotation queues add a third check: on queue items several raters judge the same answer, so a
// rater who answers gold questions honestly and lies elsewhere disagrees with the majority of the
// others there and loses trust.
import { normalQuantile, wilsonInterval } from '../../stats/statistics.ts';
import type { DatasetBuildConfig } from '../../contract/dataset-build-config.ts';
import type { AnnotationJudgementRow, FeedbackRows, RatingRow } from '../feedback-rows.ts';
import { goldVerdict } from './gold-questions.ts';
import { agreementWithOthers, verdictOf } from '../annotation/judgements.ts';
import { pushTo } from '../../platform/push-to.ts';

export type RaterStatus = 'trusted' | 'down_weighted' | 'excluded';

export interface RaterAssessment {
  userId: string;
  ratings: number;
  votes: number;
  /** Share of compared answers where this rater's verdict matches the other raters' majority; null when never compared. */
  consensusAgreement: number | null;
  consensusComparisons: number;
  /** Share of rated gold answers where this rater's verdict matches the known one; null when none. */
  goldAgreement: number | null;
  goldComparisons: number;
  /**
   * Share of annotation queue items (of unknown quality) where this rater sided with the majority
   * of the other raters; null when never compared.
   */
  queueAgreement: number | null;
  queueComparisons: number;
  /** 0 (ignored) to 1 (full weight): the weight of this rater's feedback in every dataset. */
  trust: number;
  status: RaterStatus;
  /** Why trust is below 1, in words a moderator can act on; empty when trusted. */
  reasons: string[];
}

/** +1 good, -1 bad, 0 neutral (middling stars). */
export function ratingPolarity(
  rating: Pick<RatingRow, 'kind' | 'value'>,
  config: DatasetBuildConfig,
): number {
  if (rating.kind === 'thumbs') return Math.sign(rating.value);
  if (rating.value >= config.stars.positiveMin) return 1;
  if (rating.value <= config.stars.negativeMax) return -1;
  return 0;
}

const percent = (x: number) => `${Math.round(x * 100)}%`;

/**
 * Answers of known quality: answers to gold questions get the verdict of the known fact, approved
 * corrections and flags mark answers bad, and config.gold adds verdicts by hand (last word wins).
 */
export function goldVerdicts(rows: FeedbackRows, config: DatasetBuildConfig): Map<string, number> {
  const gold = new Map<string, number>();
  for (const a of rows.answers) {
    const verdict = goldVerdict(a.context, a.content, config.raters.goldQuestionsPercent);
    if (verdict !== undefined) gold.set(a.id, verdict);
  }
  for (const c of rows.corrections) gold.set(c.messageId, -1);
  for (const f of rows.flags) gold.set(f.messageId, -1);
  for (const g of config.raters.gold) gold.set(g.messageId, g.good ? 1 : -1);
  return gold;
}

/**
 * What rater assessment keeps per rater, filled one rating at a time: counts, never the ratings,
 * so raters can be assessed over a cursor of any number of rows.
 */
export interface RaterTally {
  ratings: number;
  /** Ratings by `kind:value`, with the first rating id of each (ties in count go to the first). */
  values: Map<string, { count: number; firstId: string }>;
  /** Ratings less than `minSecondsBetweenRatings` after the rater's previous one. */
  fast: number;
  lastAt: number | null;
  consensusAgree: number;
  consensusComparisons: number;
  goldAgree: number;
  goldComparisons: number;
}

export const emptyTally = (): RaterTally => ({
  ratings: 0,
  values: new Map(),
  fast: 0,
  lastAt: null,
  consensusAgree: 0,
  consensusComparisons: 0,
  goldAgree: 0,
  goldComparisons: 0,
});

const tallyOf = (tallies: Map<string, RaterTally>, userId: string): RaterTally => {
  let tally = tallies.get(userId);
  if (!tally) tallies.set(userId, (tally = emptyTally()));
  return tally;
};

/** Counts one rating of a rater; each rater's ratings must come in time order. */
export function tallyRating(
  tallies: Map<string, RaterTally>,
  r: Pick<RatingRow, 'id' | 'userId' | 'kind' | 'value' | 'at'>,
  config: DatasetBuildConfig,
): void {
  const tally = tallyOf(tallies, r.userId);
  tally.ratings++;
  const key = `${r.kind}:${r.value}`;
  const entry = tally.values.get(key);
  if (!entry) tally.values.set(key, { count: 1, firstId: r.id });
  else {
    entry.count++;
    if (r.id < entry.firstId) entry.firstId = r.id;
  }
  const at = r.at.getTime();
  if (tally.lastAt !== null && at - tally.lastAt < config.raters.minSecondsBetweenRatings * 1000)
    tally.fast++;
  tally.lastAt = at;
}

/**
 * Compares every rater's verdict on one answer with the others' (leave-one-rater-out majority) and
 * with the answer's known verdict (`gold`, when it has one). `ratings` are all ratings of the answer.
 */
export function tallyAnswer(
  tallies: Map<string, RaterTally>,
  ratings: readonly Pick<RatingRow, 'userId' | 'kind' | 'value'>[],
  gold: number | undefined,
  config: DatasetBuildConfig,
): void {
  const sums = new Map<string, number>();
  for (const r of ratings) sums.set(r.userId, (sums.get(r.userId) ?? 0) + ratingPolarity(r, config));
  let total = 0;
  for (const [userId, sum] of sums) {
    sums.set(userId, Math.sign(sum));
    total += Math.sign(sum);
  }
  for (const [userId, verdict] of sums) {
    if (verdict === 0) continue;
    const tally = tallyOf(tallies, userId);
    const majority = Math.sign(total - verdict);
    if (majority !== 0) {
      tally.consensusComparisons++;
      if (majority === verdict) tally.consensusAgree++;
    }
    if (gold !== undefined) {
      tally.goldComparisons++;
      if (gold === verdict) tally.goldAgree++;
    }
  }
}

/** What annotation queues add to rater assessment (src/feedback/annotation). */
export interface QueueTallies {
  /** Agreement with the other raters on items of unknown quality. */
  queue: Map<string, { agreed: number; comparisons: number }>;
  /** Verdicts on single answers of known quality. */
  queueGold: Map<string, { agreed: number; comparisons: number }>;
  raters: Set<string>;
}

/** The queue tallies of `annotations`, given the known verdict of each answer. */
export function tallyQueues(
  annotations: readonly AnnotationJudgementRow[],
  gold: ReadonlyMap<string, number>,
  config: DatasetBuildConfig,
): QueueTallies {
  // Agreement with the others is judged on answers of unknown quality: gold already checks the
  // rest, and an adversary who recognises gold questions behaves only there.
  const queue = agreementWithOthers(
    annotations.filter((j) => j.messageBId !== null || !gold.has(j.messageId)),
    config.stars,
  );
  // Queue verdicts on answers of known quality check raters as their chat ratings do.
  const queueGold = new Map<string, { agreed: number; comparisons: number }>();
  for (const j of annotations) {
    const known = j.messageBId === null ? gold.get(j.messageId) : undefined;
    const verdict = verdictOf(j, config.stars);
    if (known === undefined || !verdict) continue;
    const entry = queueGold.get(j.raterId) ?? { agreed: 0, comparisons: 0 };
    entry.comparisons++;
    if (verdict === known) entry.agreed++;
    queueGold.set(j.raterId, entry);
  }
  return { queue, queueGold, raters: new Set(annotations.map((j) => j.raterId)) };
}

/** One assessment per user who rated or voted in `rows`, sorted by user id. */
export function assessRaters(rows: FeedbackRows, config: DatasetBuildConfig): RaterAssessment[] {
  const gold = goldVerdicts(rows, config);
  const tallies = new Map<string, RaterTally>();
  const byAnswer = new Map<string, RatingRow[]>();
  for (const r of rows.ratings) pushTo(byAnswer, r.messageId, r);
  for (const [messageId, ratings] of byAnswer) tallyAnswer(tallies, ratings, gold.get(messageId), config);
  const inTimeOrder = rows.ratings
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.at.getTime() - b.r.at.getTime() || a.i - b.i);
  for (const { r } of inTimeOrder) tallyRating(tallies, r, config);
  const votes = new Map<string, number>();
  for (const v of rows.votes) votes.set(v.userId, (votes.get(v.userId) ?? 0) + 1);
  return assessTallies(tallies, votes, tallyQueues(rows.annotations ?? [], gold, config), config);
}

/** Assessments from the tallies, one per rater with ratings, votes or queue judgements, by user id. */
export function assessTallies(
  tallies: ReadonlyMap<string, RaterTally>,
  votes: ReadonlyMap<string, number>,
  queues: QueueTallies,
  config: DatasetBuildConfig,
): RaterAssessment[] {
  const rc = config.raters;
  const { queue, queueGold } = queues;
  const userIds = [...new Set([...tallies.keys(), ...votes.keys(), ...queues.raters])].sort();
  const z = normalQuantile(rc.agreementConfidence);
  const confidence = percent(rc.agreementConfidence);

  return userIds.map((userId) => {
    const own = tallies.get(userId) ?? emptyTally();
    const { consensusAgree, consensusComparisons } = own;
    let { goldAgree, goldComparisons } = own;
    goldAgree += queueGold.get(userId)?.agreed ?? 0;
    goldComparisons += queueGold.get(userId)?.comparisons ?? 0;
    const { agreed: queueAgree, comparisons: queueComparisons } = queue.get(userId) ?? {
      agreed: 0,
      comparisons: 0,
    };
    const consensusAgreement = consensusComparisons ? consensusAgree / consensusComparisons : null;
    const goldAgreement = goldComparisons ? goldAgree / goldComparisons : null;
    const queueAgreement = queueComparisons ? queueAgree / queueComparisons : null;

    const reasons: string[] = [];
    let spam = false;
    if (own.ratings >= rc.minRatingsForSpamCheck) {
      const [commonest, { count }] = [...own.values].sort(
        (a, b) => b[1].count - a[1].count || (a[1].firstId < b[1].firstId ? -1 : 1),
      )[0]!;
      if (count / own.ratings >= rc.sameRatingShare) {
        spam = true;
        const [kind, value] = commonest.split(':');
        const shown = kind === 'thumbs' ? (value === '1' ? 'thumbs up' : 'thumbs down') : `${value} stars`;
        reasons.push(`gives the same rating (${shown}) in ${count} of ${own.ratings} ratings`);
      }
      if (own.fast / (own.ratings - 1) >= rc.fastShare) {
        spam = true;
        reasons.push(
          `${own.fast} of ${own.ratings - 1} ratings came less than ${rc.minSecondsBetweenRatings}s after the previous one`,
        );
      }
    }

    let trust = 1;
    let unreliable = false;
    const judge = (agreed: number, comparisons: number, against: string) => {
      if (comparisons < rc.minComparisons) return;
      const agreement = agreed / comparisons;
      const [lowerBound] = wilsonInterval(agreed, comparisons, z);
      if (lowerBound >= rc.fullTrustAgreement) return;
      trust = Math.min(trust, Math.round(lowerBound * 1e4) / 1e4);
      if (agreement < rc.excludeBelowAgreement) unreliable = true;
      reasons.push(
        `agrees with ${against} on ${Math.round(agreed * 10) / 10} of ${comparisons} answers (${percent(agreement)}); ` +
          `at ${confidence} confidence at least ${percent(lowerBound)}, ` +
          `below the ${percent(rc.fullTrustAgreement)} for full trust`,
      );
    };
    judge(consensusAgree, consensusComparisons, 'other raters');
    judge(goldAgree, goldComparisons, 'answers of known quality');
    judge(
      queueAgree,
      queueComparisons,
      'the majority of the other raters in annotation queues (answers of unknown quality)',
    );

    let status: RaterStatus = trust < 1 ? 'down_weighted' : 'trusted';
    if (spam || unreliable) {
      status = 'excluded';
      trust = 0;
    }
    return {
      userId,
      ratings: own.ratings,
      votes: votes.get(userId) ?? 0,
      consensusAgreement,
      consensusComparisons,
      goldAgreement,
      goldComparisons,
      queueAgreement,
      queueComparisons,
      trust,
      status,
      reasons,
    };
  });
}

/** Trust by user id; users never assessed (no ratings or votes) count as fully trusted. */
export function trustOf(assessments: RaterAssessment[]): (userId: string) => number {
  const map = new Map(assessments.map((a) => [a.userId, a.trust]));
  return (userId) => map.get(userId) ?? 1;
}
