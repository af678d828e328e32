// Conversations and their message trees: the functions the chat routes and the completions code
// share.
import { randomUUID } from 'node:crypto';
import type { Database, Db } from '../../platform/db/client.ts';
import type {
  Conversation,
  Message,
  MessageAuthor,
  MessageRole,
  ModelProvider,
  Prisma,
} from '../../generated/prisma/client.ts';
import { AppError, notFound } from '../../platform/errors/app-error.ts';

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
  /**
   * Who wrote it (default human). `served` needs modelVersionId (the serving path sets both),
   * `logged` needs loggedModel; only assistant turns can be either.
   */
  author?: MessageAuthor;
  /** The model a service credential says wrote a logged answer. */
  loggedModel?: string | null;
  /** The version that served the answer: only the serving path sets it. */
  modelVersionId?: string | null;
  /** Sampling parameters (temperature, top_k, top_p, max_tokens, seed, stop, ...). */
  params?: Prisma.InputJsonObject | null;
  latencyMs?: number | null;
  promptTokens?: number | null;
  completionTokens?: number | null;
  /** Served answers: the provider that wrote it (local or an OpenAI-compatible upstream). */
  provider?: ModelProvider | null;
  /** Upstream answers: what the upstream reported (its model id, response id, usage as sent). */
  upstreamModel?: string | null;
  upstreamResponseId?: string | null;
  usage?: Prisma.InputJsonObject | null;
}

// Writing messages: every completion writes two (the user turn, then the answer), so these two
// writers use pg directly, one statement each where they can. Through Prisma the same writes took
// two transactions of four to six statements and about 7 ms of event-loop CPU per completion,
// which eight concurrent streams turned into a burst that delayed first tokens and feedback
// ingestion; one pg statement costs about 0.2 ms. Reads stay on Prisma.

/** A JS time as the UTC wall-clock time Prisma stores in `timestamp(3)` columns. */
const UTC = (param: string) => `${param}::timestamptz AT TIME ZONE 'UTC'`;

const MESSAGE_COLUMNS =
  'id, conversation_id, parent_id, role, content, author, logged_model, model_version_id, params, latency_ms, prompt_tokens, completion_tokens, provider, upstream_model, upstream_response_id, usage, created_at';

/** The provenance of a new message, checked (the database's check constraint backs it). */
function provenanceOf(input: NewMessage): {
  author: MessageAuthor;
  loggedModel: string | null;
  modelVersionId: string | null;
} {
  const author = input.author ?? 'human';
  const loggedModel = input.loggedModel ?? null;
  const modelVersionId = input.modelVersionId ?? null;
  const ok =
    (author === 'human' && !loggedModel && !modelVersionId) ||
    (author === 'served' && input.role === 'assistant' && modelVersionId && !loggedModel) ||
    (author === 'logged' && input.role === 'assistant' && loggedModel && !modelVersionId);
  if (!ok) throw new Error(`inconsistent provenance for a ${input.role} message: ${author}`);
  return { author, loggedModel, modelVersionId };
}

/**
 * Adds a message to a conversation and marks the conversation as updated. Throws not_found for an
 * unknown conversation and validation_failed (path body.parentId / body.modelVersionId) for a
 * parent outside the conversation or an unregistered model version. Does not check who is asking.
 */
