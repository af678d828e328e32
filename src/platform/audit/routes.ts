// The audit log for ops and admins: newest first, optionally one action.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLE_GROUPS } from '../auth/principal.ts';
import { commonErrors, cursorQuery, isoDate, nextCursor } from '../../contract/http.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { afterKeyset, decodeCursor, pageOf } from '../pagination.ts';

const auditQuery = cursorQuery.extend({
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
  nextCursor,
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
      const { action, cursor, limit } = request.query;
      const where: Prisma.AuditLogEntryWhereInput[] = [];
      if (action) where.push({ action });
      if (cursor) where.push(afterKeyset(decodeCursor(cursor), 'createdAt'));
      const rows = await app.db.prisma.auditLogEntry.findMany({
        where: { AND: where },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
        include: { actor: { select: { email: true } } },
      });
      const page = pageOf(rows, limit, (r) => ({ at: r.createdAt, id: r.id }));
      return {
        entries: page.items.map(({ actor, ...row }) => ({ ...row, actorEmail: actor?.email ?? null })),
        nextCursor: page.nextCursor,
      };
    },
  );
};
