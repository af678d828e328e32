// Rater assessment over cursors (../feedback-stream.ts): ratings a page of answers at a time for
// agreement with consensus and gold, and each rater's habits aggregated by Postgres for the spam
// checks, folded into per-rater tallies (./raters.ts): the assessments assessRaters gives on all
// rows.
import type { Db } from '../../platform/db/client.ts';
import type { DatasetBuildConfig } from '../../contract/dataset-build-config.ts';
import type { AnnotationJudgementRow } from '../feedback-rows.ts';
import {
  badAnswerIds,
  loadAnnotationJudgements,
  ratingsByAnswer,
  ratingHabits,
  votesPerRater,
  type FeedbackFilter,
} from '../feedback-stream.ts';
import { goldVerdict } from './gold-questions.ts';
import {
  assessTallies,
  tallyAnswer,
  tallyQueues,
  emptyTally,
  type RaterAssessment,
  type RaterTally,
} from './raters.ts';

/** Known verdicts (gold) of answers, as goldVerdicts gives them, for the answers in `ids`. */
async function goldOf(db: Db, filter: FeedbackFilter, ids: string[], config: DatasetBuildConfig) {
  const [answers, bad] = await Promise.all([
    db.message.findMany({
      where: { id: { in: ids } },
      select: { id: true, content: true, parent: { select: { role: true, content: true } } },
    }),
    badAnswerIds(db, filter, ids),
  ]);
  const byHand = new Map(config.raters.gold.map((g) => [g.messageId, g.good ? 1 : -1]));
  const gold = new Map<string, number>();
  for (const a of answers) {
    let verdict: number | undefined = a.parent
      ? goldVerdict([a.parent], a.content, config.raters.goldQuestionsPercent)
      : undefined;
    if (bad.has(a.id)) verdict = -1;
    verdict = byHand.get(a.id) ?? verdict;
    if (verdict !== undefined) gold.set(a.id, verdict);
  }
  return gold;
}

/**
 * assessRaters over cursors: the same assessments, from per-rater tallies, in memory that does not
 * grow with the ratings. Reads the window's annotation judgements when not given them.
 */
export async function assessRatersStreamed(
  db: Db,
  filter: FeedbackFilter,
  config: DatasetBuildConfig,
  annotations?: readonly AnnotationJudgementRow[],
): Promise<RaterAssessment[]> {
  const judgements = annotations ?? (await loadAnnotationJudgements(db, filter));
  const tallies = new Map<string, RaterTally>();
  for await (const groups of ratingsByAnswer(db, filter)) {
    const gold = await goldOf(
      db,
      filter,
      groups.map((g) => g[0]!.messageId),
      config,
    );
    for (const ratings of groups) tallyAnswer(tallies, ratings, gold.get(ratings[0]!.messageId), config);
  }
  for (const h of await ratingHabits(db, filter, config.raters.minSecondsBetweenRatings * 1000)) {
    const tally = tallies.get(h.userId) ?? emptyTally();
    Object.assign(tally, { ratings: h.ratings, fast: h.fast, values: h.values });
    tallies.set(h.userId, tally);
  }
  const single = [...new Set(judgements.filter((j) => j.messageBId === null).map((j) => j.messageId))];
  const gold = single.length ? await goldOf(db, filter, single, config) : new Map<string, number>();
  return assessTallies(
    tallies,
    await votesPerRater(db, filter),
    tallyQueues(judgements, gold, config),
    config,
  );
}
