// Moderators and admins review what users sent: corrections (approve, edit-then-approve, reject)
// and flags (approve, reject). Only pending items can be decided.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../../platform/auth/principal.ts';
import { commonErrors, errorBody, idParams } from '../../contract/http.ts';
import { submitterTrust } from '../raters/submitter-trust.ts';
import { decideCorrection, decideFlag, listCorrectionsForReview, listFlagsForReview } from './review.ts';
import {
  approveCorrectionBody,
  correctionQueue,
  correctionReviewView,
  decisionBody,
  flagQueue,
  flagReviewView,
  listCorrectionsQuery,
  listFlagsQuery,
} from '../../contract/moderation.ts';

const tags = ['moderation'];
const decisionErrors = { ...commonErrors, 409: errorBody };

export const moderationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.moderation));
  const { prisma } = app.db;

  app.get(
    '/v1/moderation/corrections',
    {
      schema: {
        tags,
        summary: 'Corrections to review (pending by default), newest first, with the answer and its prompt',
        querystring: listCorrectionsQuery,
        response: { 200: correctionQueue, ...commonErrors },
      },
    },
    async (request) => {
      const queue = await listCorrectionsForReview(prisma, request.query);
      const trust = await submitterTrust(prisma, [...new Set(queue.corrections.map((c) => c.submitter.id))]);
      return {
        ...queue,
        corrections: queue.corrections.map((c) => ({ ...c, submitterTrust: trust.get(c.submitter.id)! })),
      };
    },
  );

  app.get(
    '/v1/moderation/flags',
    {
      schema: {
        tags,
        summary: 'Flags to review (pending by default), newest first, with the answer and its prompt',
        querystring: listFlagsQuery,
        response: { 200: flagQueue, ...commonErrors },
      },
    },
    async (request) => {
      const queue = await listFlagsForReview(prisma, request.query);
      const trust = await submitterTrust(prisma, [...new Set(queue.flags.map((f) => f.submitter.id))]);
      return {
        ...queue,
        flags: queue.flags.map((f) => ({ ...f, submitterTrust: trust.get(f.submitter.id)! })),
      };
    },
  );

  app.post(
    '/v1/moderation/corrections/:id/approve',
    {
      schema: {
        tags,
        summary: 'Approve a pending correction, optionally editing its text first',
        params: idParams,
        body: approveCorrectionBody,
        response: { 200: correctionReviewView, ...decisionErrors },
      },
    },
    async (request) => {
      const reviewerId = principalOf(request).userId;
      return prisma.$transaction((tx) =>
        decideCorrection(tx, { id: request.params.id, reviewerId, decision: 'approved', ...request.body }),
      );
    },
  );

  app.post(
    '/v1/moderation/corrections/:id/reject',
    {
      schema: {
        tags,
        summary: 'Reject a pending correction',
        params: idParams,
        body: decisionBody,
        response: { 200: correctionReviewView, ...decisionErrors },
      },
    },
    async (request) => {
      const reviewerId = principalOf(request).userId;
      return prisma.$transaction((tx) =>
        decideCorrection(tx, { id: request.params.id, reviewerId, decision: 'rejected', ...request.body }),
      );
    },
  );

  app.post(
    '/v1/moderation/flags/:id/approve',
    {
      schema: {
        tags,
        summary: 'Uphold a pending flag (the answer has the reported problem)',
        params: idParams,
        body: decisionBody,
        response: { 200: flagReviewView, ...decisionErrors },
      },
    },
    async (request) => {
      const reviewerId = principalOf(request).userId;
      return prisma.$transaction((tx) =>
        decideFlag(tx, { id: request.params.id, reviewerId, decision: 'approved', ...request.body }),
      );
    },
  );

  app.post(
    '/v1/moderation/flags/:id/reject',
    {
      schema: {
        tags,
        summary: 'Dismiss a pending flag',
        params: idParams,
        body: decisionBody,
        response: { 200: flagReviewView, ...decisionErrors },
      },
    },
    async (request) => {
      const reviewerId = principalOf(request).userId;
      return prisma.$transaction((tx) =>
        decideFlag(tx, { id: request.params.id, reviewerId, decision: 'rejected', ...request.body }),
      );
    },
  );
};
