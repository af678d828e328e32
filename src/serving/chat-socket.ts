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

// Frames waiting in a socket's send buffer beyond which the next token waits for them to go out.
const SOCKET_HIGH_WATER_BYTES = 64 * 1024;

export const chatSocketRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));
  const config = app.config;
  // Generations running per user over all their sockets to this app.
  const perUser = new Map<string, number>();

  app.get(
    '/v1/chat/socket',
    { websocket: true, onRequest: checkSocketOrigin, schema: { tags: ['completions'], hide: true } },
    (socket, request) => {
      const { userId } = principalOf(request); // signed in (the hook above); the guard re-checks from here on
      const guard = guardSocket(request, socket, ROLE_GROUPS.anyUser);
      const running = new Map<string, AbortController>();
      const send = (message: ChatServerMessage) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
      };
      /**
       * Sends a token message, serialised; when the client reads slower than the model writes,
       * waits until it is written.
       */
      const sendToken = (json: string): Promise<void> | undefined => {
        if (socket.readyState !== socket.OPEN) return undefined;
        if (socket.bufferedAmount < SOCKET_HIGH_WATER_BYTES) {
          socket.send(json);
          return undefined;
        }
        return new Promise((resolve) => socket.send(json, () => resolve()));
      };
      // Messages per minute: a token bucket refilled continuously.
      let tokens = config.FEEDLOOP_SOCKET_MESSAGES_PER_MINUTE;
      let refilledAt = performance.now();
      const takeMessageToken = () => {
        const now = performance.now();
        const perMs = config.FEEDLOOP_SOCKET_MESSAGES_PER_MINUTE / 60_000;
        tokens = Math.min(config.FEEDLOOP_SOCKET_MESSAGES_PER_MINUTE, tokens + (now - refilledAt) * perMs);
        refilledAt = now;
        if (tokens < 1) return false;
        tokens -= 1;
        return true;
      };
      const fail = (id: string | null, err: unknown) => {
        const { status, body } = toErrorBody(err);
        if (status >= 500) request.log.error({ err }, 'chat socket request failed');
        send({ type: 'error', requestId: id, ...body });
      };

      socket.on('message', (data) => {
        if (!takeMessageToken()) {
          return fail(
            null,
            new AppError(
              'rate_limited',
              `At most ${config.FEEDLOOP_SOCKET_MESSAGES_PER_MINUTE} messages a minute on one socket`,
            ),
          );
        }
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
        if (running.size >= config.FEEDLOOP_SOCKET_GENERATIONS) {
          return fail(
            parsed.requestId,
            new AppError(
              'rate_limited',
              `At most ${config.FEEDLOOP_SOCKET_GENERATIONS} answers at once on one socket; wait or cancel one`,
            ),
          );
        }
        if ((perUser.get(userId) ?? 0) >= config.FEEDLOOP_USER_GENERATIONS) {
          return fail(
            parsed.requestId,
            new AppError(
              'rate_limited',
              `At most ${config.FEEDLOOP_USER_GENERATIONS} answers at once per user; wait or cancel one`,
            ),
          );
        }
        const controller = new AbortController();
        running.set(parsed.requestId, controller);
        perUser.set(userId, (perUser.get(userId) ?? 0) + 1);
        const id = parsed.requestId;
        const tokenHead = `{"type":"token","requestId":${JSON.stringify(id)},"delta":`;
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
              // JSON.stringify({ type: 'token', requestId: id, delta }), its head serialised once.
              onToken: (event) =>
                event.delta ? sendToken(`${tokenHead}${JSON.stringify(event.delta)}}`) : undefined,
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
          .finally(() => {
            running.delete(id);
            const left = (perUser.get(userId) ?? 1) - 1;
            if (left > 0) perUser.set(userId, left);
            else perUser.delete(userId);
          });
      });

      // A closed tab cancels its answers; what was generated so far is still stored.
      socket.on('close', () => {
        guard.stop();
        for (const controller of running.values()) controller.abort();
      });
    },
  );
};
