// Explicit feedback from the owner of a conversation on its answers: ratings, pairwise votes,
// flags and corrections. Anyone else's message is reported as not found (messageAccess).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../../platform/auth/principal.ts';
import { notFound } from '../../platform/errors/app-error.ts';
import { commonErrors, idParams, idempotencyHeaders } from '../../contract/http.ts';
import { idempotencyKeyOf, idempotentWrite, markReplayed } from '../../platform/idempotency.ts';
import {
  flagMessage,
  rateMessage,
  recordVote,
  removeRatings,
  submitCorrection,
  toRatingOutput,
} from './feedback.ts';
import {
  MAX_CORRECTION_CHARS,
  correctionBody,
  correctionView,
  deleteRatingQuery,
  flagBody,
  flagView,
  ratingBody,
  ratingView,
  voteBody,
  voteView,
} from '../../contract/feedback.ts';

const tags = ['feedback'];

export const feedbackRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));
  const { prisma } = app.db;

  app.put(
    '/v1/messages/:id/rating',
    {
      schema: {
        tags,
        summary: 'Rate an answer (thumbs up/down, or 1 to 5 stars); rating again replaces your rating',
        params: idParams,
        body: ratingBody,
        response: { 200: ratingView, ...commonErrors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      await app.messageAccess.assertCanRate(principal, request.params.id);
      const rating = await rateMessage(prisma, {
        messageId: request.params.id,
        userId: principal.userId,
        rating: request.body,
      });
      return toRatingOutput(rating);
    },
  );

  app.delete(
    '/v1/messages/:id/rating',
    {
      schema: {
        tags,
        summary: 'Remove your rating of one kind, or all your ratings, from an answer',
        params: idParams,
        querystring: deleteRatingQuery,
        response: { 204: z.null(), ...commonErrors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await app.messageAccess.assertCanRate(principal, request.params.id);
      const removed = await removeRatings(prisma, {
        messageId: request.params.id,
        userId: principal.userId,
        kind: request.query.kind,
      });
      if (removed === 0) throw notFound('Rating');
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/votes',
    {
      schema: {
        tags,
        summary:
          'Prefer one of two answers to the same prompt: 201 for a new vote, 200 when it replaces your earlier vote on the pair',
        body: voteBody,
        response: { 200: voteView, 201: voteView, ...commonErrors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { messageAId, messageBId, choice } = request.body;
      await app.messageAccess.assertCanRate(principal, messageAId);
      await app.messageAccess.assertCanRate(principal, messageBId);
      const { vote, replaced } = await prisma.$transaction((tx) =>
        recordVote(tx, { userId: principal.userId, messageAId, messageBId, choice }),
      );
      return reply.status(replaced ? 200 : 201).send(vote);
    },
  );

  app.post(
    '/v1/messages/:id/flags',
    {
      schema: {
        tags,
        summary: 'Report a problem with an answer for moderators to review',
        params: idParams,
        headers: idempotencyHeaders,
        body: flagBody,
        response: { 201: flagView, ...commonErrors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const key = idempotencyKeyOf(request);
      await app.messageAccess.assertCanRate(principal, request.params.id);
      const { row, replayed } = await idempotentWrite(prisma, {
        userId: principal.userId,
        key,
        scope: 'POST /v1/messages/:id/flags',
        request: { params: request.params, body: request.body },
        find: (tx, id) => tx.flag.findUnique({ where: { id } }),
        create: (tx) =>
          flagMessage(tx, { messageId: request.params.id, userId: principal.userId, ...request.body }),
      });
      markReplayed(reply, replayed);
      return reply.status(201).send(row);
    },
  );

  app.post(
    '/v1/messages/:id/corrections',
    {
      schema: {
        tags,
        summary: `Suggest a better answer (at most ${MAX_CORRECTION_CHARS} characters); it waits for a moderator`,
        params: idParams,
        headers: idempotencyHeaders,
        body: correctionBody,
        response: { 201: correctionView, ...commonErrors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const key = idempotencyKeyOf(request);
      await app.messageAccess.assertCanRate(principal, request.params.id);
      const { row, replayed } = await idempotentWrite(prisma, {
        userId: principal.userId,
        key,
        scope: 'POST /v1/messages/:id/corrections',
        request: { params: request.params, body: request.body },
        find: (tx, id) => tx.correction.findUnique({ where: { id } }),
        create: (tx) =>
          submitCorrection(tx, {
            messageId: request.params.id,
            userId: principal.userId,
            text: request.body.text,
          }),
      });
      markReplayed(reply, replayed);
      return reply.status(201).send(row);
    },
  );
};
