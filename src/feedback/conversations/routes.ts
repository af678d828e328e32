// Conversations and messages. Everyone signed in keeps their own conversations; moderators, ops and
// admins may also read anyone's (to review feedback). Someone else's conversation is reported as
// not found to those who may not read it, so ids do not leak.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../platform/auth/plugin.ts';
import {
  canLogModelAnswers,
  canReadAnyConversation,
  ROLE_GROUPS,
  type Principal,
} from '../../platform/auth/principal.ts';
import type { Db } from '../../platform/db/client.ts';
import type { Message } from '../../generated/prisma/client.ts';
import { AppError, forbidden, notFound } from '../../platform/errors/app-error.ts';
import { commonErrors, idParams, pageQuery } from '../../contract/http.ts';
import { feedbackSummary } from '../explicit/summary.ts';
import {
  appendMessage,
  createConversation,
  getConversationPage,
  listConversations,
  type ConversationWithMessages,
} from './conversations.ts';
import {
  appendMessageBody,
  conversationPage,
  conversationMessagesQuery,
  conversationPageView,
  conversationView,
  createConversationBody,
  messageDetailView,
  messageView,
} from '../../contract/conversations.ts';

const tags = ['chat'];

/** The wire form of a message: params is always a JSON object (or null) because only objects are stored. */
function messageOut<M extends Message>(
  message: M,
): Omit<M, 'params'> & { params: Record<string, unknown> | null } {
  const { params } = message;
  return {
    ...message,
    params: params !== null && typeof params === 'object' && !Array.isArray(params) ? params : null,
  };
}

const conversationOut = (conversation: ConversationWithMessages) => ({
  ...conversation,
  messages: conversation.messages.map(messageOut),
});

/**
 * Answers of an arena battle not voted on yet are blind: their version stays hidden until the vote
 * (the arena's own responses name the versions only after it), so a conversation or message read
 * cannot tell the voter which side is which.
 */
async function blindUnvotedArenaAnswers<M extends { id: string; modelVersionId: string | null }>(
  db: Db,
  messages: M[],
): Promise<M[]> {
  const ids = messages.filter((m) => m.modelVersionId).map((m) => m.id);
  if (!ids.length) return messages;
  const battles = await db.arenaBattle.findMany({
    where: { votedAt: null, OR: [{ messageAId: { in: ids } }, { messageBId: { in: ids } }] },
    select: { messageAId: true, messageBId: true },
  });
  if (!battles.length) return messages;
  const blind = new Set(battles.flatMap((b) => [b.messageAId, b.messageBId]));
  return messages.map((m) => (blind.has(m.id) ? { ...m, modelVersionId: null } : m));
}

/**
 * Naming the model that wrote answers is the integration path for apps logging their own model's
 * exchanges (service credentials, ops, admins). Anyone else's assistant turns are their own text.
 */
function assertMayLog(principal: Principal, model: string | undefined): void {
  if (model !== undefined && !canLogModelAnswers(principal.role))
    throw new AppError(
      'forbidden',
      "Only service credentials (or ops and admins) may log a model's answers",
      [{ path: 'body.model', message: 'needs the service, ops or admin role' }],
    );
}

/** The conversation's owner, if `principal` may read it; not found otherwise. */
async function readableConversationOwner(db: Db, principal: Principal, id: string): Promise<string> {
  const conversation = await db.conversation.findUnique({ where: { id }, select: { userId: true } });
  if (!conversation) throw notFound('Conversation');
  if (conversation.userId !== principal.userId && !canReadAnyConversation(principal.role))
    throw notFound('Conversation');
  return conversation.userId;
}

export const chatRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));
  const { prisma } = app.db;

  app.post(
    '/v1/conversations',
    {
      schema: {
        tags,
        summary:
          'Start a conversation, optionally with an exchange that already happened (assistant turns are ' +
          "a person's text unless a service credential names the model that wrote them)",
        body: createConversationBody,
        response: { 201: conversationView, ...commonErrors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { model, ...body } = request.body;
      assertMayLog(principal, model);
      const conversation = await createConversation(app.db, {
        userId: principal.userId,
        ...body,
        loggedModel: model,
      });
      return reply.status(201).send(conversationOut(conversation));
    },
  );

  app.get(
    '/v1/conversations',
    {
      schema: {
        tags,
        summary: 'Your conversations, most recently active first',
        querystring: pageQuery,
        response: { 200: conversationPage, ...commonErrors },
      },
    },
    async (request) => listConversations(prisma, principalOf(request).userId, request.query),
  );

  app.get(
    '/v1/conversations/:id',
    {
      schema: {
        tags,
        summary:
          'A conversation with its messages as a tree (flat, depth-first, each with parentId), a page of messages at a time',
        params: idParams,
        querystring: conversationMessagesQuery,
        response: { 200: conversationPageView, ...commonErrors },
      },
    },
    async (request) => {
      await readableConversationOwner(prisma, principalOf(request), request.params.id);
      const conversation = await getConversationPage(prisma, request.params.id, request.query);
      if (!conversation) throw notFound('Conversation');
      const messages = await blindUnvotedArenaAnswers(prisma, conversation.messages);
      return { ...conversationOut({ ...conversation, messages }), nextCursor: conversation.nextCursor };
    },
  );

  app.post(
    '/v1/conversations/:id/messages',
    {
      schema: {
        tags,
        summary: 'Add a message; a second answer under the same parent is a regeneration',
        params: idParams,
        body: appendMessageBody,
        response: { 201: messageView, ...commonErrors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const ownerId = await readableConversationOwner(prisma, principal, request.params.id);
      // A reviewer can see the conversation exists, so they are told why they cannot write to it.
      if (ownerId !== principal.userId) throw forbidden('Only the owner may add messages to a conversation');
      const { model, ...fields }: typeof request.body & { model?: string } = request.body;
      assertMayLog(principal, model);
      const message = await appendMessage(app.db, {
        conversationId: request.params.id,
        ...fields,
        ...(model ? { author: 'logged' as const, loggedModel: model } : {}),
      });
      return reply.status(201).send(messageOut(message));
    },
  );

  app.get(
    '/v1/messages/:id',
    {
      schema: {
        tags,
        summary: 'One message with a summary of the feedback on it',
        params: idParams,
        response: { 200: messageDetailView, ...commonErrors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      await app.messageAccess.assertCanRead(principal, request.params.id);
      const [message, feedback] = await Promise.all([
        prisma.message.findUnique({ where: { id: request.params.id } }),
        feedbackSummary(prisma, request.params.id, principal.userId),
      ]);
      if (!message) throw notFound('Message');
      const [shown] = await blindUnvotedArenaAnswers(prisma, [message]);
      return { ...messageOut(shown!), feedback };
    },
  );
};
