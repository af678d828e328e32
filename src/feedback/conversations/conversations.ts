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
import { afterKeyset, decodeCursor, pageOf } from '../../platform/pagination.ts';

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

/** Creation order: oldest first, ties by id. */
const byCreation = (a: Pick<Message, 'createdAt' | 'id'>, b: Pick<Message, 'createdAt' | 'id'>) =>
  a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id);

/**
 * Orders a conversation's messages depth-first (each after its parent, siblings oldest first) and
 * notes each one's place among its siblings. A message whose parent is not among `messages` (on an
 * earlier page) starts a branch of its own, after the roots.
 */
export function toTree(messages: readonly Message[]): TreeMessage[] {
  const sorted = [...messages].sort(byCreation);
  const present = new Set(sorted.map((m) => m.id));
  const children = new Map<string | null, Message[]>();
  const orphans: Message[] = [];
  for (const message of sorted) {
    if (message.parentId !== null && !present.has(message.parentId)) orphans.push(message);
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
  const drain = () => {
    while (stack.length) {
      const message = stack.pop()!;
      out.push(message);
      pushChildren(message.id);
    }
  };
  pushChildren(null);
  drain();
  for (const orphan of orphans) {
    const siblings = children.get(orphan.parentId)!;
    stack.push({ ...orphan, siblingIndex: siblings.indexOf(orphan), siblingCount: siblings.length });
    drain();
  }
  return out;
}

export async function getConversation(db: Db, id: string): Promise<ConversationWithMessages | null> {
  const conversation = await db.conversation.findUnique({ where: { id }, include: { messages: true } });
  if (!conversation) return null;
  return { ...conversation, messages: toTree(conversation.messages) };
}

/**
 * One page of a conversation: `limit` messages in creation order after `cursor`, arranged as a
 * tree (toTree). When the page is not the whole conversation, sibling positions are counted over
 * every sibling of the page's messages (one more bounded query), so the chat can still say "2 of 3".
 */
export async function getConversationPage(
  db: Db,
  id: string,
  page: { limit: number; cursor?: string },
): Promise<(ConversationWithMessages & { nextCursor: string | null }) | null> {
  const key = page.cursor ? decodeCursor(page.cursor) : undefined;
  const conversation = await db.conversation.findUnique({ where: { id } });
  if (!conversation) return null;
  const rows = await db.message.findMany({
    where: {
      conversationId: id,
      ...(key ? (afterKeyset(key, 'createdAt', 'asc') as Prisma.MessageWhereInput) : {}),
    },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: page.limit + 1,
  });
  const { items, nextCursor } = pageOf(rows, page.limit, (m) => ({ at: m.createdAt, id: m.id }));
  const messages = toTree(items);
  if (key || nextCursor) {
    const parentIds = [...new Set(items.map((m) => m.parentId).filter((p) => p !== null))];
    const siblings = await db.message.findMany({
      where: {
        conversationId: id,
        OR: [
          { parentId: { in: parentIds } },
          ...(items.some((m) => m.parentId === null) ? [{ parentId: null }] : []),
        ],
      },
      select: { id: true, parentId: true, createdAt: true },
    });
    const groups = new Map<string | null, typeof siblings>();
    for (const s of siblings.sort(byCreation)) groups.set(s.parentId, [...(groups.get(s.parentId) ?? []), s]);
    for (const m of messages) {
      const group = groups.get(m.parentId) ?? [];
      m.siblingIndex = group.findIndex((s) => s.id === m.id);
      m.siblingCount = group.length;
    }
  }
  return { ...conversation, messages, nextCursor };
}

/**
 * The path from the conversation's root to `messageId` (root first), in one recursive query: the
 * history a completion continues. Empty for an unknown id. Each step up is a primary-key lookup
 * (LATERAL ... LIMIT 1): as a plain join the recursive step may be planned as a hash join over every
 * message, once per level (see contextsOf in src/feedback/feedback-stream.ts).
 */
export async function pathTo(db: Db, messageId: string): Promise<Message[]> {
  const rows = await db.$queryRaw<
    Array<{
      id: string;
      conversation_id: string;
      parent_id: string | null;
      role: MessageRole;
      content: string;
      author: MessageAuthor;
      logged_model: string | null;
      model_version_id: string | null;
      params: Prisma.JsonValue;
      latency_ms: number | null;
      prompt_tokens: number | null;
      completion_tokens: number | null;
      provider: ModelProvider | null;
      upstream_model: string | null;
      upstream_response_id: string | null;
      usage: Prisma.JsonValue;
      created_at: Date;
    }>
  >`
    WITH RECURSIVE chain AS (
      SELECT m.*, 0 AS depth FROM messages m WHERE m.id = ${messageId}::uuid
      UNION ALL
      SELECT m.*, chain.depth + 1 FROM chain
        CROSS JOIN LATERAL (SELECT * FROM messages WHERE id = chain.parent_id LIMIT 1) m)
    SELECT id::text, conversation_id::text, parent_id::text, role, content, author, logged_model,
           model_version_id::text, params, latency_ms, prompt_tokens, completion_tokens, provider,
           upstream_model, upstream_response_id, usage, created_at
      FROM chain ORDER BY depth DESC`;
  return rows.map((r) => ({
    id: r.id,
    conversationId: r.conversation_id,
    parentId: r.parent_id,
    role: r.role,
    content: r.content,
    author: r.author,
    loggedModel: r.logged_model,
    modelVersionId: r.model_version_id,
    params: r.params,
    latencyMs: r.latency_ms,
    promptTokens: r.prompt_tokens,
    completionTokens: r.completion_tokens,
    provider: r.provider,
    upstreamModel: r.upstream_model,
    upstreamResponseId: r.upstream_response_id,
    usage: r.usage,
    createdAt: r.created_at,
  }));
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
 * One user's conversations, most recently active first, keyset-paginated on (updatedAt, id):
 * `cursor` is the previous page's nextCursor (`before`, the older form, the id of its last
 * conversation). A conversation that gets a new message between two page loads moves to the top,
 * so it may show up twice.
 */
export async function listConversations(
  db: Db,
  userId: string,
  page: { limit: number; before?: string; cursor?: string },
): Promise<{ conversations: ConversationSummary[]; nextCursor: string | null; nextBefore: string | null }> {
  let where: Prisma.ConversationWhereInput = { userId };
  let key = page.cursor ? decodeCursor(page.cursor) : undefined;
  if (!key && page.before) {
    const cursor = await db.conversation.findFirst({
      where: { id: page.before, userId },
      select: { id: true, updatedAt: true },
    });
    if (!cursor) throw invalid('querystring.before', 'must be the id of one of your conversations');
    key = { at: cursor.updatedAt, id: cursor.id };
  }
  if (key) where = { userId, ...(afterKeyset(key, 'updatedAt') as Prisma.ConversationWhereInput) };
  const rows = await db.conversation.findMany({
    where,
    orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
    take: page.limit + 1,
    include: { _count: { select: { messages: true } } },
  });
  const { items, nextCursor } = pageOf(rows, page.limit, (c) => ({ at: c.updatedAt, id: c.id }));
  const conversations = items.map(({ _count, ...conversation }) => ({
    ...conversation,
    messageCount: _count.messages,
  }));
  return { conversations, nextCursor, nextBefore: nextCursor ? (conversations.at(-1)?.id ?? null) : null };
}
