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
import type { FeedbackRows, RatingRow } from '../feedback-rows.ts';
import { goldVerdict } from './gold-questions.ts';
import { agreementWithOthers, verdictOf } from '../annotation/judgements.ts';

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

/** One assessment per user who rated or voted in `rows`, sorted by user id. */
export function assessRaters(rows: FeedbackRows, config: DatasetBuildConfig): RaterAssessment[] {
  const rc = config.raters;
  const gold = goldVerdicts(rows, config);
  // Each rater's verdict on each answer they rated: verdicts.get(messageId).get(userId).
  const verdicts = new Map<string, Map<string, number>>();
  const byRater = new Map<string, RatingRow[]>();
  for (const r of rows.ratings) {
    const own = byRater.get(r.userId) ?? [];
    own.push(r);
    byRater.set(r.userId, own);
    const onAnswer = verdicts.get(r.messageId) ?? new Map<string, number>();
    onAnswer.set(r.userId, (onAnswer.get(r.userId) ?? 0) + ratingPolarity(r, config));
    verdicts.set(r.messageId, onAnswer);
  }
  for (const onAnswer of verdicts.values()) {
    for (const [userId, sum] of onAnswer) onAnswer.set(userId, Math.sign(sum));
  }
  const votes = new Map<string, number>();
  for (const v of rows.votes) votes.set(v.userId, (votes.get(v.userId) ?? 0) + 1);
  const annotations = rows.annotations ?? [];
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
  const judged = new Set(annotations.map((j) => j.raterId));
  const userIds = [...new Set([...byRater.keys(), ...votes.keys(), ...judged])].sort();
  const z = normalQuantile(rc.agreementConfidence);
  const confidence = percent(rc.agreementConfidence);

  return userIds.map((userId) => {
    const own = byRater.get(userId) ?? [];
    let consensusAgree = 0;
    let consensusComparisons = 0;
    let goldAgree = 0;
    let goldComparisons = 0;
    for (const messageId of new Set(own.map((r) => r.messageId))) {
      const onAnswer = verdicts.get(messageId)!;
      const verdict = onAnswer.get(userId)!;
      if (verdict === 0) continue;
      // Leave-one-rater-out majority of the others' verdicts on the same answer.
      let others = 0;
      for (const [other, v] of onAnswer) if (other !== userId) others += v;
      const majority = Math.sign(others);
      if (majority !== 0) {
        consensusComparisons++;
        if (majority === verdict) consensusAgree++;
      }
      const known = gold.get(messageId);
      if (known !== undefined) {
        goldComparisons++;
        if (known === verdict) goldAgree++;
      }
    }
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
    if (own.length >= rc.minRatingsForSpamCheck) {
      const counts = new Map<string, number>();
      for (const r of own) counts.set(`${r.kind}:${r.value}`, (counts.get(`${r.kind}:${r.value}`) ?? 0) + 1);
      const [commonest, count] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
      if (count / own.length >= rc.sameRatingShare) {
        spam = true;
        const [kind, value] = commonest.split(':');
        const shown = kind === 'thumbs' ? (value === '1' ? 'thumbs up' : 'thumbs down') : `${value} stars`;
        reasons.push(`gives the same rating (${shown}) in ${count} of ${own.length} ratings`);
      }
      const times = own.map((r) => r.at.getTime()).sort((a, b) => a - b);
      let fast = 0;
      for (let i = 1; i < times.length; i++) {
        if (times[i]! - times[i - 1]! < rc.minSecondsBetweenRatings * 1000) fast++;
      }
      if (fast / (times.length - 1) >= rc.fastShare) {
        spam = true;
        reasons.push(
          `${fast} of ${times.length - 1} ratings came less than ${rc.minSecondsBetweenRatings}s after the previous one`,
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
      ratings: own.length,
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
