// Stored evaluation reports over HTTP (the rows the loop's evaluate/report/gate stages write): read
// by moderators, ops and admins. Kept apart from src/reports, which is the pure evaluation library.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { notFound } from '../platform/errors/app-error.ts';
import type { EvaluationReport, ModelVersion } from '../generated/prisma/client.ts';
import { commonErrors, idParams } from '../contract/http.ts';
import {
  listReportsQuery,
  reportList,
  reportResponse,
  type reportRow,
} from '../contract/evaluation-reports.ts';

type Row = EvaluationReport & { modelVersion: Pick<ModelVersion, 'name'> };

function rowView(row: Row): z.infer<typeof reportRow> {
  return {
    id: row.id,
    modelVersionId: row.modelVersionId,
    modelVersionName: row.modelVersion.name,
    comparedWithVersionId: row.comparedWithVersionId,
    runId: row.runId,
    createdAt: row.createdAt,
    report: row.report as Record<string, unknown>,
    gate: row.gate as z.infer<typeof reportRow>['gate'],
    winRate: row.winRate as Record<string, unknown> | null,
    flagRate: row.flagRate as Record<string, unknown> | null,
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
      const rows = await app.db.prisma.evaluationReport.findMany({
        where: request.query.modelVersionId ? { modelVersionId: request.query.modelVersionId } : {},
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: request.query.limit,
        include,
      });
      return { reports: rows.map(rowView) };
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
