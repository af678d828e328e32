// The feedback on one message, counted: what a reviewer sees next to an answer, and what the owner
// sees of their own ratings.
import type { Db } from '../../platform/db/client.ts';
import type { ReviewStatus } from '../../generated/prisma/client.ts';

export interface FeedbackSummary {
  thumbs: { up: number; down: number };
  stars: { count: number; average: number | null };
  votes: { won: number; lost: number; tie: number; bothBad: number };
  flags: Record<ReviewStatus, number>;
  corrections: Record<ReviewStatus, number>;
  mine: { thumbs: 'up' | 'down' | null; stars: number | null };
  /** The reasons the viewer gave with their ratings. */
  myReasons: { thumbs: string | null; stars: string | null };
}

const byStatus = (groups: Array<{ status: ReviewStatus; _count: { _all: number } }>) => {
  const counts: Record<ReviewStatus, number> = { pending: 0, approved: 0, rejected: 0 };
  for (const g of groups) counts[g.status] = g._count._all;
  return counts;
};

export async function feedbackSummary(db: Db, messageId: string, viewerId: string): Promise<FeedbackSummary> {
  const [ratings, mine, asA, asB, flags, corrections] = await Promise.all([
    db.rating.groupBy({ by: ['kind', 'value'], where: { messageId }, _count: { _all: true } }),
    db.rating.findMany({ where: { messageId, userId: viewerId } }),
    db.pairwiseVote.groupBy({ by: ['choice'], where: { messageAId: messageId }, _count: { _all: true } }),
    db.pairwiseVote.groupBy({ by: ['choice'], where: { messageBId: messageId }, _count: { _all: true } }),
    db.flag.groupBy({ by: ['status'], where: { messageId }, _count: { _all: true } }),
    db.correction.groupBy({ by: ['status'], where: { messageId }, _count: { _all: true } }),
  ]);

  const thumbs = { up: 0, down: 0 };
  let starCount = 0;
  let starTotal = 0;
  for (const g of ratings) {
    if (g.kind === 'thumbs') thumbs[g.value > 0 ? 'up' : 'down'] += g._count._all;
    else {
      starCount += g._count._all;
      starTotal += g.value * g._count._all;
    }
  }

  const votes = { won: 0, lost: 0, tie: 0, bothBad: 0 };
  for (const [groups, self, other] of [
    [asA, 'a', 'b'],
    [asB, 'b', 'a'],
  ] as const) {
    for (const g of groups) {
      const n = g._count._all;
      if (g.choice === self) votes.won += n;
      else if (g.choice === other) votes.lost += n;
      else if (g.choice === 'tie') votes.tie += n;
      else votes.bothBad += n;
    }
  }

  const myThumbs = mine.find((r) => r.kind === 'thumbs');
  const myStars = mine.find((r) => r.kind === 'stars');
  return {
    thumbs,
    stars: { count: starCount, average: starCount ? starTotal / starCount : null },
    votes,
    flags: byStatus(flags),
    corrections: byStatus(corrections),
    mine: {
      thumbs: myThumbs ? (myThumbs.value > 0 ? 'up' : 'down') : null,
      stars: myStars ? myStars.value : null,
    },
    myReasons: { thumbs: myThumbs?.reason ?? null, stars: myStars?.reason ?? null },
  };
}
