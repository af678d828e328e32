// OpenAI-compatible completions: `POST /v1/chat/completions` (with `stream: true` as server-sent
// events ending in `data: [DONE]`) and `GET /v1/models`. Existing OpenAI clients work by pointing
// their base URL at feedloop's `/v1`. Errors here carry OpenAI's fields (type, param) as well as
// feedloop's (code, message, details).
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { toErrorBody } from '../platform/errors/error-handler.ts';
import type { GenerationOptionsInput } from '../llm/index.ts';
import { runCompletion } from './completion-service.ts';
import type { ProviderCompletion } from './providers/provider.ts';
import {
  chatCompletionBody,
  chatCompletionResponse,
  modelList,
  openAiError,
  type ChatCompletionBody,
} from '../contract/completions.ts';

const tags = ['completions'];

/** What follows a token's delta in its chunk: `chunk({ content }, null)` without the usage. */
const TOKEN_CHUNK_TAIL = ',"finish_reason":null,"logprobs":null}]}\n\n';

const OPENAI_TYPE: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'service_unavailable',
};

/** feedloop's error body with OpenAI's `type` and `param` added. */
export function toOpenAiError(error: unknown) {
  const { status, body } = toErrorBody(error);
  const details = body.error.details;
  const firstPath = Array.isArray(details) ? (details[0] as { path?: string } | undefined)?.path : undefined;
  const fromDetails = details && !Array.isArray(details) ? (details as { param?: string }).param : undefined;
  const param = fromDetails ?? firstPath?.replace(/^body\./, '') ?? null;
  const code = body.error.code === 'not_found' && param === 'model' ? 'model_not_found' : body.error.code;
  return {
    status,
    body: { error: { ...body.error, code, type: OPENAI_TYPE[status] ?? 'server_error', param } },
  };
}

function generationOptions(body: ChatCompletionBody): GenerationOptionsInput {
  const options: GenerationOptionsInput = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens != null) options.maxTokens = maxTokens;
  if (body.temperature != null) options.temperature = body.temperature;
  if (body.top_p != null) options.topP = body.top_p;
  if (body.top_k != null) options.topK = body.top_k;
  if (body.stop != null) options.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (body.seed != null) options.seed = body.seed;
  if (body.min_tokens != null) options.minTokens = body.min_tokens;
  return options;
}

