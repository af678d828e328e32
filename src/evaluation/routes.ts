// Stored evaluation reports over HTTP (the rows the loop's evaluate/report/gate stages write): read
// by moderators, ops and admins. Stored JSON is parsed with its contract schema on the way out.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { notFound } from '../platform/errors/app-error.ts';
import type { EvaluationReport as EvaluationReportRow, ModelVersion } from '../generated/prisma/client.ts';
import { commonErrors, idParams, isoDate, uuid } from '../contract/http.ts';
import {
  EvaluationReportSchema,
  FlagRatesSchema,
  GateDecisionSchema,
  WinRateSchema,
} from '../contract/evaluation.ts';

const reportRow = z.object({
  id: z.string(),
  modelVersionId: z.string(),
  modelVersionName: z.string(),
  comparedWithVersionId: z.string().nullable(),
  runId: z.string().nullable(),
  createdAt: isoDate,
  report: EvaluationReportSchema,
  // The gate's verdict; its win rate is the row's own winRate.
  gate: GateDecisionSchema.omit({ winRate: true }).nullable(),
  winRate: WinRateSchema.nullable(),
  flagRate: FlagRatesSchema.nullable(),
});

const listQuery = z.strictObject({
  modelVersionId: uuid.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(20),
});

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
        querystring: listQuery,
        response: { 200: z.object({ reports: z.array(reportRow) }), ...commonErrors },
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
        response: { 200: z.object({ report: reportRow }), ...commonErrors },
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
