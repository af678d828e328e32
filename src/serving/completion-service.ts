// One completion, end to end: find the model version, check the prompt fits it, store the prompt
// in a conversation while the model already answers it, stream the answer from the version's
// provider (the local worker pool or an OpenAI-compatible upstream), and store the answer as a
// message with its model version, provider, sampling parameters, latency, token counts and what an
// upstream reported. The OpenAI route and the chat WebSocket share it.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../platform/auth/principal.ts';
import { appendMessage, createConversation, pathTo } from '../feedback/conversations/conversations.ts';
import { AppError, notFound } from '../platform/errors/app-error.ts';
import type { Message, ModelVersion, Prisma } from '../generated/prisma/client.ts';
import type { ChatMessage, GenerationOptionsInput } from '../llm/index.ts';
import { samplingOptions, withStopList } from '../contract/sampling.ts';
import type { ProviderCompletion, TokenEvent } from './providers/provider.ts';

export interface CompletionRequest {
  principal: Principal;
  /** A model version name; absent or "default": the traffic split's choice, else the active one. */
  model?: string;
  /** A version already chosen for the caller (the arena picks two itself); overrides `model`. */
  version?: ModelVersion;
  options: GenerationOptionsInput;
  /**
   * - history: the whole exchange (OpenAI style), stored as a new conversation, or only its last
   *   user turn appended to `conversationId`;
   * - continue: one new user turn in `conversationId` (or a new conversation); the model sees the
   *   stored branch it follows (the chat UI);
   * - regenerate: another answer to an existing user message, stored as a sibling branch.
   */
  prompt:
    | { kind: 'history'; messages: ChatMessage[]; conversationId?: string; parentId?: string }
    | { kind: 'continue'; content: string; conversationId?: string; parentId?: string }
    | { kind: 'regenerate'; userMessageId: string };
  /**
   * What to do with a history longer than the model's context: refuse it (the API) or keep only
   * its most recent tokens (the chat UI, where old turns scroll out of the model's view).
   */
  longPrompt: 'reject' | 'truncate';
  signal?: AbortSignal;
  /**
   * Called once the prompt is accepted and generation begins, with the ids the user turn and the
   * answer will have. The user turn is being stored meanwhile: if that fails, the stream ends with
   * the error and nothing of the exchange is kept.
   */
  onStart?: (info: { version: ModelVersion; messageId: string; turn: UserTurn }) => void;
  /** May return a promise: the next token waits for it (backpressure from a slow client). */
  onToken?: (event: TokenEvent) => void | Promise<void>;
}

export interface CompletionOutcome {
  message: Message;
  userMessage: Message;
  version: ModelVersion;
  completion: ProviderCompletion;
}

/** Where the new user turn goes; its ids are chosen before it is stored. */
export interface UserTurn {
  conversationId: string;
  userMessageId: string;
}

/** What the model will see, and how to store the new user turn once the prompt is accepted. */
interface PromptPlan {
  history: ChatMessage[];
  turn: UserTurn;
  store(): Promise<Message>;
  /** Removes what store() added (the answer failed before any of it was streamed). */
  discard(): Promise<void>;
}

const asChat = (messages: Message[]): ChatMessage[] =>
  messages.map((m) => ({ role: m.role, content: m.content }));

async function assertOwnConversation(app: FastifyInstance, principal: Principal, conversationId: string) {
  const conversation = await app.db.prisma.conversation.findUnique({ where: { id: conversationId } });
  if (!conversation || conversation.userId !== principal.userId) throw notFound('Conversation');
}

/** The newest message nothing follows yet: where a turn without an explicit parent goes. */
async function latestTip(app: FastifyInstance, conversationId: string): Promise<Message | null> {
  return app.db.prisma.message.findFirst({
    where: { conversationId, children: { none: {} } },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
  });
}

