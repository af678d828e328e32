// Explicit feedback on answers: ratings, pairwise votes, flags and corrections. These functions
// check what the feedback is about (an assistant message, two answers to one prompt); who may give
// it is the route's job (app.messageAccess.assertCanRate).
import type { Db } from '../../platform/db/client.ts';
import type {
  Correction,
  Flag,
  FlagCategory,
  PairwiseChoice,
  PairwiseVote,
  Rating,
  RatingKind,
} from '../../generated/prisma/client.ts';
import { AppError, notFound } from '../../platform/errors/app-error.ts';

export const invalidField = (path: string, message: string) =>
  new AppError('validation_failed', `Invalid ${path}: ${message}`, [{ path, message }]);

type RatingValue = { kind: 'thumbs'; value: 'up' | 'down' } | { kind: 'stars'; value: number };
export type RatingInput = RatingValue & { reason?: string };
export type RatingOutput = RatingValue & {
  messageId: string;
  reason: string | null;
  createdAt: Date;
  updatedAt: Date;
};

const THUMBS_TO_INT = { up: 1, down: -1 } as const;

/** The wire form of a stored rating: thumbs as 'up' | 'down', stars as 1..5. */
export function toRatingOutput(rating: Rating): RatingOutput {
  const common = {
    messageId: rating.messageId,
    reason: rating.reason,
    createdAt: rating.createdAt,
    updatedAt: rating.updatedAt,
  };
  return rating.kind === 'thumbs'
    ? { kind: 'thumbs', value: rating.value > 0 ? 'up' : 'down', ...common }
    : { kind: 'stars', value: rating.value, ...common };
}

/**
 * Feedback is about a model's answers (served or logged): rating one's own prompt, or an assistant
 * turn a person wrote, means nothing and must never become a training signal.
 */
async function assistantMessage(db: Db, messageId: string) {
  const message = await db.message.findUnique({
    where: { id: messageId },
    select: { id: true, role: true, author: true, content: true, parentId: true, conversationId: true },
  });
  if (!message) throw notFound('Message');
  if (message.role !== 'assistant')
    throw new AppError(
      'bad_request',
      `Only assistant messages take feedback; this is a ${message.role} message`,
    );
  if (message.author === 'human')
    throw new AppError('bad_request', "Only a model's answers take feedback; a person wrote this one");
  return message;
}

/** Sets the user's rating of this kind on the message (with its reason), replacing an earlier one. */
export async function rateMessage(
  db: Db,
  input: { messageId: string; userId: string; rating: RatingInput },
): Promise<Rating> {
  await assistantMessage(db, input.messageId);
  const { kind } = input.rating;
  const value = input.rating.kind === 'thumbs' ? THUMBS_TO_INT[input.rating.value] : input.rating.value;
  const reason = input.rating.reason ? input.rating.reason : null;
  return db.rating.upsert({
    where: { messageId_userId_kind: { messageId: input.messageId, userId: input.userId, kind } },
    create: { messageId: input.messageId, userId: input.userId, kind, value, reason },
    update: { value, reason },
  });
}

/** Removes the user's rating of `kind` (or all their ratings) on the message; returns how many went. */
export async function removeRatings(
  db: Db,
  input: { messageId: string; userId: string; kind?: RatingKind },
): Promise<number> {
  const { count } = await db.rating.deleteMany({
    where: { messageId: input.messageId, userId: input.userId, ...(input.kind ? { kind: input.kind } : {}) },
  });
  return count;
}

/**
 * Records which of two answers to the same prompt the user prefers. Voting again on the same pair,
 * in either order, replaces the earlier vote (the pair is stored in the order of the latest vote,
 * since which answer was shown first matters). Run it in a transaction: it takes an advisory lock
 * on the pair so two concurrent votes cannot both insert.
 */
