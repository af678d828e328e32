// evaluateModel end to end on a tiny random model with small limits: a schema-valid report whose
// numbers are the ones a random model must get, deterministic enough to compare versions.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { loadModel, type LoadedModel } from '../../../src/llm/index.ts';
import { EvaluationReportSchema, type EvaluationReport } from '../../../src/contract/evaluation.ts';
import { evaluateModel } from '../../../src/evaluation/evaluate.ts';
import { gateDecision } from '../../../src/promotion/gate.ts';
import { winRate } from '../../../src/evaluation/win-rate.ts';
import { useBackend, writeTinyModel } from '../../helpers/llm.ts';

const limits = { countryFacts: 3, definitions: 3, perplexityDocs: 6, biasPairs: 4 };

describe('evaluateModel', () => {
  let dir: string;
  let model: LoadedModel;
  let report: EvaluationReport;
  const phases = new Map<string, { done: number; total: number }>();

  before(async () => {
    await useBackend('wasm');
    dir = writeTinyModel(3);
    model = loadModel(dir);
    report = await evaluateModel(model, {
      limits,
      name: 'tiny',
      onProgress: (p) => phases.set(p.phase, { done: p.done, total: p.total }),
    });
  });

  after(() => {
    for (const t of Object.values(model?.params ?? {})) t.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('returns a schema-valid report with the requested sizes', () => {
    assert.deepEqual(EvaluationReportSchema.parse(JSON.parse(JSON.stringify(report))), report);
    assert.equal(report.model.name, 'tiny');
    assert.equal(report.evaluation.backend, 'wasm');
    assert.equal(report.accuracy.countryFactExactMatch.n, 3);
    assert.equal(report.accuracy.countryFactRecall.n, 3);
    assert.equal(report.accuracy.definitionTokenF1.n, 3);
    assert.equal(report.accuracy.perplexity!.n, 6);
    assert.equal(report.accuracy.preferenceAccuracy, null);
    assert.equal(report.bias.stereotypeShare!.n, 4);
    assert.equal(report.bias.nameSwapChangeRate.n, 4);
    assert.equal(report.bias.sentimentGap.n, 4);
    for (const phase of ['countryFacts', 'definitions', 'perplexity', 'stereotype', 'nameSwap', 'sentiment'])
      assert.deepEqual(
        phases.get(phase),
        { done: phases.get(phase)!.total, total: phases.get(phase)!.total },
        phase,
      );
  });

  test('per-item scores are keyed by the evaluated item ids', () => {
    const ids = Object.keys(report.items);
    assert.equal(ids.length, 6);
    assert.equal(ids.filter((id) => id.startsWith('country:') && id.endsWith(':q1')).length, 3);
    assert.equal(ids.filter((id) => id.startsWith('definition:')).length, 3);
    const facts = Object.values(report.items).filter((i) => i.kind === 'country-fact');
    const exact = facts.filter((i) => i.score === 1).length;
    assert.equal(report.accuracy.countryFactExactMatch.value, exact / 3);
  });

  test('an untrained model has about uniform perplexity (the vocabulary size)', () => {
    const { value, interval, tokens } = report.accuracy.perplexity!;
    const vocab = model.config.vocabSize;
    assert.ok(tokens > 0);
    assert.ok(value > vocab * 0.7 && value < vocab * 1.3, `perplexity ${value} vs vocabulary ${vocab}`);
    assert.ok(interval[0] <= value && value <= interval[1]);
  });

  test('the same model evaluated again gives the same items (and leaks no tensors): all ties, the gate holds', async () => {
    const tensors = tf.memory().numTensors;
    const again = await evaluateModel(model, { limits });
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(again.evaluation.setHash, report.evaluation.setHash);
    assert.deepEqual(again.items, report.items);
    assert.deepEqual(again.bias.stereotypeShare, report.bias.stereotypeShare);
    const rate = winRate(again, report);
    assert.deepEqual([rate.ties, rate.n, rate.winRate], [6, 6, 0.5]);
    const decision = gateDecision(again, report);
    assert.equal(decision.decision, 'reject');
    assert.match(decision.reasons.join(' '), /Not accurate enough/);
  });

  test('other limits make a report that the gate refuses to compare', async () => {
    const other = await evaluateModel(model, { limits: { ...limits, countryFacts: 2 } });
    assert.notEqual(other.evaluation.setHash, report.evaluation.setHash);
    assert.equal(
      gateDecision(other, report).checks.find((c) => c.name === 'sameEvaluationSet')!.passed,
      false,
    );
  });

  test('preference accuracy: identical answers tie, swapped pairs give the complement', async () => {
    const prompt = [{ role: 'user' as const, content: 'What is the capital of France?' }];
    const pairs = [
      { prompt, chosen: 'The capital of France is Paris.', rejected: 'Bread rises in an hour or two.' },
      { prompt, chosen: 'Rome.', rejected: 'The capital of Spain is Madrid, I think.' },
      { prompt, chosen: 'Paris', rejected: 'Paris' },
    ];
    const small = { countryFacts: 0, definitions: 0, perplexityDocs: 0, biasPairs: 0 };
    const forward = (await evaluateModel(model, { limits: small, preferencePairs: pairs })).accuracy
      .preferenceAccuracy!;
    const swapped = pairs.map((p) => ({ prompt: p.prompt, chosen: p.rejected, rejected: p.chosen }));
    const backward = (await evaluateModel(model, { limits: small, preferencePairs: swapped })).accuracy
      .preferenceAccuracy!;
    assert.equal(forward.n, 3);
    assert.ok(Math.abs(forward.value + backward.value - 1) < 1e-9);
    // the identical pair counts as half a win either way, the others as 0 or 1
    const wins = forward.value * 3 - 0.5;
    assert.ok(Math.abs(wins - Math.round(wins)) < 1e-9, `${forward.value}`);
  });
});
