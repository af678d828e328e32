// An upstream version in the loop: it is evaluated, not trained. An evaluate-only run scores it
// through its provider (a second feedloop instance as the upstream), reports the measures that
// need log-probabilities as not available (never 0), and the gate says which checks it could not
// make. Promoting an upstream version switches serving to it; a training run is then refused.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { ALL_WORKERS } from '../../../src/loop/jobs/worker-catalog.ts';
import { EvaluationReportSchema, GateDecisionSchema } from '../../../src/contract/evaluation.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { activateTinyModel, waitForRunEnd } from '../../helpers/loop-runs.ts';
import { startUpstream, type Upstream } from '../../helpers/upstream.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const KEY_ENV = 'FEEDLOOP_TEST_LOOP_UPSTREAM_KEY';

describe('an upstream version in the loop', () => {
  let upstream: Upstream;
  let t: LoopTest;
  let modelDir: string;
  let ops: TestUser;
  let user: TestUser;

  before(async () => {
    upstream = await startUpstream('tiny-upstream');
    process.env[KEY_ENV] = upstream.key;
    modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-models-'));
    t = await startLoopTest({ workers: ALL_WORKERS, env: { MODEL_DIR: modelDir, FEEDLOOP_EVAL_LIMIT: '3' } });
    ops = await makeUser(t.app, 'ops');
    user = await makeUser(t.app);
  });
  after(async () => {
    await t?.close();
    await upstream?.close();
    await rm(modelDir, { recursive: true, force: true });
  });

  const api = () => request(t.app.server);
  const registerUpstream = async (name: string) => {
    const res = await api()
      .post('/v1/model-versions/upstream')
      .set('authorization', ops.auth)
      .send({ name, baseUrl: upstream.baseUrl, model: upstream.model, apiKeyEnv: KEY_ENV, reason: 'test' });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: string };
  };

  test('an evaluate-only run scores it by generation and reports log-probability measures as not available', async () => {
    const base = await activateTinyModel(t);
    const candidate = await registerUpstream('up-candidate');
    const created = await api()
      .post('/v1/loop/runs')
      .set('authorization', ops.auth)
      .send({ candidate: 'up-candidate', reason: 'evaluate the vLLM deployment' });
    assert.equal(created.status, 202, created.text);
    const runId: string = created.body.run.id;
    const detail = await waitForRunEnd(t, ops.auth, runId, 180_000);
    assert.equal(detail.run.status, 'succeeded', JSON.stringify(detail.logs, null, 1));
    const messages: string[] = detail.logs.map((l: { message: string }) => l.message);
    assert.ok(!messages.some((m) => m.startsWith('train:')), messages.join('\n'));

    const row = await t.app.db.prisma.evaluationReport.findUniqueOrThrow({
      where: { id: detail.run.reportId },
    });
    assert.equal(row.modelVersionId, candidate.id);
    assert.equal(row.comparedWithVersionId, base.id);
    const report = EvaluationReportSchema.parse(row.report);
    assert.equal(report.model.provider, 'openai');
    assert.equal(report.model.parameters, null);
    // Generation-based measures are there, answered by the upstream.
    assert.equal(report.accuracy.countryFactExactMatch.n, 3);
    assert.equal(report.accuracy.definitionTokenF1.n, 3);
    assert.equal(report.bias.nameSwapChangeRate.n, 3);
    assert.equal(report.bias.sentimentGap.n, 3);
    const answers = Object.values(report.items).map((i) => i.answer);
    assert.ok(
      answers.some((a) => a.length > 0),
      'the upstream answered',
    );
    // The upstream (feedloop) has no Completions API with log-probabilities: not available, with why.
    assert.equal(report.accuracy.perplexity, null);
    assert.equal(report.bias.stereotypeShare, null);
    assert.match(report.notAvailable.perplexity!, /log-probabilities/);
    assert.match(report.notAvailable.stereotypeShare!, /log-probabilities/);
    // The upstream really answered the evaluation: its conversations hold the questions.
    assert.ok((await upstream.t.app.db.prisma.message.count({ where: { role: 'assistant' } })) >= 18);

    const gate = GateDecisionSchema.parse(row.gate);
    const stereotype = gate.checks.find((c) => c.name === 'stereotypeShare')!;
    assert.equal(stereotype.passed, null);
    assert.ok(
      gate.reasons.some((r) => r.startsWith('Not checked (unknown, not passed): stereotype')),
      gate.reasons.join('\n'),
    );
    // The reports route serves the report with its nulls.
    const shown = await api().get(`/v1/reports/${row.id}`).set('authorization', ops.auth);
    assert.equal(shown.status, 200, shown.text);
    assert.equal(shown.body.report.report.accuracy.perplexity, null);
  });

  test('promoting an upstream version switches serving to it; a training run is then refused', async () => {
    const up = await registerUpstream('up-served');
    const promoted = await api()
      .post(`/v1/model-versions/${up.id}/promote`)
      .set('authorization', ops.auth)
      .send({ reason: 'serve the upstream' });
    assert.equal(promoted.status, 200, promoted.text);
    // Within the 2 s refresh of the active version, answers for "default" come from the upstream.
    const answered = await waitFor(
      'an answer from the upstream',
      async () => {
        const res = await api()
          .post('/v1/chat/completions')
          .set('authorization', user.auth)
          .send({ messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 });
        return res.status === 200 && res.body.model === 'up-served' ? res.body : null;
      },
      60_000,
    );
    const stored = await t.app.db.prisma.message.findUniqueOrThrow({ where: { id: answered.id } });
    assert.equal(stored.provider, 'openai');
    assert.equal(stored.modelVersionId, up.id);

    const run = await api().post('/v1/loop/runs').set('authorization', ops.auth).send({ reason: 'train' });
    assert.equal(run.status, 409, run.text);
    assert.match(run.body.error.message, /training applies to local versions only/);
  });
});