/** OpenAI's usage object, when the counts are known (an upstream may not report them). */
function usageOf(completion: ProviderCompletion) {
  const { promptTokens, completionTokens } = completion;
  if (promptTokens === null || completionTokens === null) return null;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** Aborts when the client goes away before the answer is complete. */
function abortOnDisconnect(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller;
}

/** Resolves when `stream` drains or closes (a client gone never drains). */
function drained(stream: import('node:http').ServerResponse) {
  return new Promise<void>((resolve) => {
    // Already gone: 'close' has fired and will not again.
    if (stream.destroyed || !stream.writable) return resolve();
    const done = () => {
      stream.removeListener('drain', done);
      stream.removeListener('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

export const completionRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toOpenAiError(error);
    if (status >= 500) request.log.error({ err: error }, 'completion failed');
    return reply.status(status).send(body);
  });

  // Each caller sees what they may ask for: ops and admins every version; users what they would be
  // served (the active version, the split's) and versions opened to them.
  app.get(
    '/v1/models',
    { schema: { tags, response: { 200: modelList, 401: openAiError } } },
    async (request) => {
      const versions = await app.versionChoice.nameable(principalOf(request));
      return {
        object: 'list' as const,
        data: versions.map((v) => ({
          id: v.name,
          object: 'model' as const,
          created: Math.floor(v.createdAt.getTime() / 1000),
          owned_by: 'feedloop',
          status: v.status,
          provider: v.provider,
        })),
      };
    },
  );

  app.post(
    '/v1/chat/completions',
    {
      schema: {
        tags,
        description:
          'OpenAI Chat Completions. `id` in the answer is the stored message id: rate, correct or flag it with that.',
        body: chatCompletionBody,
        response: {
          200: chatCompletionResponse,
          400: openAiError,
          401: openAiError,
          404: openAiError,
          502: openAiError,
          503: openAiError,
          504: openAiError,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const principal = principalOf(request);
      const controller = abortOnDisconnect(reply);
      const common = {
        principal,
        model: body.model,
        options: generationOptions(body),
        prompt: {
          kind: 'history' as const,
          messages: body.messages.map(({ role, content }) => ({ role, content })),
          conversationId: body.conversation_id,
          parentId: body.parent_message_id,
        },
        longPrompt: 'reject' as const,
        signal: controller.signal,
      };
      const created = Math.floor(Date.now() / 1000);

      if (!body.stream) {
        const outcome = await runCompletion(app, common);
        const { completion, message, version } = outcome;
        return {
          id: message.id,
          object: 'chat.completion' as const,
          created,
          model: version.name,
          choices: [
            {
              index: 0,
              message: { role: 'assistant' as const, content: completion.text },
              finish_reason: completion.finishReason === 'length' ? ('length' as const) : ('stop' as const),
              logprobs: null,
            },
          ],
          ...(usageOf(completion) ? { usage: usageOf(completion)! } : {}),
          conversation_id: message.conversationId,
          user_message_id: outcome.userMessage.id,
          model_version_id: version.id,
        };
      }

      // Streaming: errors before the first byte still get a normal JSON error (thrown from here);
      // once the event stream has begun, an error is sent as a final `error` event.
      // Every chunk is `data: {"id", "object", "created", "model", "choices": [{"index", "delta",
      // "finish_reason", "logprobs"}], "usage"?}`; the part up to the delta is the same for the whole
      // stream, so it is serialised once, when the stream opens, not once per token.
      // A token's chunk is that head, its delta built around the serialised text, and a tail that
      // is the same for every token.
      let chunkHead = '';
      const chunk = (delta: Record<string, string>, finish: string | null, usage?: object) =>
        `${chunkHead}${JSON.stringify(delta)},"finish_reason":${JSON.stringify(finish)},"logprobs":null}]${
          usage ? `,"usage":${JSON.stringify(usage)}` : ''
        }}\n\n`;
      const tokenChunk = (content: string) =>
        `${chunkHead}{"content":${JSON.stringify(content)}}${TOKEN_CHUNK_TAIL}`;
      let opened = false;
      const open = (streamId: string, modelName: string) => {
        if (opened) return;
        opened = true;
        chunkHead = `data: {"id":${JSON.stringify(streamId)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(modelName)},"choices":[{"index":0,"delta":`;
        reply.hijack();
        reply.raw.writeHead(200, {
          ...(reply.getHeaders() as OutgoingHttpHeaders), // the security headers every response has
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          'x-request-id': request.id,
        });
        reply.raw.write(chunk({ role: 'assistant', content: '' }, null));
      };
      try {
        const outcome = await runCompletion(app, {
          ...common,
          onStart: ({ version, messageId }) => open(messageId, version.name),
          // A client reading slower than the model writes: wait for the buffer to drain (or the
          // client to leave) before the next token, so at most one chunk is buffered beyond it.
          onToken: (event) =>
            event.delta && !reply.raw.write(tokenChunk(event.delta)) ? drained(reply.raw) : undefined,
        });
        const { completion } = outcome;
        if (!reply.raw.writable) return;
        const counts = usageOf(completion);
        const usage = body.stream_options?.include_usage && counts ? counts : undefined;
        reply.raw.write(chunk({}, completion.finishReason === 'length' ? 'length' : 'stop', usage));
        reply.raw.write('data: [DONE]\n\n');
        reply.raw.end();
      } catch (err) {
        if (!opened) throw err;
        request.log.error({ err }, 'stream failed');
        if (reply.raw.writable) {
          reply.raw.write(`data: ${JSON.stringify(toOpenAiError(err).body)}\n\n`);
          reply.raw.end();
        }
      }
    },
  );
};