async function planPrompt(app: FastifyInstance, request: CompletionRequest): Promise<PromptPlan> {
  const { principal, prompt } = request;
  const db = app.db.prisma;

  if (prompt.kind === 'regenerate') {
    await app.messageAccess.assertCanRate(principal, prompt.userMessageId);
    const chain = await pathTo(app.db.prisma, prompt.userMessageId);
    const userMessage = chain.at(-1)!;
    if (userMessage.role !== 'user') {
      throw new AppError('validation_failed', 'Only the answer to a user message can be regenerated', [
        { path: 'userMessageId', message: 'must be a user message' },
      ]);
    }
    return {
      history: asChat(chain),
      turn: { conversationId: userMessage.conversationId, userMessageId: userMessage.id },
      store: async () => userMessage,
      discard: async () => {},
    };
  }

  const userMessageId = randomUUID();
  if (prompt.kind === 'continue') {
    const { conversationId, parentId, content } = prompt;
    if (!conversationId) {
      const turn = { conversationId: randomUUID(), userMessageId };
      return {
        history: [{ role: 'user', content }],
        turn,
        store: async () => {
          const created = await createConversation(app.db, {
            id: turn.conversationId,
            userId: principal.userId,
            title: content.slice(0, 80),
            messages: [{ id: userMessageId, role: 'user', content }],
          });
          return created.messages[0]!;
        },
        discard: () => discardConversation(app, turn.conversationId),
      };
    }
    await assertOwnConversation(app, principal, conversationId);
    const parent = parentId
      ? await db.message.findFirst({ where: { id: parentId, conversationId } })
      : await latestTip(app, conversationId);
    if (parentId && !parent) {
      throw new AppError('validation_failed', 'parentId is not a message of this conversation', [
        { path: 'parentId', message: 'must be a message in the conversation' },
      ]);
    }
    const before = parent ? await pathTo(app.db.prisma, parent.id) : [];
    return {
      history: [...asChat(before), { role: 'user', content }],
      turn: { conversationId, userMessageId },
      store: () =>
        appendMessage(app.db, {
          id: userMessageId,
          conversationId,
          role: 'user',
          content,
          parentId: parent?.id ?? null,
        }),
      discard: () => discardMessage(app, userMessageId),
    };
  }

  const last = prompt.messages.at(-1)!;
  if (last.role !== 'user') {
    throw new AppError('validation_failed', 'The last message must be from the user', [
      { path: `body.messages.${prompt.messages.length - 1}.role`, message: "must be 'user'" },
    ]);
  }
  const { conversationId, parentId } = prompt;
  if (conversationId) {
    await assertOwnConversation(app, principal, conversationId);
    // Checked before the answer starts streaming: the store must not be the first to refuse it.
    if (
      parentId &&
      !(await db.message.findFirst({ where: { id: parentId, conversationId }, select: { id: true } }))
    ) {
      throw new AppError('validation_failed', 'parentId is not a message of this conversation', [
        { path: 'body.parent_message_id', message: 'must be a message in the conversation' },
      ]);
    }
    return {
      history: prompt.messages,
      turn: { conversationId, userMessageId },
      store: () =>
        appendMessage(app.db, {
          id: userMessageId,
          conversationId,
          role: 'user',
          content: last.content,
          parentId,
        }),
      discard: () => discardMessage(app, userMessageId),
    };
  }
  const turn = { conversationId: randomUUID(), userMessageId };
  return {
    history: prompt.messages,
    turn,
    store: async () => {
      // Stored as a chain whose tip is the new user turn.
      const created = await createConversation(app.db, {
        id: turn.conversationId,
        userId: principal.userId,
        title: last.content.slice(0, 80),
        messages: prompt.messages.map((m, i) =>
          i === prompt.messages.length - 1 ? { ...m, id: userMessageId } : m,
        ),
      });
      return created.messages.find((m) => m.id === userMessageId)!;
    },
    discard: () => discardConversation(app, turn.conversationId),
  };
}

async function discardConversation(app: FastifyInstance, id: string): Promise<void> {
  await app.db.prisma.conversation.deleteMany({ where: { id } });
}

async function discardMessage(app: FastifyInstance, id: string): Promise<void> {
  await app.db.prisma.message.deleteMany({ where: { id, children: { none: {} } } });
}

/** Sampling defaults by version row, parsed once: the served versions are a snapshot requests share. */
const versionDefaults = new WeakMap<ModelVersion, GenerationOptionsInput | null>();

/** A version's sampling defaults under the request's own options (the request wins). */
function effectiveOptions(version: ModelVersion, options: GenerationOptionsInput): GenerationOptionsInput {
  let defaults = versionDefaults.get(version);
  if (defaults === undefined) {
    const parsed = samplingOptions.nullable().parse(version.samplingDefaults);
    defaults = parsed ? withStopList(parsed) : null;
    versionDefaults.set(version, defaults);
  }
  return defaults ? { ...defaults, ...options } : options;
}

/**
 * A model's text as Postgres can store it and every client can decode it: a NUL byte (a random or
 * byte-level model can emit one) or a lone surrogate becomes U+FFFD, in the streamed tokens and the
 * stored answer alike, so what the client saw is what is kept.
 */
export function storableText(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- NUL is exactly what Postgres text cannot hold
    /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '\uFFFD',
  );
}

