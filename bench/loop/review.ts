// The review step of bench:loop (`--review-overlap N`): a moderator puts a share of the round's
// answers in an annotation queue, and every simulated rater works through it at once over the real
// API (next item, judge, next...), judging each answer the way their kind judges in chat. The bench
// keeps each judgement with the rater's kind, so that agreement among honest raters alone can be
// computed next to the queue's own agreement figures.
import type { QuestionItem } from '../../src/llm/index.ts';
import { mulberry32 } from '../../src/llm/rng.ts';
import { krippendorffAlpha } from '../../src/stats/krippendorff.ts';
import type { ApiClient } from './api-client.ts';
import { actsAs, scoreAnswer, starsFor, verdict, type RaterKind, type SimulatedUser } from './population.ts';

export interface ReviewJudgement {
  itemId: string;
  kind: RaterKind;
  thumbs: 'up' | 'down';
  stars: number;
}

interface LeasedItem {
  itemId: string;
  prompt: { role: string; content: string }[];
  answer: { content: string };
}

export interface ReviewRound {
  queueId: string;
  items: number;
  judgements: ReviewJudgement[];
}

/**
 * Creates a queue over a random `share` of the answers given since `since` (judged by `overlap`
 * raters each, thumbs and stars) and has every user judge until nothing is left for them.
 */
export async function reviewRound(options: {
  moderator: ApiClient;
  users: readonly SimulatedUser[];
  since: Date;
  answers: number;
  share: number;
  overlap: number;
  round: number;
  seed: number;
  questions: ReadonlyMap<string, QuestionItem>;
}): Promise<ReviewRound> {
  const limit = Math.max(1, Math.round(options.answers * options.share));
  const queue = await options.moderator.post<{ id: string; progress: { items: number } }>(
    '/v1/annotation/queues',
    {
      name: `bench:loop round ${options.round}`,
      guidelines:
        'Thumbs up and 4-5 stars when the answer states the fact; thumbs down and 1-2 stars otherwise.',
      rubric: { thumbs: true, stars: true, reason: 'optional' },
      source: { kind: 'sample', from: options.since.toISOString(), limit },
      overlap: options.overlap,
      annotators: { roles: ['user'] },
    },
  );
  const judgements: ReviewJudgement[] = [];
  await Promise.all(
    options.users.map(async (user, i) => {
      const rng = mulberry32(options.seed * 7919 + options.round * 101 + i);
      for (;;) {
        const { item } = await user.api.post<{ item: LeasedItem | null }>(
          `/v1/annotation/queues/${queue.id}/next`,
        );
        if (!item) return;
        const question = item.prompt.findLast((m) => m.role === 'user')?.content ?? '';
        const asked = options.questions.get(question);
        if (!asked) throw new Error(`review: the queue holds an answer to an unknown question: ${question}`);
        const good = verdict(
          actsAs(user.kind, question),
          scoreAnswer(asked, item.answer.content).correct,
          rng,
        );
        const judgement = { thumbs: good ? ('up' as const) : ('down' as const), stars: starsFor(good, rng) };
        await user.api.post(`/v1/annotation/queues/${queue.id}/items/${item.itemId}/judgement`, judgement);
        judgements.push({ itemId: item.itemId, kind: user.kind, ...judgement });
      }
    }),
  );
  return { queueId: queue.id, items: queue.progress.items, judgements };
}

/** Krippendorff's alpha of the honest raters' judgements alone (null when undefined). */
export function honestAlpha(judgements: readonly ReviewJudgement[]): {
  thumbs: number | null;
  stars: number | null;
} {
  const units = new Map<string, ReviewJudgement[]>();
  for (const j of judgements) {
    if (j.kind !== 'honest') continue;
    units.set(j.itemId, [...(units.get(j.itemId) ?? []), j]);
  }
  const round3 = (x: number | null) => (x === null ? null : Math.round(x * 1000) / 1000);
  return {
    thumbs: round3(
      krippendorffAlpha(
        [...units.values()].map((u) => u.map((j) => j.thumbs)),
        'nominal',
      ).alpha,
    ),
    stars: round3(
      krippendorffAlpha(
        [...units.values()].map((u) => u.map((j) => j.stars)),
        'ordinal',
      ).alpha,
    ),
  };
}
