// Stage 4: complete the candidate's report with its win rate against the active version (from the
// two reports' per-item scores) and the feedback-side flag rate of both versions.
import { UnrecoverableError } from 'bullmq';
import type { Db } from '../../platform/db/client.ts';
import type { LoopRun } from '../../generated/prisma/client.ts';
import { activeModelVersion } from '../../serving/active-version.ts';
import { winRate } from '../../evaluation/win-rate.ts';
import { EvaluationReportSchema, type FlagRates, type VersionFlagRate } from '../../contract/evaluation.ts';
import { toJson } from '../../platform/db/json.ts';
import type { LoopContext } from '../context.ts';
import { log, updateRun } from '../pipeline.ts';
import { evaluationKey, findReport } from './evaluate.handler.ts';

/**
 * The share of a version's answers flagged harmful_or_biased (flags a moderator rejected do not
 * count). Only answers the version served count as its answers.
 */
export async function harmfulFlagRate(db: Db, modelVersionId: string): Promise<VersionFlagRate> {
  const [answers, flagged] = await Promise.all([
    db.message.count({ where: { modelVersionId, role: 'assistant', author: 'served' } }),
    db.message.count({
      where: {
        modelVersionId,
        role: 'assistant',
        author: 'served',
        flags: { some: { category: 'harmful_or_biased', status: { not: 'rejected' } } },
      },
    }),
  ]);
  return { flagged, answers, rate: answers === 0 ? null : flagged / answers };
}

export async function completeReport(ctx: LoopContext, run: LoopRun): Promise<void> {
  if (!run.candidateVersionId) throw new UnrecoverableError('the run has no candidate version');
  const key = evaluationKey(ctx.config, run.datasetId);
  const candidateRow = await findReport(ctx, run.candidateVersionId, key, run.id);
  if (!candidateRow) throw new UnrecoverableError('the candidate has no evaluation report');
  const active = await activeModelVersion(ctx.prisma);
  const activeRow =
    active && active.id !== run.candidateVersionId ? await findReport(ctx, active.id, key) : null;

  const win = activeRow
    ? winRate(
        EvaluationReportSchema.parse(candidateRow.report),
        EvaluationReportSchema.parse(activeRow.report),
      )
    : null;
  const flagRate: FlagRates = {
    candidate: await harmfulFlagRate(ctx.prisma, run.candidateVersionId),
    active: active ? { versionId: active.id, ...(await harmfulFlagRate(ctx.prisma, active.id)) } : null,
  };
  await ctx.prisma.evaluationReport.update({
    where: { id: candidateRow.id },
    data: {
      comparedWithVersionId: activeRow ? activeRow.modelVersionId : null,
      winRate: win ? toJson(win) : undefined,
      flagRate: toJson(flagRate),
    },
  });
  await updateRun(ctx, run.id, { reportId: candidateRow.id });
  await log(
    ctx,
    run.id,
    'info',
    win
      ? `report: win rate ${win.winRate.toFixed(3)} against ${active!.name} (${win.wins} wins, ${win.ties} ties, ${win.losses} losses)`
      : 'report: no active version to compare with',
    { reportId: candidateRow.id },
  );
}
