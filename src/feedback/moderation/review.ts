// The moderation queues: corrections and flags with the context a moderator needs (the answer, the
// prompt it replied to, who sent it), and the decisions on them. A decision is recorded once, with
// its reviewer and reason, in the audit log of the same transaction.
import type { Db } from '../../platform/db/client.ts';
import type { FlagCategory, MessageRole, Prisma, ReviewStatus } from '../../generated/prisma/client.ts';
import { recordAudit } from '../../platform/audit/audit-log.ts';
import { AppError, forbidden, notFound } from '../../platform/errors/app-error.ts';
import { correctionProblem, invalidField } from '../explicit/feedback.ts';
import { afterKeyset, decodeCursor, pageOf, type Keyset } from '../../platform/pagination.ts';

export type Decision = 'approved' | 'rejected';

interface QueueFilter {
  status: ReviewStatus | 'all';
  modelVersionId?: string;
  limit: number;
  /** The previous page's nextCursor (newest first). */
  cursor?: string;
  /** The older form of cursor: the id of the last item of the previous page. */
  before?: string;
}

const person = { select: { id: true, email: true } } as const;
const context = {
  user: person,
  reviewer: person,
  message: {
    select: {
      id: true,
      conversationId: true,
      content: true,
      modelVersionId: true,
      createdAt: true,
      parent: { select: { id: true, role: true, content: true } },
    },
  },
} as const;

type Prompt = { id: string; role: MessageRole; content: string } | null;

/** Renames the rows' relations to what a moderator reads: submitter, message, prompt. */
function withContext<T extends { user: { id: string; email: string }; message: { parent: Prompt } }>({
  user,
  ...row
}: T) {
  const { parent, ...message } = row.message;
  const prompt: Prompt = parent;
  return { ...row, submitter: user, message, prompt };
}

const unknownCursor = () => invalidField('querystring.before', 'must be the id of an item in this list');

/** Where the page starts: after `cursor`, or after the item `before` names. */
async function startOf(
  filter: QueueFilter,
  find: (id: string) => Promise<{ id: string; createdAt: Date } | null>,
): Promise<Keyset | undefined> {
  if (filter.cursor) return decodeCursor(filter.cursor);
  if (!filter.before) return undefined;
  const item = await find(filter.before);
  if (!item) throw unknownCursor();
  return { at: item.createdAt, id: item.id };
}

function page<T extends { id: string; createdAt: Date }>(rows: T[], limit: number) {
  const { items, nextCursor } = pageOf(rows, limit, (r) => ({ at: r.createdAt, id: r.id }));
  return { items, nextCursor, nextBefore: nextCursor ? (items.at(-1)?.id ?? null) : null };
}

export async function listCorrectionsForReview(db: Db, filter: QueueFilter) {
  const where: Prisma.CorrectionWhereInput[] = [];
  if (filter.status !== 'all') where.push({ status: filter.status });
  if (filter.modelVersionId) where.push({ message: { modelVersionId: filter.modelVersionId } });
  const start = await startOf(filter, (id) =>
    db.correction.findUnique({ where: { id }, select: { id: true, createdAt: true } }),
  );
  if (start) where.push(afterKeyset(start, 'createdAt') as Prisma.CorrectionWhereInput);
  const rows = await db.correction.findMany({
    where: { AND: where },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: filter.limit + 1,
    include: context,
  });
  const { items, ...next } = page(rows, filter.limit);
  return { corrections: items.map(withContext), ...next };
}

export async function listFlagsForReview(db: Db, filter: QueueFilter & { category?: FlagCategory }) {
  const where: Prisma.FlagWhereInput[] = [];
  if (filter.status !== 'all') where.push({ status: filter.status });
  if (filter.category) where.push({ category: filter.category });
  if (filter.modelVersionId) where.push({ message: { modelVersionId: filter.modelVersionId } });
  const start = await startOf(filter, (id) =>
    db.flag.findUnique({ where: { id }, select: { id: true, createdAt: true } }),
  );
  if (start) where.push(afterKeyset(start, 'createdAt') as Prisma.FlagWhereInput);
  const rows = await db.flag.findMany({
    where: { AND: where },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: filter.limit + 1,
    include: context,
  });
  const { items, ...next } = page(rows, filter.limit);
  return { flags: items.map(withContext), ...next };
}

