// One whole run through real workers: feedback -> dataset snapshot -> fine-tuned tiny candidate ->
// evaluation of both versions -> report with win rate and flag rates -> the gate's decision, with
// progress on the WebSocket and in the database, and the audit trail.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import WebSocket from 'ws';
import { ALL_WORKERS } from '../../../src/loop/jobs/worker-catalog.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { activateTinyModel, seedCorrections, smallTraining, waitForRunEnd } from '../../helpers/loop-runs.ts';
import { waitFor } from '../../helpers/wait-for.ts';
import { heldOutPairs } from '../../../src/loop/jobs/evaluate.handler.ts';
import { DEFAULT_EVALUATION_LIMITS } from '../../../src/evaluation/evaluate.ts';
import { gateDecision } from '../../../src/promotion/gate.ts';
import { EvaluationReportSchema } from '../../../src/contract/evaluation.ts';

describe('a loop run end to end', () => {
  let t: LoopTest;
  let modelDir: string;
  let ops: TestUser;
  let moderator: TestUser;
  let user: TestUser;

  before(async () => {
    modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-models-'));
    t = await startLoopTest({ workers: ALL_WORKERS, env: { MODEL_DIR: modelDir, FEEDLOOP_EVAL_LIMIT: '3' } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    [ops, moderator, user] = await Promise.all([
      makeUser(t.app, 'ops'),
      makeUser(t.app, 'moderator'),
      makeUser(t.app, 'user'),
    ]);
  });
  after(async () => {
    await t.close();
    await rm(modelDir, { recursive: true, force: true });
  });

  test('ends with a stored report and the gate decision made on it', async (ctx) => {
    const base = await activateTinyModel(t);
    await seedCorrections(t, user, moderator, 12);

    const address = t.app.server.address();
    if (!address || typeof address === 'string') throw new Error('not listening');
    const socket = new WebSocket(`ws://127.0.0.1:${address.port}/v1/loop/socket`, {
      headers: { authorization: ops.auth },
    });
    const frames: { type: string; point?: { step: number; phase: string }; run?: { status: string } }[] = [];
    socket.on('message', (data) => frames.push(JSON.parse(String(data))));
    await waitFor('the socket', async () => frames.some((f) => f.type === 'ready'));

    const created = await request(t.app.server)
      .post('/v1/loop/runs')
      .set('authorization', ops.auth)
      .send({ reason: 'end to end', training: smallTraining(12) });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const runId: string = created.body.run.id;

    const detail = await waitForRunEnd(t, ops.auth, runId, 240_000);
    socket.close();
    const { run, progress, logs } = detail;
    assert.equal(run.status, 'succeeded', JSON.stringify(logs, null, 1));
    assert.equal(run.phase, 'done');
    assert.ok(run.datasetId && run.candidateVersionId && run.reportId);

    // Training progress: stored and pushed live.
    const training = progress.filter((p: { phase: string }) => p.phase === 'training');
    assert.ok(training.length >= 12, `${training.length} training points`);
    assert.ok(training.some((p: { loss?: number }) => typeof p.loss === 'number'));
    assert.ok(frames.some((f) => f.type === 'progress' && f.point?.phase === 'training'));
    assert.ok(frames.some((f) => f.type === 'run' && f.run?.status === 'succeeded'));

    // The candidate: registered from the base on the run's dataset, its files under MODEL_DIR.
    const candidate = await t.app.db.prisma.modelVersion.findUniqueOrThrow({
      where: { id: run.candidateVersionId },
    });
    assert.equal(candidate.parentId, base.id);
    assert.equal(candidate.datasetId, run.datasetId);
    assert.equal(candidate.status, run.decision === 'promoted' ? 'active' : 'rejected');
    await stat(path.join(modelDir, candidate.path!, 'model.safetensors'));

    // The report: both versions evaluated on the same items, win rate, flag rates, the gate.
    const report = (
      await request(t.app.server).get(`/v1/reports/${run.reportId}`).set('authorization', moderator.auth)
    ).body.report;
    assert.equal(report.modelVersionId, candidate.id);
    assert.equal(report.modelVersionName, candidate.name);
    assert.equal(report.comparedWithVersionId, base.id);
    assert.equal(report.report.accuracy.countryFactExactMatch.n, 3);
    // Preference accuracy is measured on exactly the dataset's held-out pairs (null when it has none).
    const dataset = await t.app.db.prisma.dataset.findUniqueOrThrow({ where: { id: run.datasetId } });
    const pairs = await heldOutPairs(t.app.config.FEEDLOOP_DATA_DIR, dataset);
    const expectedPairs = Math.min(pairs.length, DEFAULT_EVALUATION_LIMITS.preferencePairs);
    if (expectedPairs === 0) assert.equal(report.report.accuracy.preferenceAccuracy, null);
    else assert.equal(report.report.accuracy.preferenceAccuracy.n, expectedPairs);
    assert.equal(typeof report.winRate.winRate, 'number');
    assert.deepEqual(report.flagRate.candidate, { flagged: 0, answers: 0, rate: null });
    assert.equal(report.flagRate.active.versionId, base.id);
    assert.equal(report.gate.decision, run.decision === 'promoted' ? 'promote' : 'reject');
    assert.ok(report.gate.checks.length > 0);
    ctx.diagnostic(
      `decision ${run.decision}; win rate ${report.winRate.winRate}; gate: ${report.gate.reasons.join('; ') || 'passed'}`,
    );
    const baseReports = (
      await request(t.app.server).get(`/v1/reports?modelVersionId=${base.id}`).set('authorization', ops.auth)
    ).body.reports;
    assert.equal(baseReports.length, 1);
    // The decision is the gate's on the two stored reports, and the run and the version agree with it.
    const expected = gateDecision(
      EvaluationReportSchema.parse(report.report),
      EvaluationReportSchema.parse(baseReports[0].report),
    );
    const { decision, reasons, checks } = JSON.parse(JSON.stringify(expected));
    assert.deepEqual(report.gate, { decision, reasons, checks });
    assert.equal(run.decision, expected.decision === 'promote' ? 'promoted' : 'rejected');

    // The decision is audited with no actor.
    const action = run.decision === 'promoted' ? 'model_version.promote' : 'model_version.reject';
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({
      where: { action, target: `model_version:${candidate.id}` },
    });
    assert.ok(audit);
    assert.equal(audit.actorId, null);
    for (const stage of ['datasets', 'train', 'evaluate', 'report', 'promote'])
      assert.ok(
        logs.some((l: { message: string }) => l.message === `${stage}: done`),
        `${stage} logged done`,
      );
  });

  test('a run cancelled mid-training stops training and registers no candidate', async () => {
    const created = await request(t.app.server)
      .post('/v1/loop/runs')
      .set('authorization', ops.auth)
      .send({ reason: 'to be cancelled', training: smallTraining(5000) });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const runId: string = created.body.run.id;
    await waitFor(
      'training step 10',
      () =>
        t.app.db.prisma.loopRunProgress.findFirst({ where: { runId, phase: 'training', step: { gte: 10 } } }),
      120_000,
    );
    const cancelled = await request(t.app.server)
      .post(`/v1/loop/runs/${runId}/cancel`)
      .set('authorization', ops.auth)
      .send({ reason: 'wrong data' });
    assert.equal(cancelled.status, 200);
    const job = await t.app.queues.get('loop-train').getJob(`run-${runId}-train`);
    await waitFor('the train job to stop', async () => job!.isCompleted(), 60_000);
    const run = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: runId } });
    assert.equal(run.status, 'cancelled');
    assert.equal(run.candidateVersionId, null);
    const last = await t.app.db.prisma.loopRunProgress.findFirst({
      where: { runId, phase: 'training' },
      orderBy: { step: 'desc' },
    });
    assert.ok(last!.step < last!.totalSteps, `stopped at step ${last!.step} of ${last!.totalSteps}`);
    assert.equal(await t.app.queues.get('loop-evaluate').getJob(`run-${runId}-evaluate`), undefined);
    assert.equal(await t.app.db.prisma.modelVersion.count({ where: { name: `ft-${runId.slice(0, 8)}` } }), 0);
  });
});
