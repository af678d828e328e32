// The plain rows a dataset build reads, and the one repository function that loads them. Builders
// are pure functions of these rows, so tests can hand them rows directly.
import type { Db } from '../platform/db/client.ts';
import type { ChatMessage } from '../llm/index.ts';
import type { ImplicitEventType } from '../generated/prisma/client.ts';

/** An assistant answer with the conversation that led to it (root first, ending with the prompt). */
export interface AnswerRow {
  id: string;
  conversationId: string;
  /** The prompt it answers; answers sharing it are siblings and can be compared. */
  parentId: string;
  content: string;
  modelVersionId: string | null;
  createdAt: Date;
  context: ChatMessage[];
}

export interface RatingRow {
  id: string;
  messageId: string;
  userId: string;
  kind: 'thumbs' | 'stars';
  /** Thumbs: -1 or 1; stars: 1..5. */
  value: number;
  /** When the rating was given (last changed). */
  at: Date;
}

export interface VoteRow {
  id: string;
  userId: string;
  messageAId: string;
  messageBId: string;
  choice: 'a' | 'b' | 'tie' | 'both_bad';
  at: Date;
}

/** An approved correction: `correctedText` is what a moderator accepted. */
export interface CorrectionRow {
  id: string;
  messageId: string;
  userId: string;
  correctedText: string;
}

/** An approved flag: a moderator agreed the answer is bad. */
export interface FlagRow {
  id: string;
  messageId: string;
}

export interface ImplicitEventRow {
  id: string;
  messageId: string;
  userId: string;
  type: string;
  value: number | null;
}

/** A rater's judgement of an annotation queue item (src/feedback/annotation). */
export interface AnnotationJudgementRow {
  /** The assignment's id. */
  id: string;
  itemId: string;
  queueId: string;
  raterId: string;
  messageId: string;
  /** The second answer of a pairwise item. */
  messageBId: string | null;
  /** -1 or 1. */
  thumbs: number | null;
  stars: number | null;
  choice: 'a' | 'b' | 'tie' | 'both_bad' | null;
  label: string | null;
  at: Date;
}

/** A rating as the builders take it. */
export function ratingRow(r: {
  id: string;
  messageId: string;
  userId: string;
  kind: RatingRow['kind'];
  value: number;
  updatedAt: Date;
}): RatingRow {
  return {
    id: r.id,
    messageId: r.messageId,
    userId: r.userId,
    kind: r.kind,
    value: r.value,
    at: r.updatedAt,
  };
}

/** A pairwise vote as the builders take it. */
export function voteRow(v: {
  id: string;
  userId: string;
  messageAId: string;
  messageBId: string;
  choice: VoteRow['choice'];
  createdAt: Date;
}): VoteRow {
  return {
    id: v.id,
    userId: v.userId,
    messageAId: v.messageAId,
    messageBId: v.messageBId,
    choice: v.choice,
    at: v.createdAt,
  };
}

/** A submitted judgement as the builders take it, from its assignment and the item's answers. */
export function annotationJudgementRow(j: {
  id: string;
  itemId: string;
  queueId: string;
  raterId: string;
  item: { messageId: string; messageBId: string | null };
  thumbs: AnnotationJudgementRow['thumbs'];
  stars: AnnotationJudgementRow['stars'];
  choice: AnnotationJudgementRow['choice'];
  label: AnnotationJudgementRow['label'];
  submittedAt: Date | null;
}): AnnotationJudgementRow {
  return {
    id: j.id,
    itemId: j.itemId,
    queueId: j.queueId,
    raterId: j.raterId,
    messageId: j.item.messageId,
    messageBId: j.item.messageBId,
    thumbs: j.thumbs,
    stars: j.stars,
    choice: j.choice,
    label: j.label,
    at: j.submittedAt!,
  };
}

export interface FeedbackRows {
  answers: AnswerRow[];
  ratings: RatingRow[];
  votes: VoteRow[];
  corrections: CorrectionRow[];
  flags: FlagRow[];
  implicitEvents: ImplicitEventRow[];
  /** Judgements from annotation queues (none when absent). */
  annotations?: AnnotationJudgementRow[];
}

export interface FeedbackWindow {
  from?: Date;
  to: Date;
}

/**
 * Which implicit events to read, by far the most numerous rows: all of them (the default), none
 * (rater assessment never reads them), or only those a build counts: types with a weight, and dwell
 * events only when they lasted at least `dwellMinMs`.
 */
export type EventSelection = 'all' | 'none' | { types: ImplicitEventType[]; dwellMinMs: number };

const byId = <T extends { id: string }>(rows: T[]): T[] => rows.sort((a, b) => (a.id < b.id ? -1 : 1));

/**
 * Feedback given in the window (ratings by last change, votes, corrections and flags by approval,
 * implicit events by arrival), with every answer it touches and that answer's conversation so far.
 * With `modelVersionIds`, only feedback on answers from those versions. Rows come sorted by id, so
 * the same database gives the same rows in the same order.
 */
