// Stage 5, the gate: compare the candidate's report with the active version's, then promote the
// candidate (it becomes the active version) or reject it with the reasons. Both are audited with
// no actor: the scheduler decided.
import { UnrecoverableError } from 'bullmq';
import type { LoopRun } from '../../generated/prisma/client.ts';
import { toJson } from '../../platform/db/json.ts';
import { activeModelVersion } from '../../serving/active-version.ts';
import { activateModelVersion, rejectModelVersion } from '../../promotion/model-versions.ts';
import { gateDecision } from '../../promotion/gate.ts';
import { EvaluationReportSchema } from '../../contract/evaluation.ts';
import type { LoopContext } from '../context.ts';
import { log, type StageOutcome } from '../pipeline.ts';
import { evaluationKey, findReport } from './evaluate.handler.ts';

export async function gateCandidate(ctx: LoopContext, run: LoopRun): Promise<StageOutcome> {
  if (!run.candidateVersionId || !run.reportId)
    throw new UnrecoverableError('the run has no candidate report');
  const candidate = await ctx.prisma.modelVersion.findUniqueOrThrow({
    where: { id: run.candidateVersionId },
  });
  // Decided by an earlier attempt that died before recording it on the run.
  if (candidate.status === 'active' || candidate.status === 'rejected') {
    return { finish: { decision: candidate.status === 'active' ? 'promoted' : 'rejected' } };
  }
  const row = await ctx.prisma.evaluationReport.findUniqueOrThrow({ where: { id: run.reportId } });
  const active = await activeModelVersion(ctx.prisma);
  const activeRow = active
    ? await findReport(ctx, active.id, evaluationKey(ctx.config, run.datasetId))
    : null;
  const gate = gateDecision(
    EvaluationReportSchema.parse(row.report),
    activeRow ? EvaluationReportSchema.parse(activeRow.report) : null,
  );
  await ctx.prisma.evaluationReport.update({
    where: { id: row.id },
    data: { gate: toJson(gate) },
  });
  const details = { runId: run.id, reportId: row.id, gate: toJson(gate) };
  if (gate.decision === 'promote') {
    await activateModelVersion(ctx.prisma, {
      id: candidate.id,
      actorId: null,
      reason: `loop run ${run.id} passed the gate`,
      action: 'model_version.promote',
      details,
    });
  } else {
    await rejectModelVersion(ctx.prisma, {
      id: candidate.id,
      actorId: null,
      reason: `loop run ${run.id} failed the gate: ${gate.reasons.join('; ')}`,
      details,
    });
  }
  const decision = gate.decision === 'promote' ? 'promoted' : 'rejected';
  await log(
    ctx,
    run.id,
    'info',
    `gate: ${decision} ${candidate.name}${gate.reasons.length ? `: ${gate.reasons.join('; ')}` : ''}`,
  );
  return { finish: { decision } };
}
