// Rater reliability: how often each rater agrees with other raters (consensus) and with answers of
// known quality (gold), and whether their ratings look like spam (always the same rating, or too
// fast to have read the answers). The result is a trust weight per rater, with the reasons.
import type { DatasetBuildConfig } from './build-config.ts';
import type { FeedbackRows, RatingRow } from './feedback-rows.ts';
import { goldVerdict } from './gold-questions.ts';

export type RaterStatus = 'trusted' | 'down_weighted' | 'excluded';

export interface RaterAssessment {
  userId: string;
  ratings: number;
  votes: number;
  /** Share of compared ratings that match the other raters' majority; null when never compared. */
  consensusAgreement: number | null;
  consensusComparisons: number;
  /** Share of ratings on gold answers that match the known verdict; null when none. */
  goldAgreement: number | null;
  goldComparisons: number;
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
  const byMessage = new Map<string, RatingRow[]>();
  const byRater = new Map<string, RatingRow[]>();
  for (const r of rows.ratings) {
    byMessage.set(r.messageId, [...(byMessage.get(r.messageId) ?? []), r]);
    byRater.set(r.userId, [...(byRater.get(r.userId) ?? []), r]);
  }
  const votes = new Map<string, number>();
  for (const v of rows.votes) votes.set(v.userId, (votes.get(v.userId) ?? 0) + 1);
  const userIds = [...new Set([...byRater.keys(), ...votes.keys()])].sort();

  return userIds.map((userId) => {
    const own = byRater.get(userId) ?? [];
    let consensusAgree = 0;
    let consensusComparisons = 0;
    let goldAgree = 0;
    let goldComparisons = 0;
    for (const r of own) {
      const polarity = ratingPolarity(r, config);
      if (polarity === 0) continue;
      // Leave-one-rater-out majority of the others on the same answer.
      const others = (byMessage.get(r.messageId) ?? [])
        .filter((o) => o.userId !== userId)
        .reduce((sum, o) => sum + ratingPolarity(o, config), 0);
      if (others !== 0) {
        consensusComparisons++;
        if (Math.sign(others) === polarity) consensusAgree++;
      }
      const verdict = gold.get(r.messageId);
      if (verdict !== undefined) {
        goldComparisons++;
        if (verdict === polarity) goldAgree++;
      }
    }
    const consensusAgreement = consensusComparisons ? consensusAgree / consensusComparisons : null;
    const goldAgreement = goldComparisons ? goldAgree / goldComparisons : null;

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
    const judge = (agreement: number | null, comparisons: number, against: string) => {
      if (agreement === null || comparisons < rc.minComparisons || agreement >= rc.fullTrustAgreement) return;
      trust = Math.min(trust, agreement);
      reasons.push(`agrees with ${against} on ${percent(agreement)} of ${comparisons} answers`);
    };
    judge(consensusAgreement, consensusComparisons, 'other raters');
    judge(goldAgreement, goldComparisons, 'answers of known quality');

    let status: RaterStatus = trust < 1 ? 'down_weighted' : 'trusted';
    if (spam || trust < rc.excludeBelowAgreement) {
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