export async function runCompletion(
  app: FastifyInstance,
  request: CompletionRequest,
): Promise<CompletionOutcome> {
  // Which version answers is decided in version-choice.ts (split, active version, who may name one),
  // from what this process last read: the first token does not wait for the database to tell.
  const version = request.version ?? (await app.versionChoice.choose(request.principal, request.model));
  const provider = app.servedModels.providerOf(version);
  const plan = await planPrompt(app, request);
  await provider.prepare(version, plan.history, request.longPrompt);
  const options = effectiveOptions(version, request.options);
  const messageId = randomUUID();
  const started = performance.now();
  const stream = provider.generate(version, { messages: plan.history, options }, { signal: request.signal });
  // The answer streams while the user turn is being stored: the first token does not wait for the
  // database, and the insert runs while the upstream (or a worker thread) prepares the first token.
  // (Storing it only once the first token was passed on, tried on 2026-11-29, put every insert's
  // CPU exactly where other streams' first tokens were being written: bench:serving's added p99
  // rose from 34 to 54 ms at 8 streams.) A failed store cancels the generation and ends the stream
  // with the error, so nothing of the exchange is kept and the client is told.
  const storing = plan.store();
  storing.catch(() => stream.cancel());
  let text = '';
  let completion: ProviderCompletion;
  try {
    // A local answer starts at once. An upstream one starts when the upstream sends its first
    // token (or ends without one): until then a failure or a timeout is still an HTTP status (502,
    // 504), not an event in a stream that already said 200.
    let started = false;
    const start = () => {
      started = true;
      request.onStart?.({ version, messageId, turn: plan.turn });
    };
    if (provider.kind === 'local') start();
    const { onToken } = request;
    // Each token is handed on as the provider pushes it (no iterator, promise or copy per token);
    // a promise onToken returns (a slow client) holds the generation back.
    const result = await stream.deliver((event) => {
      if (!started) start();
      const delta = storableText(event.delta);
      text += delta;
      return onToken?.(delta === event.delta ? event : { delta });
    });
    if (!started) start();
    completion = { ...result, text: storableText(result.text) };
  } catch (err) {
    // Passing a token on may have failed rather than the generation: stop it, it has no reader.
    stream.cancel();
    // The generation failed (the upstream refused or timed out, a worker died). Before any text
    // reached the client nothing of the exchange is kept; after, the part it saw is kept, marked
    // aborted, as a cancelled answer is.
    const userMessage = await storing.catch(() => null);
    if (userMessage && text) {
      await storeAnswer(app, {
        request: { ...request, options },
        version,
        messageId,
        userMessage,
        started,
        completion: {
          text,
          finishReason: 'aborted',
          promptTokens: null,
          completionTokens: null,
          upstream: null,
        },
        error: err instanceof AppError ? err.code : 'internal',
      }).catch((storeErr: unknown) => app.log.error({ err: storeErr }, 'could not store a partial answer'));
    } else if (userMessage) {
      await plan
        .discard()
        .catch((discardErr: unknown) =>
          app.log.error({ err: discardErr }, 'could not remove the prompt of a failed answer'),
        );
    }
    throw err;
  }
  const userMessage = await storing;
  // An answer cut short by the client is still stored (marked aborted): nothing the user saw is lost.
  const message = await storeAnswer(app, {
    request: { ...request, options },
    version,
    messageId,
    userMessage,
    started,
    completion,
  });
  return { message, userMessage, version, completion };
}

async function storeAnswer(
  app: FastifyInstance,
  input: {
    request: Pick<CompletionRequest, 'options'>;
    version: ModelVersion;
    messageId: string;
    userMessage: Message;
    started: number;
    completion: ProviderCompletion;
    /** The error code when a failed generation's partial answer is kept. */
    error?: string;
  },
): Promise<Message> {
  const { completion, version } = input;
  const upstream = completion.upstream;
  return appendMessage(app.db, {
    id: input.messageId,
    conversationId: input.userMessage.conversationId,
    role: 'assistant',
    content: completion.text,
    parentId: input.userMessage.id,
    author: 'served',
    modelVersionId: version.id,
    params: {
      ...input.request.options,
      finishReason: completion.finishReason,
      ...(input.error ? { error: input.error } : {}),
    } as Prisma.InputJsonObject,
    latencyMs: Math.round(performance.now() - input.started),
    promptTokens: completion.promptTokens,
    completionTokens: completion.completionTokens,
    provider: version.provider,
    upstreamModel: upstream?.model ?? null,
    upstreamResponseId: upstream?.responseId ?? null,
    usage: (upstream?.usage ?? null) as Prisma.InputJsonObject | null,
  });
}
