// The OpenAI Chat Completions request and response, as feedloop accepts and answers them. Fields
// OpenAI defines but feedloop does not implement are accepted only at their neutral values, so a
// client never silently gets something other than what it asked for.
import { z } from 'zod';
import { samplingField } from './sampling.ts';

const message = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().max(100_000),
  name: z.string().max(64).optional(),
});

const neutral = <T extends z.ZodType>(schema: T, ok: (v: z.output<T>) => boolean, what: string) =>
  schema.optional().refine((v) => v === undefined || v === null || ok(v as z.output<T>), {
    message: `feedloop does not support ${what}`,
  });

export const chatCompletionBody = z.strictObject({
  /** A model version name; absent or "default" means the active version. */
  model: z.string().min(1).max(200).optional(),
  messages: z.array(message).min(1, 'must hold at least one message').max(200),
  max_tokens: samplingField.maxTokens.nullish(),
  max_completion_tokens: samplingField.maxTokens.nullish(),
  temperature: samplingField.temperature.nullish(),
  top_p: samplingField.topP.nullish(),
  /** Not in OpenAI's API; common in others'. 0 turns it off. */
  top_k: samplingField.topK.nullish(),
  /** Not in OpenAI's API (vLLM has it): the answer does not end before this many tokens. */
  min_tokens: samplingField.minTokens.nullish(),
  stop: samplingField.stop.nullish(),
  seed: samplingField.seed.nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullish(),
  user: z.string().max(256).optional(),
  n: neutral(z.number().int().nullable(), (v) => v === 1, 'n other than 1'),
  frequency_penalty: neutral(z.number().nullable(), (v) => v === 0, 'frequency_penalty'),
  presence_penalty: neutral(z.number().nullable(), (v) => v === 0, 'presence_penalty'),
  logprobs: neutral(z.boolean().nullable(), (v) => v === false, 'logprobs'),
  /** feedloop: continue this conversation (yours) instead of starting a new one. */
  conversation_id: z.uuid().optional(),
  /** feedloop: the message the new user turn follows (defaults to the conversation's latest). */
  parent_message_id: z.uuid().optional(),
});
export type ChatCompletionBody = z.infer<typeof chatCompletionBody>;

const usage = z.object({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  total_tokens: z.number(),
});

export const chatCompletionResponse = z.object({
  /** The stored assistant message's id: rate it, correct it or flag it with this. */
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number(),
      message: z.object({ role: z.literal('assistant'), content: z.string() }),
      finish_reason: z.enum(['stop', 'length']),
      logprobs: z.null(),
    }),
  ),
  /** Absent when an upstream version's server reported no usage (feedloop does not guess it). */
  usage: usage.optional(),
  conversation_id: z.string(),
  user_message_id: z.string(),
  model_version_id: z.string(),
});

export const modelList = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal('model'),
      created: z.number(),
      owned_by: z.string(),
      status: z.string(),
      /** Who generates its answers: `local` (feedloop's model) or `openai` (an upstream server). */
      provider: z.enum(['local', 'openai']),
    }),
  ),
});

export const openAiError = z.object({
  error: z.object({
    code: z.string().nullable(),
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    details: z.unknown().optional(),
  }),
});