/** Four eyes: whoever sent an item may not decide it, however high their role. */
const ownItem = (what: string) => forbidden(`You sent this ${what}; another moderator must review it`);

const alreadyDecided = (what: string, status: ReviewStatus) =>
  new AppError('conflict', `This ${what} was already ${status}; only pending items can be decided`, {
    status,
  });

/**
 * Approves or rejects a pending correction. `text` (approve only) is the moderator's edit: it
 * becomes correctedText while submittedText keeps what the user sent. Run it in a transaction so the
 * decision and its audit entry commit together. 404 unknown id, 403 the reviewer's own correction,
 * 409 not pending.
 */
export async function decideCorrection(
  tx: Db,
  input: { id: string; reviewerId: string; decision: Decision; reason: string; text?: string },
) {
  const current = await tx.correction.findUnique({
    where: { id: input.id },
    include: { message: { select: { content: true } } },
  });
  if (!current) throw notFound('Correction');
  if (current.userId === input.reviewerId) throw ownItem('correction');
  if (current.status !== 'pending') throw alreadyDecided('correction', current.status);
  if (input.text !== undefined) {
    if (input.decision !== 'approved') throw invalidField('body.text', 'can only be given when approving');
    const problem = correctionProblem(current.message.content, input.text);
    if (problem) throw invalidField('body.text', problem);
  }
  // The status condition makes a concurrent second decision find nothing to update.
  const { count } = await tx.correction.updateMany({
    where: { id: input.id, status: 'pending' },
    data: {
      status: input.decision,
      reviewerId: input.reviewerId,
      reviewReason: input.reason,
      reviewedAt: new Date(),
      ...(input.text !== undefined ? { correctedText: input.text } : {}),
    },
  });
  if (count === 0) {
    const now = await tx.correction.findUniqueOrThrow({ where: { id: input.id }, select: { status: true } });
    throw alreadyDecided('correction', now.status);
  }
  const edited = input.text !== undefined && input.text !== current.correctedText;
  await recordAudit(tx, {
    actorId: input.reviewerId,
    action: input.decision === 'approved' ? 'correction.approve' : 'correction.reject',
    target: `correction:${input.id}`,
    details: { reason: input.reason, messageId: current.messageId, edited },
  });
  return withContext(await tx.correction.findUniqueOrThrow({ where: { id: input.id }, include: context }));
}

/**
 * Approves (the report was right) or rejects a pending flag, audited. Run it in a transaction.
 * 404 unknown id, 403 the reviewer's own flag, 409 not pending.
 */
export async function decideFlag(
  tx: Db,
  input: { id: string; reviewerId: string; decision: Decision; reason: string },
) {
  const sender = await tx.flag.findUnique({ where: { id: input.id }, select: { userId: true } });
  if (!sender) throw notFound('Flag');
  if (sender.userId === input.reviewerId) throw ownItem('flag');
  const { count } = await tx.flag.updateMany({
    where: { id: input.id, status: 'pending' },
    data: {
      status: input.decision,
      reviewerId: input.reviewerId,
      reviewReason: input.reason,
      reviewedAt: new Date(),
    },
  });
  if (count === 0) {
    const current = await tx.flag.findUnique({ where: { id: input.id }, select: { status: true } });
    if (!current) throw notFound('Flag');
    throw alreadyDecided('flag', current.status);
  }
  const flag = await tx.flag.findUniqueOrThrow({ where: { id: input.id }, include: context });
  await recordAudit(tx, {
    actorId: input.reviewerId,
    action: input.decision === 'approved' ? 'flag.approve' : 'flag.reject',
    target: `flag:${input.id}`,
    details: { reason: input.reason, messageId: flag.messageId, category: flag.category },
  });
  return withContext(flag);
}