export async function loadFeedbackRows(
  db: Db,
  filter: { window: FeedbackWindow; modelVersionIds?: string[]; events?: EventSelection },
): Promise<FeedbackRows> {
  const events = filter.events ?? 'all';
  const range = { ...(filter.window.from ? { gte: filter.window.from } : {}), lt: filter.window.to };
  const onAnswers = filter.modelVersionIds
    ? { message: { modelVersionId: { in: filter.modelVersionIds } } }
    : {};
  const [ratings, votes, corrections, flags, implicitEvents, judgements] = await Promise.all([
    db.rating.findMany({ where: { updatedAt: range, ...onAnswers } }),
    db.pairwiseVote.findMany({
      where: {
        createdAt: range,
        ...(filter.modelVersionIds
          ? {
              messageA: { modelVersionId: { in: filter.modelVersionIds } },
              messageB: { modelVersionId: { in: filter.modelVersionIds } },
            }
          : {}),
      },
    }),
    db.correction.findMany({ where: { status: 'approved', reviewedAt: range, ...onAnswers } }),
    db.flag.findMany({ where: { status: 'approved', reviewedAt: range, ...onAnswers } }),
    // Only the fields the builders read: events are the most numerous rows by far.
    events === 'none'
      ? Promise.resolve([])
      : db.implicitEvent.findMany({
          where: {
            receivedAt: range,
            ...onAnswers,
            ...(events === 'all'
              ? {}
              : {
                  type: { in: events.types },
                  ...(events.dwellMinMs > 0
                    ? { OR: [{ type: { not: 'dwell' as const } }, { value: { gte: events.dwellMinMs } }] }
                    : {}),
                }),
          },
          select: { id: true, messageId: true, userId: true, type: true, value: true },
        }),
    db.annotationAssignment.findMany({
      where: {
        status: 'done',
        submittedAt: range,
        ...(filter.modelVersionIds
          ? { item: { message: { modelVersionId: { in: filter.modelVersionIds } } } }
          : {}),
      },
      include: { item: { select: { messageId: true, messageBId: true } } },
    }),
  ]);

  const answerIds = new Set<string>([
    ...ratings.map((r) => r.messageId),
    ...votes.flatMap((v) => [v.messageAId, v.messageBId]),
    ...corrections.map((c) => c.messageId),
    ...flags.map((f) => f.messageId),
    ...implicitEvents.map((e) => e.messageId),
    ...judgements.flatMap((j) =>
      j.item.messageBId ? [j.item.messageId, j.item.messageBId] : [j.item.messageId],
    ),
  ]);
  const answerRows = await db.message.findMany({
    // A model's answers only: an assistant turn a person wrote never becomes model output.
    where: {
      id: { in: [...answerIds] },
      role: 'assistant',
      author: { in: ['served', 'logged'] },
      parentId: { not: null },
    },
    select: {
      id: true,
      conversationId: true,
      parentId: true,
      content: true,
      modelVersionId: true,
      createdAt: true,
    },
  });
  // Whole conversations, so any depth of history is one query.
  const conversationIds = [...new Set(answerRows.map((a) => a.conversationId))];
  const history = await db.message.findMany({
    where: { conversationId: { in: conversationIds } },
    select: { id: true, parentId: true, role: true, content: true },
  });
  const messages = new Map(history.map((m) => [m.id, m]));
  const contextOf = (promptId: string): ChatMessage[] => {
    const path: ChatMessage[] = [];
    for (let m = messages.get(promptId); m; m = m.parentId ? messages.get(m.parentId) : undefined) {
      path.push({ role: m.role, content: m.content });
    }
    return path.reverse();
  };
  const answers: AnswerRow[] = answerRows.map((a) => ({
    ...a,
    parentId: a.parentId!,
    context: contextOf(a.parentId!),
  }));
  const known = new Set(answers.map((a) => a.id));

  return {
    answers: byId(answers),
    ratings: byId(ratings.filter((r) => known.has(r.messageId)).map(ratingRow)),
    votes: byId(votes.filter((v) => known.has(v.messageAId) && known.has(v.messageBId)).map(voteRow)),
    corrections: byId(
      corrections
        .filter((c) => known.has(c.messageId))
        .map((c) => ({ id: c.id, messageId: c.messageId, userId: c.userId, correctedText: c.correctedText })),
    ),
    flags: byId(
      flags.filter((f) => known.has(f.messageId)).map((f) => ({ id: f.id, messageId: f.messageId })),
    ),
    // Event ids are unique per user: two users' events may share one, ordered by user then.
    implicitEvents: implicitEvents
      .filter((e) => known.has(e.messageId))
      .map((e) => ({ id: e.id, messageId: e.messageId, userId: e.userId, type: e.type, value: e.value }))
      .sort((a, b) => (a.id !== b.id ? (a.id < b.id ? -1 : 1) : a.userId < b.userId ? -1 : 1)),
    annotations: byId(
      judgements
        .filter((j) => known.has(j.item.messageId) && (!j.item.messageBId || known.has(j.item.messageBId)))
        .map(annotationJudgementRow),
    ),
  };
}
