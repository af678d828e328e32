// How far a queue's raters agree: Krippendorff's alpha per rubric dimension with its bootstrap 95%
// interval, and each rater's agreement with the majority of the others beside their standing in
// the datasets (the rater assessment over all feedback, this queue included).
import type { Db } from '../../platform/db/client.ts';
import type { AgreementView } from '../../contract/annotation.ts';
import { parseBuildConfig } from '../../contract/dataset-build-config.ts';
import { fnv1a } from '../../llm/rng.ts';
import { submitterTrust } from '../raters/submitter-trust.ts';
import { agreementByDimension, agreementWithOthers } from './judgements.ts';
import type { QueueRow } from './queues.ts';

/** Bootstrap resamples behind each interval. */
export const AGREEMENT_RESAMPLES = 1000;

export async function queueAgreement(db: Db, queue: QueueRow): Promise<AgreementView> {
  const assignments = await db.annotationAssignment.findMany({
    where: { queueId: queue.id, status: { in: ['done', 'skipped'] } },
    select: {
      itemId: true,
      raterId: true,
      status: true,
      thumbs: true,
      stars: true,
      choice: true,
      label: true,
      rater: { select: { email: true } },
    },
    orderBy: [{ itemId: 'asc' }, { raterId: 'asc' }],
  });
  const judgements = assignments.filter((a) => a.status === 'done');
  const config = parseBuildConfig({});
  const dimensions = agreementByDimension(judgements, {
    resamples: AGREEMENT_RESAMPLES,
    seed: fnv1a(queue.id),
  });
  const comparisons = agreementWithOthers(judgements, config.stars);

  const raters = new Map<string, { email: string; judged: number; skipped: number }>();
  for (const a of assignments) {
    const entry = raters.get(a.raterId) ?? { email: a.rater.email, judged: 0, skipped: 0 };
    if (a.status === 'done') entry.judged++;
    else entry.skipped++;
    raters.set(a.raterId, entry);
  }
  const standing = await submitterTrust(db, [...raters.keys()]);
  return {
    queueId: queue.id,
    dimensions,
    raters: [...raters]
      .map(([userId, r]) => {
        const c = comparisons.get(userId);
        return {
          userId,
          ...r,
          comparisons: c?.comparisons ?? 0,
          agreement: c ? Math.round((c.agreed / c.comparisons) * 1e4) / 1e4 : null,
          standing: standing.get(userId)!,
        };
      })
      // Least trusted first, then least agreeing: what a moderator looks for.
      .sort(
        (a, b) =>
          a.standing.trust - b.standing.trust ||
          (a.agreement ?? 1) - (b.agreement ?? 1) ||
          (a.email < b.email ? -1 : 1),
      ),
  };
}