export async function appendMessage(db: Database, input: NewMessage): Promise<Message> {
  const id = input.id ?? randomUUID();
  const now = new Date();
  const provenance = provenanceOf(input);
  // $1 conversation, $2 time, then the message's own columns.
  const values = [
    input.conversationId,
    now.toISOString(),
    id,
    input.role,
    input.content,
    provenance.author,
    provenance.loggedModel,
    provenance.modelVersionId,
    input.params ? JSON.stringify(input.params) : null,
    input.latencyMs ?? null,
    input.promptTokens ?? null,
    input.completionTokens ?? null,
    input.provider ?? null,
    input.upstreamModel ?? null,
    input.upstreamResponseId ?? null,
    input.usage ? JSON.stringify(input.usage) : null,
  ];
  const insert = (parent: string, from: string) => `INSERT INTO messages (${MESSAGE_COLUMNS})
SELECT $3::uuid, $1::uuid, ${parent}, $4::"MessageRole", $5, $6::"MessageAuthor", $7, $8::uuid, $9::jsonb, $10, $11, $12, $13::"ModelProvider", $14, $15, $16::jsonb, ${UTC('$2')}
FROM ${from}
RETURNING parent_id`;
  const message = (parentId: string | null): Message => ({
    id,
    conversationId: input.conversationId,
    parentId,
    role: input.role,
    content: input.content,
    ...provenance,
    params: (input.params ?? null) as Message['params'],
    latencyMs: input.latencyMs ?? null,
    promptTokens: input.promptTokens ?? null,
    completionTokens: input.completionTokens ?? null,
    provider: input.provider ?? null,
    upstreamModel: input.upstreamModel ?? null,
    upstreamResponseId: input.upstreamResponseId ?? null,
    usage: (input.usage ?? null) as Message['usage'],
    createdAt: now,
  });

  try {
    if (input.parentId !== undefined) {
      // One statement: the conversation is touched (and its row locked) only if the parent is in it.
      const parentId = input.parentId;
      const { rows } = await db.pool.query(
        `WITH touched AS (
  UPDATE conversations c SET updated_at = ${UTC('$2')}
  WHERE c.id = $1::uuid
    AND ($17::uuid IS NULL OR EXISTS (SELECT 1 FROM messages p WHERE p.id = $17::uuid AND p.conversation_id = c.id))
  RETURNING c.id
)
${insert('$17::uuid', 'touched')}`,
        [...values, parentId],
      );
      if (rows.length === 1) return message(parentId);
      if (!(await conversationExists(db, input.conversationId))) throw notFound('Conversation');
      throw invalid('body.parentId', 'must be the id of a message in this conversation');
    }
    // The latest branch tip: lock the conversation first, then read the tip in a second statement
    // (its own snapshot), so concurrent appends take turns and each sees the one before.
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const touched = await client.query(
        `UPDATE conversations SET updated_at = ${UTC('$2')} WHERE id = $1::uuid RETURNING id`,
        values.slice(0, 2),
      );
      if (touched.rowCount === 0) throw notFound('Conversation');
      const tip = `(SELECT m.id FROM messages m WHERE m.conversation_id = $1::uuid
    AND NOT EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = m.id)
  ORDER BY m.created_at DESC, m.id DESC LIMIT 1)`;
      const { rows } = await client.query<{ parent_id: string | null }>(
        insert(tip, '(SELECT 1) AS one'),
        values,
      );
      await client.query('COMMIT');
      return message(rows[0]!.parent_id);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  } catch (err) {
    if (isForeignKeyViolation(err, 'messages_model_version_id_fkey'))
      throw invalid('modelVersionId', 'must be the id of a registered model version');
    throw err;
  }
}

async function conversationExists(db: Database, id: string): Promise<boolean> {
  const { rowCount } = await db.pool.query('SELECT 1 FROM conversations WHERE id = $1::uuid', [id]);
  return rowCount === 1;
}

const isForeignKeyViolation = (err: unknown, constraint: string) =>
  (err as { code?: unknown }).code === '23503' && (err as { constraint?: unknown }).constraint === constraint;

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

/**
 * A new conversation, optionally with a linear exchange already in it: one statement, so a
 * conversation never exists without its messages. Its assistant turns are logged answers of
 * `loggedModel` when given (the caller checked the credential may log), otherwise human-authored.
 */
export async function createConversation(
  db: Database,
  input: {
    /** Chosen by the caller when it must be known before the row exists (a streamed answer). */
    id?: string;
    userId: string;
    title?: string;
    messages?: ReadonlyArray<{ id?: string; role: MessageRole; content: string }>;
    loggedModel?: string;
  },
): Promise<ConversationWithMessages> {
  const conversation: Conversation = {
    id: input.id ?? randomUUID(),
    userId: input.userId,
    title: input.title ?? '',
    createdAt: new Date(),
    updatedAt: new Date(),
  };
  conversation.updatedAt = conversation.createdAt;
  const messages: Message[] = [];
  for (const m of input.messages ?? []) {
    messages.push({
      id: m.id ?? randomUUID(),
      conversationId: conversation.id,
      parentId: messages.at(-1)?.id ?? null,
      role: m.role,
      content: m.content,
      author: m.role === 'assistant' && input.loggedModel ? 'logged' : 'human',
      loggedModel: m.role === 'assistant' && input.loggedModel ? input.loggedModel : null,
      modelVersionId: null,
      params: null,
      latencyMs: null,
      promptTokens: null,
      completionTokens: null,
      provider: null,
      upstreamModel: null,
      upstreamResponseId: null,
      usage: null,
      createdAt: conversation.createdAt,
    });
  }
  await db.pool.query(
    `WITH conversation AS (
  INSERT INTO conversations (id, user_id, title, created_at, updated_at)
  VALUES ($1::uuid, $2::uuid, $3, ${UTC('$4')}, ${UTC('$4')})
  RETURNING id
)
INSERT INTO messages (id, conversation_id, parent_id, role, content, author, logged_model, created_at)
SELECT m.id, conversation.id, m.parent_id, m.role, m.content, m.author, m.logged_model, ${UTC('$4')}
FROM conversation, unnest($5::uuid[], $6::uuid[], $7::"MessageRole"[], $8::text[], $9::"MessageAuthor"[], $10::text[])
  AS m(id, parent_id, role, content, author, logged_model)`,
    [
      conversation.id,
      conversation.userId,
      conversation.title,
      conversation.createdAt.toISOString(),
      messages.map((m) => m.id),
      messages.map((m) => m.parentId),
      messages.map((m) => m.role),
      messages.map((m) => m.content),
      messages.map((m) => m.author),
      messages.map((m) => m.loggedModel),
    ],
  );
  return { ...conversation, messages: toTree(messages) };
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
