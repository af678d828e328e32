// Annotation queues over HTTP. Moderators, ops and admins create, close and watch queues; the
// queue's annotators (a role, or named users) ask for the next item, judge it or skip it. Someone
// who may neither manage nor annotate a queue does not see it (404).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../../platform/auth/plugin.ts';
import { ROLE_GROUPS, type Principal } from '../../platform/auth/principal.ts';
import { forbidden, notFound } from '../../platform/errors/app-error.ts';
import { commonErrors, errorBody, idParams } from '../../contract/http.ts';
import {
  agreementView,
  createQueueBody,
  itemParams,
  judgementBody,
  judgementResponse,
  listQueuesQuery,
  nextItemResponse,
  queueDetail,
  queueList,
  queueView,
  skipResponse,
} from '../../contract/annotation.ts';
import {
  QUEUE_MANAGERS,
  closeQueue,
  createQueue,
  getQueue,
  isQueueManager,
  listQueues,
  mayAnnotate,
  queueProgress,
  raterProgress,
  ratersProgress,
  toQueueView,
  type QueueRow,
} from './queues.ts';
import { leaseNextItem, skipItem, submitJudgement, toJudgementView } from './assignment.ts';
import { queueAgreement } from './agreement.ts';

const tags = ['annotation'];
const withConflict = { ...commonErrors, 409: errorBody };

export const annotationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));
  const managersOnly = app.requireRole(...QUEUE_MANAGERS);
  const { prisma } = app.db;

  /** The queue, if the principal may see it (managers: all; others: the queues they annotate). */
  const visibleQueue = async (principal: Principal, id: string): Promise<QueueRow> => {
    const queue = await getQueue(prisma, id);
    if (!isQueueManager(principal.role) && !mayAnnotate(queue, principal)) throw notFound('Annotation queue');
    return queue;
  };
  /** The queue, if the principal is one of its annotators. */
  const annotatedQueue = async (principal: Principal, id: string): Promise<QueueRow> => {
    const queue = await visibleQueue(principal, id);
    if (!mayAnnotate(queue, principal)) throw forbidden("You are not one of this queue's annotators");
    return queue;
  };
  const view = async (queue: QueueRow, principal: Principal) =>
    toQueueView(
      queue,
      await queueProgress(prisma, queue),
      mayAnnotate(queue, principal) ? await raterProgress(prisma, queue, principal.userId) : null,
    );
  const progressOf = async (queue: QueueRow, raterId: string) => ({
    queue: await queueProgress(prisma, queue),
    mine: await raterProgress(prisma, queue, raterId),
  });

  app.get(
    '/v1/annotation/queues',
    {
      schema: {
        tags,
        summary:
          'Annotation queues with their progress: all of them for moderators, ops and admins, the ones you annotate otherwise',
        querystring: listQueuesQuery,
        response: { 200: queueList, ...commonErrors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const page = await listQueues(prisma, principal, request.query);
      return {
        queues: await Promise.all(page.queues.map((q) => view(q, principal))),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.post(
    '/v1/annotation/queues',
    {
      onRequest: managersOnly,
      schema: {
        tags,
        summary: 'Create a queue: its items are drawn from the source at once (moderators, ops, admins)',
        body: createQueueBody,
        response: { 201: queueView, ...commonErrors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const queue = await createQueue(prisma, request.body, principal.userId);
      return reply.status(201).send(await view(queue, principal));
    },
  );

  app.get(
    '/v1/annotation/queues/:id',
    {
      schema: {
        tags,
        summary: "A queue with its progress, yours, and (for moderators, ops and admins) every rater's",
        params: idParams,
        response: { 200: queueDetail, ...commonErrors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const queue = await visibleQueue(principal, request.params.id);
      const raters = isQueueManager(principal.role) ? await ratersProgress(prisma, queue) : [];
      return { ...(await view(queue, principal)), raters };
    },
  );

  app.post(
    '/v1/annotation/queues/:id/close',
    {
      onRequest: managersOnly,
      schema: {
        tags,
        summary: 'Close a queue: no item is handed out after this (409 when already closed)',
        params: idParams,
        response: { 200: queueView, ...withConflict },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return view(await closeQueue(prisma, request.params.id, principal.userId), principal);
    },
  );

  app.post(
    '/v1/annotation/queues/:id/next',
    {
      schema: {
        tags,
        summary:
          'Lease the next item to judge (the one you hold, if any); item is null when nothing is left for you',
        params: idParams,
        body: z.strictObject({}).optional(),
        response: { 200: nextItemResponse, ...withConflict },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const queue = await annotatedQueue(principal, request.params.id);
      const item = await leaseNextItem(prisma, queue, principal.userId);
      return { item, progress: await progressOf(queue, principal.userId) };
    },
  );

  app.post(
    '/v1/annotation/queues/:id/items/:itemId/judgement',
    {
      schema: {
        tags,
        summary: 'Judge an item you hold, as the rubric asks (a 400 names a missing or unexpected field)',
        params: itemParams,
        body: judgementBody,
        response: { 201: judgementResponse, ...withConflict },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const queue = await annotatedQueue(principal, request.params.id);
      const judgement = await submitJudgement(
        prisma,
        queue,
        request.params.itemId,
        principal.userId,
        request.body,
      );
      return reply
        .status(201)
        .send({ judgement: toJudgementView(judgement), progress: await progressOf(queue, principal.userId) });
    },
  );

  app.post(
    '/v1/annotation/queues/:id/items/:itemId/skip',
    {
      schema: {
        tags,
        summary: 'Pass on an item you hold: others get it, you never see it again',
        params: itemParams,
        body: z.strictObject({}).optional(),
        response: { 200: skipResponse, ...withConflict },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const queue = await annotatedQueue(principal, request.params.id);
      await skipItem(prisma, queue, request.params.itemId, principal.userId);
      return { progress: await progressOf(queue, principal.userId) };
    },
  );

  app.get(
    '/v1/annotation/queues/:id/agreement',
    {
      onRequest: managersOnly,
      schema: {
        tags,
        summary:
          "Krippendorff's alpha per rubric dimension with a bootstrap 95% interval, and each rater's agreement with the majority of the others and standing",
        params: idParams,
        response: { 200: agreementView, ...commonErrors },
      },
    },
    async (request) => queueAgreement(prisma, await getQueue(prisma, request.params.id)),
  );
};