export async function recordVote(
  tx: Db,
  input: { userId: string; messageAId: string; messageBId: string; choice: PairwiseChoice },
): Promise<{ vote: PairwiseVote; replaced: boolean }> {
  const { userId, messageAId, messageBId, choice } = input;
  if (messageAId === messageBId) throw invalidField('body.messageBId', 'must differ from messageAId');
  const rows = await tx.message.findMany({
    where: { id: { in: [messageAId, messageBId] } },
    select: { id: true, role: true, author: true, parentId: true, conversationId: true },
  });
  const a = rows.find((m) => m.id === messageAId);
  const b = rows.find((m) => m.id === messageBId);
  if (!a || !b) throw notFound('Message');
  if (a.role !== 'assistant') throw invalidField('body.messageAId', 'must be an assistant message');
  if (b.role !== 'assistant') throw invalidField('body.messageBId', 'must be an assistant message');
  if (a.author === 'human') throw invalidField('body.messageAId', "must be a model's answer, not a person's");
  if (b.author === 'human') throw invalidField('body.messageBId', "must be a model's answer, not a person's");
  if (a.parentId === null || a.conversationId !== b.conversationId || a.parentId !== b.parentId)
    throw invalidField('body.messageBId', 'must answer the same prompt as messageAId (same parent message)');

  const [low, high] = [messageAId, messageBId].sort();
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`pairwise_vote:${userId}:${low}:${high}`}))`;
  const existing = await tx.pairwiseVote.findFirst({
    where: {
      userId,
      OR: [
        { messageAId, messageBId },
        { messageAId: messageBId, messageBId: messageAId },
      ],
    },
  });
  if (existing) {
    const vote = await tx.pairwiseVote.update({
      where: { id: existing.id },
      data: { messageAId, messageBId, choice, createdAt: new Date() },
    });
    return { vote, replaced: true };
  }
  const vote = await tx.pairwiseVote.create({ data: { userId, messageAId, messageBId, choice } });
  return { vote, replaced: false };
}

/**
 * Reports a problem with an answer; it waits for a moderator. The same flag again (same user,
 * answer, category and comment) is the first one (`replayed`), not a second pending row. Call it in
 * a transaction: the lock that makes concurrent repeats one row lasts until it ends.
 */
export async function flagMessage(
  tx: Db,
  input: { messageId: string; userId: string; category: FlagCategory; comment?: string },
): Promise<{ row: Flag; replayed: boolean }> {
  await assistantMessage(tx, input.messageId);
  const comment = input.comment ? input.comment : null;
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`flag:${input.userId}:${input.messageId}`}))`;
  const earlier = await tx.flag.findFirst({
    where: { messageId: input.messageId, userId: input.userId, category: input.category, comment },
    orderBy: { createdAt: 'asc' },
  });
  if (earlier) return { row: earlier, replayed: true };
  const row = await tx.flag.create({
    data: { messageId: input.messageId, userId: input.userId, category: input.category, comment },
  });
  return { row, replayed: false };
}

/**
 * The reason a correction text is refused for this message, or null if it is fine: it must change
 * the answer (ignoring surrounding whitespace).
 */
export function correctionProblem(original: string, text: string): string | null {
  return text.trim() === original.trim() ? 'must differ from the original answer' : null;
}

/**
 * A user's better version of an answer; pending until a moderator decides. The same text again from
 * the same user on the same answer is the first correction (`replayed`). Call it in a transaction.
 */
export async function submitCorrection(
  tx: Db,
  input: { messageId: string; userId: string; text: string },
): Promise<{ row: Correction; replayed: boolean }> {
  const message = await assistantMessage(tx, input.messageId);
  const problem = correctionProblem(message.content, input.text);
  if (problem) throw invalidField('body.text', problem);
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`correction:${input.userId}:${input.messageId}`}))`;
  const earlier = await tx.correction.findFirst({
    where: { messageId: input.messageId, userId: input.userId, submittedText: input.text },
    orderBy: { createdAt: 'asc' },
  });
  if (earlier) return { row: earlier, replayed: true };
  const row = await tx.correction.create({
    data: {
      messageId: input.messageId,
      userId: input.userId,
      submittedText: input.text,
      correctedText: input.text,
    },
  });
  return { row, replayed: false };
}
