// Conversations and their message trees: the functions the chat routes and the completions code
// share. Each takes a Prisma client or a transaction.
import { randomUUID } from 'node:crypto';
import { inTransaction, type Db, type Tx } from '../db/client.ts';
import type { Conversation, Message, MessageRole, Prisma } from '../generated/prisma/client.ts';
import { AppError, notFound } from '../errors/app-error.ts';

const invalid = (path: string, message: string) =>
  new AppError('validation_failed', `Invalid ${path}: ${message}`, [{ path, message }]);

export interface NewMessage {
  /** Chosen by the caller when it must be known before the row exists (a streamed answer). */
  id?: string;
  conversationId: string;
  role: MessageRole;
  content: string;
  /**
   * The message this one follows. A message id (it must be in the same conversation; a second
   * answer under the same prompt is a regeneration), null for a new root, or undefined to continue
   * the branch that grew last (the newest message without children).
   */
  parentId?: string | null;
  modelVersionId?: string | null;
  /** Sampling parameters (temperature, top_k, top_p, max_tokens, seed, stop, ...). */
  params?: Prisma.InputJsonObject | null;
  latencyMs?: number | null;
  promptTokens?: number | null;
  completionTokens?: number | null;
}

/**
 * Adds a message to a conversation and marks the conversation as updated. Throws not_found for an
 * unknown conversation and validation_failed (path body.parentId / body.modelVersionId) for a
 * parent outside the conversation or an unregistered model version. Does not check who is asking.
 */
export async function appendMessage(db: Db, input: NewMessage): Promise<Message> {
  return inTransaction(db, async (tx) => {
    // Touching the conversation first also locks its row, so concurrent appends take turns and
    // "the latest branch tip" is well defined.
    const touched = await tx.conversation.updateMany({
      where: { id: input.conversationId },
      data: { updatedAt: new Date() },
    });
    if (touched.count === 0) throw notFound('Conversation');

    const parentId = await resolveParent(tx, input.conversationId, input.parentId);
    if (input.modelVersionId) {
      const version = await tx.modelVersion.findUnique({
        where: { id: input.modelVersionId },
        select: { id: true },
      });
      if (!version) throw invalid('body.modelVersionId', 'must be the id of a registered model version');
    }
    return tx.message.create({
      data: {
        id: input.id,
        conversationId: input.conversationId,
        parentId,
        role: input.role,
        content: input.content,
        modelVersionId: input.modelVersionId ?? null,
        params: input.params ?? undefined,
        latencyMs: input.latencyMs ?? null,
        promptTokens: input.promptTokens ?? null,
        completionTokens: input.completionTokens ?? null,
      },
    });
  });
}

async function resolveParent(
  tx: Tx,
  conversationId: string,
  parentId: string | null | undefined,
): Promise<string | null> {
  if (parentId === null) return null;
  if (parentId === undefined) {
    const tip = await tx.message.findFirst({
      where: { conversationId, children: { none: {} } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      select: { id: true },
    });
    return tip?.id ?? null;
  }
  const parent = await tx.message.findUnique({ where: { id: parentId }, select: { conversationId: true } });
  if (!parent || parent.conversationId !== conversationId)
    throw invalid('body.parentId', 'must be the id of a message in this conversation');
  return parentId;
}

export interface TreeMessage extends Message {
  siblingIndex: number;
  siblingCount: number;
}

export interface ConversationWithMessages extends Conversation {
  messages: TreeMessage[];
}

/**
 * Orders a conversation's messages depth-first (each after its parent, siblings oldest first) and
 * notes each one's place among its siblings.
 */
export function toTree(messages: readonly Message[]): TreeMessage[] {
  const sorted = [...messages].sort(
    (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id),
  );
  const children = new Map<string | null, Message[]>();
  for (const message of sorted) {
    const siblings = children.get(message.parentId);
    if (siblings) siblings.push(message);
    else children.set(message.parentId, [message]);
  }
  const out: TreeMessage[] = [];
  // An explicit stack: a long conversation is a deep tree.
  const stack: TreeMessage[] = [];
  const pushChildren = (parentId: string | null) => {
    const siblings = children.get(parentId) ?? [];
    for (let i = siblings.length - 1; i >= 0; i--) {
      stack.push({ ...siblings[i]!, siblingIndex: i, siblingCount: siblings.length });
    }
  };
  pushChildren(null);
  while (stack.length) {
    const message = stack.pop()!;
    out.push(message);
    pushChildren(message.id);
  }
  return out;
}

export async function getConversation(db: Db, id: string): Promise<ConversationWithMessages | null> {
  const conversation = await db.conversation.findUnique({ where: { id }, include: { messages: true } });
  if (!conversation) return null;
  return { ...conversation, messages: toTree(conversation.messages) };
}

/** A new conversation, optionally with a linear exchange already in it (logged from any model). */
export async function createConversation(
  db: Db,
  input: { userId: string; title?: string; messages?: ReadonlyArray<{ role: MessageRole; content: string }> },
): Promise<ConversationWithMessages> {
  return inTransaction(db, async (tx) => {
    const conversation = await tx.conversation.create({
      data: { userId: input.userId, title: input.title ?? '' },
    });
    let parentId: string | null = null;
    const rows: Prisma.MessageCreateManyInput[] = [];
    for (const message of input.messages ?? []) {
      const id = randomUUID();
      rows.push({
        id,
        conversationId: conversation.id,
        parentId,
        role: message.role,
        content: message.content,
      });
      parentId = id;
    }
    if (rows.length) await tx.message.createMany({ data: rows });
    const messages = rows.length
      ? await tx.message.findMany({ where: { conversationId: conversation.id } })
      : [];
    return { ...conversation, messages: toTree(messages) };
  });
}

export interface ConversationSummary extends Conversation {
  messageCount: number;
}

/**
 * One user's conversations, most recently active first. `before` is the id of the last
 * conversation of the previous page (keyset pagination on updatedAt, id); a conversation that
 * gets a new message between two page loads moves to the top, so it may show up twice.
 */
export async function listConversations(
  db: Db,
  userId: string,
  page: { limit: number; before?: string },
): Promise<{ conversations: ConversationSummary[]; nextBefore: string | null }> {
  let where: Prisma.ConversationWhereInput = { userId };
  if (page.before) {
    const cursor = await db.conversation.findFirst({
      where: { id: page.before, userId },
      select: { id: true, updatedAt: true },
    });
    if (!cursor) throw invalid('querystring.before', 'must be the id of one of your conversations');
    where = {
      userId,
      OR: [{ updatedAt: { lt: cursor.updatedAt } }, { updatedAt: cursor.updatedAt, id: { lt: cursor.id } }],
    };
  }
  const rows = await db.conversation.findMany({
    where,
    orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
    take: page.limit + 1,
    include: { _count: { select: { messages: true } } },
  });
  const more = rows.length > page.limit;
  const conversations = rows
    .slice(0, page.limit)
    .map(({ _count, ...conversation }) => ({ ...conversation, messageCount: _count.messages }));
  return { conversations, nextBefore: more ? (conversations.at(-1)?.id ?? null) : null };
}
