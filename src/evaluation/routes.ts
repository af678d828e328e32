// Stored evaluation reports over HTTP (the rows the loop's evaluate/report/gate stages write): read
// by moderators, ops and admins. Stored JSON is parsed with its contract schema on the way out.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { notFound } from '../platform/errors/app-error.ts';
import type {
  EvaluationReport as EvaluationReportRow,
  ModelVersion,
  Prisma,
} from '../generated/prisma/client.ts';
import { afterKeyset, decodeCursor, pageOf } from '../platform/pagination.ts';
import { commonErrors, idParams } from '../contract/http.ts';
import {
  EvaluationReportSchema,
  FlagRatesSchema,
  GateDecisionSchema,
  WinRateSchema,
} from '../contract/evaluation.ts';
import {
  listReportsQuery,
  reportList,
  reportResponse,
  type reportRow,
} from '../contract/evaluation-reports.ts';

type Row = EvaluationReportRow & { modelVersion: Pick<ModelVersion, 'name'> };

function rowView(row: Row): z.infer<typeof reportRow> {
  return {
    id: row.id,
    modelVersionId: row.modelVersionId,
    modelVersionName: row.modelVersion.name,
    comparedWithVersionId: row.comparedWithVersionId,
    runId: row.runId,
    createdAt: row.createdAt,
    report: EvaluationReportSchema.parse(row.report),
    gate: GateDecisionSchema.nullable().parse(row.gate),
    winRate: WinRateSchema.nullable().parse(row.winRate),
    flagRate: FlagRatesSchema.nullable().parse(row.flagRate),
  };
}

const include = { modelVersion: { select: { name: true } } } as const;

export const evaluationReportRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook(
    'onRequest',
    app.requireRole(...new Set([...ROLE_GROUPS.moderation, ...ROLE_GROUPS.operations])),
  );

  app.get(
    '/v1/reports',
    {
      schema: {
        tags: ['reports'],
        summary: 'Evaluation reports, newest first',
        querystring: listReportsQuery,
        response: { 200: reportList, ...commonErrors },
      },
    },
    async (request) => {
      // A page 80% down 50k reports, EXPLAIN (ANALYZE, BUFFERS): "Index Scan Backward using
      // evaluation_reports_created_at_idx ... Index Cond: (created_at <= ...)", 9 buffers (12 with a
      // version, the same index filtered).
      const { modelVersionId, cursor, limit } = request.query;
      const where: Prisma.EvaluationReportWhereInput[] = [];
      if (modelVersionId) where.push({ modelVersionId });
      if (cursor) where.push(afterKeyset(decodeCursor(cursor), 'createdAt'));
      const rows = await app.db.prisma.evaluationReport.findMany({
        where: { AND: where },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit + 1,
        include,
      });
      const page = pageOf(rows, limit, (r) => ({ at: r.createdAt, id: r.id }));
      return { reports: page.items.map(rowView), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/reports/:id',
    {
      schema: {
        tags: ['reports'],
        summary: 'One evaluation report with its gate decision',
        params: idParams,
        response: { 200: reportResponse, ...commonErrors },
      },
    },
    async (request) => {
      const row = await app.db.prisma.evaluationReport.findUnique({
        where: { id: request.params.id },
        include,
      });
      if (!row) throw notFound('Evaluation report');
      return { report: rowView(row) };
    },
  );
};
