// Stored evaluation reports as the API shows them (`GET /v1/reports`): the report itself
// (evaluation.ts), the gate's decision with every check, and the win and flag rates the loop
// recorded beside it.
import { z } from 'zod';
import { cursorQuery, isoDate, MAX_PAGE_SIZE, nextCursor, uuid } from './http.ts';
import { EvaluationReportSchema, FlagRatesSchema, GateDecisionSchema, WinRateSchema } from './evaluation.ts';

export const reportRow = z.object({
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
export type ReportRow = z.output<typeof reportRow>;

export const listReportsQuery = cursorQuery.extend({
  modelVersionId: uuid.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
});

export const reportList = z.object({ reports: z.array(reportRow), nextCursor });
export const reportResponse = z.object({ report: reportRow });
