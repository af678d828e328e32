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
import { lockRunningRun, log, type StageOutcome } from '../pipeline.ts';
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
  const decision = gate.decision === 'promote' ? 'promoted' : 'rejected';
  // Under the run's lock and only while it runs: a cancel lands before the decision (nothing is
  // promoted) or after it is recorded on the run (then the cancel is refused: the run has decided).
  await ctx.prisma.$transaction(async (tx) => {
    await lockRunningRun(tx, run.id);
    if (gate.decision === 'promote') {
      await activateModelVersion(tx, {
        id: candidate.id,
        actorId: null,
        reason: `loop run ${run.id} passed the gate`,
        action: 'model_version.promote',
        details,
      });
    } else {
      await rejectModelVersion(tx, {
        id: candidate.id,
        actorId: null,
        reason: `loop run ${run.id} failed the gate: ${gate.reasons.join('; ')}`,
        details,
      });
    }
    await tx.loopRun.update({ where: { id: run.id }, data: { decision } });
  });
  await log(
    ctx,
    run.id,
    'info',
    `gate: ${decision} ${candidate.name}${gate.reasons.length ? `: ${gate.reasons.join('; ')}` : ''}`,
  );
  return { finish: { decision } };
}
