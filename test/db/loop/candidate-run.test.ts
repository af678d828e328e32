// A model trained elsewhere comes back through the gate: import a hub-style folder, then start a
// run with {candidate}: it skips the datasets and train stages and evaluates, reports and gates the
// imported version against the active one, with the same reports and audit as any run.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { ALL_WORKERS } from '../../../src/loop/jobs/worker-catalog.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { errorPaths } from '../../helpers/conversations.ts';
import { writeHubStyleFolder } from '../../helpers/hf.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { activateTinyModel, waitForRunEnd } from '../../helpers/loop-runs.ts';

describe('a run given an imported candidate', () => {
  let t: LoopTest;
  let modelDir: string;
  let ops: TestUser;

  before(async () => {
    modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-models-'));
    t = await startLoopTest({ workers: ALL_WORKERS, env: { MODEL_DIR: modelDir, FEEDLOOP_EVAL_LIMIT: '3' } });
    ops = await makeUser(t.app, 'ops');
  });
  after(async () => {
    await t.close();
    await rm(modelDir, { recursive: true, force: true });
  });

  const api = () => request(t.app.server);
  const startRun = (body: Record<string, unknown>) =>
    api().post('/v1/loop/runs').set('authorization', ops.auth).send(body);

  test('skips datasets and train, and reaches the gate with a report against the active version', async () => {
    const base = await activateTinyModel(t);
    await mkdir(path.join(modelDir, 'incoming', 'from-gpu'), { recursive: true });
    writeHubStyleFolder({ seed: 31 }, path.join(modelDir, 'incoming', 'from-gpu'));
    const imported = await api()
      .post('/v1/model-versions/import')
      .set('authorization', ops.auth)
      .send({ from: 'from-gpu', name: 'from-gpu', reason: 'trained with TRL elsewhere' });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    const cursorBefore = (await t.app.db.prisma.loopSchedule.findUnique({ where: { id: 1 } }))?.lastRunCursor;

    const created = await startRun({ candidate: 'from-gpu', reason: 'external candidate' });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    assert.equal(created.body.run.evaluateOnly, true);
    assert.equal(created.body.run.candidateVersionId, imported.body.id);
    const runId: string = created.body.run.id;

    const detail = await waitForRunEnd(t, ops.auth, runId, 180_000);
    const { run, logs, progress } = detail;
    assert.equal(run.status, 'succeeded', JSON.stringify(logs, null, 1));
    assert.equal(run.datasetId, null);
    assert.ok(run.reportId);
    const messages: string[] = logs.map((l: { message: string }) => l.message);
    assert.ok(messages.includes('datasets and train skipped: the run evaluates from-gpu'));
    assert.ok(
      !messages.some((m) => m.startsWith('datasets:') || m.startsWith('train:')),
      messages.join('\n'),
    );
    for (const stage of ['evaluate', 'report', 'promote'])
      assert.ok(messages.includes(`${stage}: done`), `${stage}: done in ${messages.join('\n')}`);
    assert.ok(!progress.some((p: { phase: string }) => p.phase === 'training'));
    assert.equal(await t.app.db.prisma.dataset.count(), 0);

    // The report compares the imported version with the active one, and the gate decided on it.
    const report = await t.app.db.prisma.evaluationReport.findUniqueOrThrow({ where: { id: run.reportId } });
    assert.equal(report.modelVersionId, imported.body.id);
    assert.equal(report.comparedWithVersionId, base.id);
    const gate = report.gate as { decision: string; checks: unknown[] };
    assert.equal(gate.decision, run.decision === 'promoted' ? 'promote' : 'reject');
    assert.ok(gate.checks.length > 0);
    const version = await t.app.db.prisma.modelVersion.findUniqueOrThrow({ where: { id: imported.body.id } });
    assert.equal(version.status, run.decision === 'promoted' ? 'active' : 'rejected');
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({
      where: {
        target: `model_version:${imported.body.id}`,
        action: { in: ['model_version.promote', 'model_version.reject'] },
      },
    });
    assert.equal(audit?.actorId, null);
    // A run that trains nothing consumes no feedback: the threshold's cursor did not move.
    const cursorAfter = (await t.app.db.prisma.loopSchedule.findUnique({ where: { id: 1 } }))?.lastRunCursor;
    assert.deepEqual(cursorAfter, cursorBefore);

    // Decided: the same version cannot face the gate again.
    const again = await startRun({ candidate: 'from-gpu' });
    assert.equal(again.status, 409);
  });

  test('an unknown candidate, or one with training overrides, is a 400 naming the field', async () => {
    const unknown = await startRun({ candidate: 'no-such-version', reason: 'r' });
    assert.equal(unknown.status, 400);
    assert.deepEqual(errorPaths(unknown.body), ['body.candidate']);
    const mixed = await startRun({ candidate: 'no-such-version', training: { batchSize: 2 } });
    assert.equal(mixed.status, 400);
    assert.deepEqual(errorPaths(mixed.body), ['body.training']);
    const bad = await startRun({ candidate: 'has space' });
    assert.equal(bad.status, 400);
    assert.deepEqual(errorPaths(bad.body), ['body.candidate']);
  });
});
