// The chat UI's WebSocket (`GET /v1/chat/socket`): send a user turn, get the answer token by
// token, cancel it, or ask for another answer to the same prompt. Several answers may stream at
// once on one socket; each is tagged with the client's requestId. The messages in both directions
// are the contract's chatClientMessage and chatServerMessage (src/contract/chat-socket.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { principalOf } from '../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { checkSocketOrigin, guardSocket } from '../platform/auth/socket-guard.ts';
import { AppError } from '../platform/errors/app-error.ts';
import { toErrorBody } from '../platform/errors/error-handler.ts';
import {
  findUnstorableText,
  jsonNestedDeeperThan,
  tooDeepError,
  unstorableTextError,
} from '../platform/errors/input-text.ts';
import { chatClientMessage, type ChatServerMessage } from '../contract/chat-socket.ts';
import { withStopList } from '../contract/sampling.ts';
import { runCompletion, type CompletionRequest } from './completion-service.ts';

export const chatSocketRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));

  app.get(
    '/v1/chat/socket',
    { websocket: true, onRequest: checkSocketOrigin, schema: { tags: ['completions'], hide: true } },
    (socket, request) => {
      principalOf(request); // signed in (the hook above); the guard re-checks from here on
      const guard = guardSocket(request, socket, ROLE_GROUPS.anyUser);
      const running = new Map<string, AbortController>();
      const send = (message: ChatServerMessage) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
      };
      const fail = (id: string | null, err: unknown) => {
        const { status, body } = toErrorBody(err);
        if (status >= 500) request.log.error({ err }, 'chat socket request failed');
        send({ type: 'error', requestId: id, ...body });
      };

      socket.on('message', (data) => {
        let parsed: z.output<typeof chatClientMessage>;
        try {
          const text = String(data);
          if (jsonNestedDeeperThan(text)) return fail(null, tooDeepError());
          const json: unknown = JSON.parse(text);
          // The HTTP rule for text Postgres cannot store (NUL, lone surrogates): a 400 naming the field.
          const unstorable = findUnstorableText(json, []);
          if (unstorable) {
            const requestId = (json as { requestId?: unknown }).requestId;
            const id =
              typeof requestId === 'string' && !unstorable.path.startsWith('requestId') ? requestId : null;
            return fail(id, unstorableTextError(unstorable));
          }
          const result = chatClientMessage.safeParse(json);
          if (!result.success) {
            const details = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
            return send({
              type: 'error',
              requestId: null,
              error: {
                code: 'validation_failed',
                message: `Invalid ${details[0]?.path || 'message'}: ${details[0]?.message}`,
                details,
              },
            });
          }
          parsed = result.data;
        } catch {
          return send({
            type: 'error',
            requestId: null,
            error: { code: 'invalid_json', message: 'Messages must be JSON' },
          });
        }
        if (parsed.type === 'cancel') {
          running.get(parsed.requestId)?.abort();
          return;
        }
        if (running.has(parsed.requestId)) {
          return fail(
            parsed.requestId,
            new AppError('conflict', `requestId ${parsed.requestId} is already running`),
          );
        }
        const controller = new AbortController();
        running.set(parsed.requestId, controller);
        const id = parsed.requestId;
        const ask = parsed;
        const prompt: CompletionRequest['prompt'] =
          parsed.type === 'generate'
            ? {
                kind: 'continue',
                content: parsed.content,
                conversationId: parsed.conversationId,
                parentId: parsed.parentId,
              }
            : { kind: 'regenerate', userMessageId: parsed.userMessageId };
        // Each generation starts only if the credential still holds (the guard closes the socket if not).
        guard
          .check()
          .then((principal) => {
            if (!principal) return undefined;
            return runCompletion(app, {
              principal,
              model: ask.model,
              options: withStopList(ask.options),
              prompt,
              longPrompt: 'truncate',
              signal: controller.signal,
              onStart: ({ version, messageId, turn }) =>
                send({
                  type: 'started',
                  requestId: id,
                  conversationId: turn.conversationId,
                  userMessageId: turn.userMessageId,
                  messageId,
                  model: version.name,
                }),
              onToken: (event) => {
                if (event.delta) send({ type: 'token', requestId: id, delta: event.delta });
              },
            }).then(({ message, completion }) =>
              send({
                type: 'done',
                requestId: id,
                messageId: message.id,
                finishReason: completion.finishReason,
                usage: {
                  promptTokens: completion.promptTokens,
                  completionTokens: completion.completionTokens,
                },
                latencyMs: message.latencyMs,
              }),
            );
          })
          .catch((err) => fail(id, err))
          .finally(() => running.delete(id));
      });

      // A closed tab cancels its answers; what was generated so far is still stored.
      socket.on('close', () => {
        guard.stop();
        for (const controller of running.values()) controller.abort();
      });
    },
  );
};
