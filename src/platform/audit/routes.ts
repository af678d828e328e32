// The audit log for ops and admins: newest first, optionally one action.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLE_GROUPS } from '../auth/principal.ts';
import { commonErrors, isoDate } from '../../contract/http.ts';

const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  action: z.string().trim().min(1).max(100).optional(),
});

const auditList = z.object({
  entries: z.array(
    z.object({
      id: z.string(),
      actorId: z.string().nullable(),
      actorEmail: z.string().nullable(),
      action: z.string(),
      target: z.string(),
      details: z.unknown(),
      createdAt: isoDate,
    }),
  ),
});

export const auditRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.operations));

  app.get(
    '/v1/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'Audit log entries, newest first',
        querystring: auditQuery,
        response: { 200: auditList, ...commonErrors },
      },
    },
    async (request) => {
      const rows = await app.db.prisma.auditLogEntry.findMany({
        where: request.query.action ? { action: request.query.action } : {},
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: request.query.limit,
        include: { actor: { select: { email: true } } },
      });
      return {
        entries: rows.map(({ actor, ...row }) => ({ ...row, actorEmail: actor?.email ?? null })),
      };
    },
  );
};
