// Stored evaluation reports as the API shows them (`GET /v1/reports`): the report itself (see
// evaluation.ts for its full shape), the gate's decision with every check, and the win and flag
// rates the loop recorded beside it.
import { z } from 'zod';
import { isoDate, uuid } from './http.ts';

export const gateCheckView = z.object({
  name: z.string(),
  candidate: z.number().nullable(),
  active: z.number().nullable(),
  passed: z.boolean(),
  detail: z.string(),
});

export const gateView = z.object({
  decision: z.enum(['promote', 'reject']),
  reasons: z.array(z.string()),
  checks: z.array(gateCheckView),
});

export const reportRow = z.object({
  id: z.string(),
  modelVersionId: z.string(),
  modelVersionName: z.string(),
  comparedWithVersionId: z.string().nullable(),
  runId: z.string().nullable(),
  createdAt: isoDate,
  report: z.record(z.string(), z.unknown()),
  gate: gateView.nullable(),
  winRate: z.record(z.string(), z.unknown()).nullable(),
  flagRate: z.record(z.string(), z.unknown()).nullable(),
});
export type ReportRow = z.output<typeof reportRow>;

export const listReportsQuery = z.strictObject({
  modelVersionId: uuid.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(20),
});

export const reportList = z.object({ reports: z.array(reportRow) });
export const reportResponse = z.object({ report: reportRow });
