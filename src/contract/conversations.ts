// Request and response shapes for conversations and messages.
import { z } from 'zod';
import { isoDate, nextCursor, pageCursor, uuid } from './http.ts';
import { feedbackSummaryView } from './feedback.ts';
import { samplingField } from './sampling.ts';

export const MAX_TITLE_CHARS = 200;
export const MAX_MESSAGE_CHARS = 100_000;
/** Messages accepted in one POST /v1/conversations (a logged conversation). */
export const MAX_IMPORTED_MESSAGES = 500;

export const messageRole = z.enum(['system', 'user', 'assistant']);

const content = z
  .string()
  .max(MAX_MESSAGE_CHARS)
  .refine((s) => s.trim() !== '', 'must not be empty');

const count = z.number().int().min(0).max(10_000_000);

/**
 * Sampling parameters an answer was generated with. The known ones are checked with the bounds
 * feedloop serves under (src/contract/sampling.ts); others pass through untouched, because logged
 * conversations come from models with settings of their own.
 */
export const generationParams = z
  .object({
    temperature: samplingField.temperature.optional(),
    top_k: samplingField.topK.optional(),
    top_p: samplingField.topP.optional(),
    max_tokens: samplingField.maxTokens.optional(),
    min_tokens: samplingField.minTokens.optional(),
    seed: samplingField.seed.optional(),
    stop: samplingField.stop.optional(),
  })
  .catchall(z.json())
  .describe('Sampling parameters; the known ones are checked, others are kept as sent');

/** Where the new message hangs: a message id, null for a new root, or absent for the latest branch tip. */
const parentId = uuid
  .nullable()
  .optional()
  .describe(
    'The message this one follows, in the same conversation (a second answer under one prompt is a regeneration). ' +
      'null starts a new root; omitted continues the branch that grew last (the newest message without replies).',
  );

export const messageAuthor = z
  .enum(['human', 'served', 'logged'])
  .describe(
    'Who wrote the message: a person (human), one of our model versions (served), or a model outside ' +
      'feedloop whose answers a service credential logged (logged, with loggedModel naming it). ' +
      "Only served and logged answers are a model's answers: feedback, insights and datasets ignore the rest.",
  );

/** The model that wrote logged answers: only service, ops and admin credentials may name one. */
const loggedModel = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .describe(
    'The model that wrote the assistant turns (service, ops and admin credentials only); they are stored ' +
      'as logged by it. Without it, an assistant turn is stored as written by a person.',
  );

/** Generation details only make sense on answers, so prompts carrying them are refused. */
export const appendMessageBody = z.discriminatedUnion('role', [
  z.strictObject({ role: z.enum(['system', 'user']), content, parentId }),
  z.strictObject({
    role: z.literal('assistant'),
    content,
    parentId,
    model: loggedModel.optional(),
    params: generationParams.optional(),
    latencyMs: count.optional(),
    promptTokens: count.optional(),
    completionTokens: count.optional(),
  }),
]);

export const createConversationBody = z.strictObject({
  title: z.string().trim().max(MAX_TITLE_CHARS).optional(),
  model: loggedModel.optional(),
  /** A linear exchange: each message answers the one before it. */
  messages: z
    .array(z.strictObject({ role: messageRole, content }))
    .max(MAX_IMPORTED_MESSAGES)
    .optional(),
});

export const messageView = z.object({
  id: z.string(),
  conversationId: z.string(),
  parentId: z.string().nullable(),
  role: messageRole,
  content: z.string(),
  author: messageAuthor,
  /** The model a logged answer came from, as the service credential named it. */
  loggedModel: z.string().nullable(),
  /** The version that served the answer (served answers only; nobody can set it through the API). */
  modelVersionId: z.string().nullable(),
  params: z.record(z.string(), z.unknown()).nullable(),
  latencyMs: z.number().int().nullable(),
  promptTokens: z.number().int().nullable(),
  completionTokens: z.number().int().nullable(),
  createdAt: isoDate,
});

/** A message in a conversation's tree, with where it sits among its siblings (regenerations, edits). */
export const treeMessageView = messageView.extend({
  /** 0-based position among the messages sharing its parent, oldest first. */
  siblingIndex: z.number().int(),
  siblingCount: z.number().int(),
});

export const conversationView = z.object({
  id: z.string(),
  userId: z.string(),
  title: z.string(),
  createdAt: isoDate,
  updatedAt: isoDate,
  /** Depth-first: every message comes after its parent, siblings oldest first. */
  messages: z
    .array(treeMessageView)
    .describe(
      'Every message, depth-first: each after its parent, siblings oldest first. Rebuild the tree from ' +
        'parentId; siblingIndex/siblingCount place regenerations and edits among their siblings.',
    ),
});

/** The most messages one page of a conversation holds. */
export const MAX_MESSAGES_PAGE = 1000;

/** A conversation's messages in creation order, a page at a time. */
export const conversationMessagesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_MESSAGES_PAGE).default(500),
  cursor: pageCursor.optional(),
});

/**
 * One page of a conversation: pages split the messages in creation order; within a page they are
 * depth-first, a message whose parent is on an earlier page starting a branch of its own, and
 * siblingIndex/siblingCount count every sibling, on any page.
 */
export const conversationPageView = conversationView.extend({ nextCursor });

export const conversationSummaryView = z.object({
  id: z.string(),
  title: z.string(),
  createdAt: isoDate,
  updatedAt: isoDate,
  messageCount: z.number().int(),
});

export const conversationPage = z.object({
  conversations: z.array(conversationSummaryView),
  nextCursor,
  /** The older form of nextCursor: pass as `before` to get the next page; null on the last page. */
  nextBefore: z.string().nullable(),
});

export const messageDetailView = messageView.extend({ feedback: feedbackSummaryView });

export type MessageView = z.output<typeof messageView>;
export type TreeMessageView = z.output<typeof treeMessageView>;
export type ConversationView = z.output<typeof conversationView>;
export type ConversationSummaryView = z.output<typeof conversationSummaryView>;
