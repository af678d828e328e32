// The chat UI's WebSocket (`GET /v1/chat/socket`): what a client sends (a user turn, a request for
// another answer, a cancel) and what the server sends back (start, tokens, done, errors). Several
// answers may stream at once on one socket; each message carries the client's requestId.
import { z } from 'zod';
import { uuid } from './http.ts';
import { samplingOptions } from './sampling.ts';

export const MAX_SOCKET_PROMPT_CHARS = 20_000;

const requestId = z.string().min(1).max(100);
const model = z.string().min(1).max(200).optional();
const options = samplingOptions.default({});

/** client -> server */
export const chatClientMessage = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('generate'),
    requestId,
    content: z.string().trim().min(1, 'must not be empty').max(MAX_SOCKET_PROMPT_CHARS),
    /** Continue this conversation (yours); absent starts a new one. */
    conversationId: uuid.optional(),
    /** The message the new user turn follows (defaults to the conversation's latest). */
    parentId: uuid.optional(),
    model,
    options,
  }),
  z.strictObject({
    type: z.literal('regenerate'),
    requestId,
    /** Another answer to this user message, as a sibling of the earlier ones. */
    userMessageId: uuid,
    model,
    options,
  }),
  z.strictObject({ type: z.literal('cancel'), requestId }),
]);
export type ChatClientMessage = z.input<typeof chatClientMessage>;

/** server -> client */
export const chatServerMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('started'),
    requestId: z.string(),
    conversationId: z.string(),
    userMessageId: z.string(),
    /** The answer's id: it is stored (and can be rated) once `done` arrives. */
    messageId: z.string(),
    /** The model version's name. */
    model: z.string(),
  }),
  z.object({ type: z.literal('token'), requestId: z.string(), delta: z.string() }),
  z.object({
    type: z.literal('done'),
    requestId: z.string(),
    messageId: z.string(),
    finishReason: z.enum(['stop', 'length', 'aborted']),
    /** null where an upstream version's server reported no usage. */
    usage: z.object({
      promptTokens: z.number().int().nullable(),
      completionTokens: z.number().int().nullable(),
    }),
    latencyMs: z.number().int().nullable(),
  }),
  z.object({
    type: z.literal('error'),
    /** null when the message could not be read far enough to know its requestId. */
    requestId: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  }),
]);
export type ChatServerMessage = z.output<typeof chatServerMessage>;
