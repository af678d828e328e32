// POST /v1/events: implicit signals (copies, regenerations, dwell times...) from any signed-in
// user about their own messages, in batches of up to 500.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../../platform/auth/principal.ts';
import { commonErrors, errorBody } from '../../contract/http.ts';
import { ingestEvents } from './ingest.ts';
import { MAX_EVENTS_PER_BATCH, eventBatchBody, ingestResultView } from '../../contract/events.ts';

export const eventRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));
  const deps = { messageAccess: app.messageAccess, writer: app.eventWriter };

  app.post(
    '/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Record implicit events',
        description:
          `Up to ${MAX_EVENTS_PER_BATCH} events. Each is validated on its own: a bad event is counted in ` +
          '`rejected` with its index and field path, the others are still stored. An id stored before ' +
          '(or repeated in the batch) counts as a duplicate and is not stored again. 202 means every ' +
          'accepted event is committed.',
        body: eventBatchBody,
        response: { 202: ingestResultView, 413: errorBody, 415: errorBody, ...commonErrors },
      },
    },
    async (request, reply) => {
      const result = await ingestEvents(deps, principalOf(request).userId, request.body.events);
      return reply.status(202).send(result);
    },
  );
};
