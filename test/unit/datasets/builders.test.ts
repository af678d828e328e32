// The builders on hand-made feedback rows: exactly which TRL rows each one produces.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBuildConfig } from '../../../src/contract/dataset-build-config.ts';
import { buildDataset, toTrlRow, type DatasetBuild } from '../../../src/datasets/builders.ts';
import type { DatasetFormat } from '../../../src/contract/datasets.ts';
import { normalizeText } from '../../../src/suites/contamination.ts';
import { PROMPTS, scenario } from '../../helpers/feedback-rows.ts';

const config = parseBuildConfig({
  hygiene: { validationPercent: 0, nearDuplicateThreshold: 0.9, scrubPii: true },
});
const noEvaluation = new Set<string>();

const user = (content: string) => [{ role: 'user', content }];
const assistant = (content: string) => [{ role: 'assistant', content }];
const meta = (source: string, weight = 1) => ({ source, weight, synthetic: false });
const byJson = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();

function rowsOf(build: DatasetBuild, format: DatasetFormat, split: 'train' | 'validation' = 'train') {
  return build.examples[format][split].map(toTrlRow);
}

const A1 = 'Rain taps the window, grey sky hums a lullaby, puddles hold the clouds.';
const A2 = 'Rain is wet.';
const A3 = 'Just ignore it.';
const C1 = 'Say sorry in person and name what you did.';
const A6 = 'About 80 degrees Celsius, below boiling.';
const A7 = 'Boiling hot, as hot as possible.';

describe('dataset builders', () => {
  const build = buildDataset(scenario(), config, noEvaluation);

  test('SFT: the approved correction and the answers with a top rating from a trusted rater', () => {
    assert.deepEqual(
      byJson(rowsOf(build, 'sft')),
      byJson([
        { messages: [...user(PROMPTS.apology), ...assistant(C1)], ...meta('correction') },
        { messages: [...user(PROMPTS.haiku), ...assistant(A1)], ...meta('rating') },
        { messages: [...user(PROMPTS.tea), ...assistant(A6)], ...meta('rating') },
      ]),
    );
  });

  test('preference: correction over original, the vote, thumbs up over down, stars 3 apart', () => {
    assert.deepEqual(
      byJson(rowsOf(build, 'preference')),
      byJson([
        {
          prompt: user(PROMPTS.apology),
          chosen: assistant(C1),
          rejected: assistant(A3),
          ...meta('correction'),
        },
        { prompt: user(PROMPTS.haiku), chosen: assistant(A2), rejected: assistant(A1), ...meta('vote') },
        { prompt: user(PROMPTS.haiku), chosen: assistant(A1), rejected: assistant(A2), ...meta('thumbs') },
        { prompt: user(PROMPTS.tea), chosen: assistant(A6), rejected: assistant(A7), ...meta('stars') },
      ]),
    );
  });

  test('stars closer than the configured gap give no preference pair', () => {
    const rows = scenario();
    rows.ratings = rows.ratings.map((r) => (r.messageId === 'a7' ? { ...r, value: 4 } : r));
    const b = buildDataset(rows, config, noEvaluation);
    assert.equal(b.examples.preference.train.filter((e) => e.source === 'stars').length, 0);
  });

  test('KTO: thumbs, thresholded stars, corrections, and weak implicit labels kept apart', () => {
    assert.deepEqual(
      byJson(rowsOf(build, 'kto')),
      byJson([
        { prompt: user(PROMPTS.apology), completion: assistant(A3), label: false, ...meta('correction') },
        { prompt: user(PROMPTS.apology), completion: assistant(C1), label: true, ...meta('correction') },
        { prompt: user(PROMPTS.haiku), completion: assistant(A1), label: true, ...meta('thumbs') },
        { prompt: user(PROMPTS.haiku), completion: assistant(A2), label: false, ...meta('thumbs') },
        { prompt: user(PROMPTS.tea), completion: assistant(A6), label: true, ...meta('stars') },
        { prompt: user(PROMPTS.tea), completion: assistant(A7), label: false, ...meta('stars') },
        // copy 0.6 + long dwell 0.3 lean positive; regenerate -0.6 negative (the short dwell does not count)
        {
          prompt: user(PROMPTS.bread),
          completion: assistant('Until it doubles in size, usually one to two hours.'),
          label: true,
          ...meta('implicit', 0.3),
        },
        {
          prompt: user(PROMPTS.sleep),
          completion: assistant('Drink coffee before bed.'),
          label: false,
          ...meta('implicit', 0.3),
        },
      ]),
    );
    assert.deepEqual(build.stats.labels, { explicit: 13, implicit: 2 });
    assert.deepEqual(build.sizesBySource.kto, { correction: 2, thumbs: 2, stars: 2, implicit: 2 });
  });

  test('implicit weights come from the config: zero weights give no weak labels', () => {
    const b = buildDataset(
      scenario(),
      parseBuildConfig({ ...config, implicit: { weights: { copy: 0, dwell: 0, regenerate: 0 } } }),
      noEvaluation,
    );
    assert.equal(b.examples.kto.train.filter((e) => e.source === 'implicit').length, 0);
  });

  test('an answer with an explicit label gets no implicit label', () => {
    const rows = scenario();
    rows.implicitEvents.push({ id: 'e9', messageId: 'a2', userId: 'u1', type: 'copy', value: 10 });
    rows.implicitEvents.push({ id: 'e10', messageId: 'a2', userId: 'u1', type: 'copy', value: 10 });
    const b = buildDataset(rows, config, noEvaluation);
    assert.equal(b.examples.kto.train.filter((e) => e.source === 'implicit').length, 2);
  });

  test("two users' implicit events with the same client id are both in the lineage", () => {
    const rows = scenario();
    // Event ids are the client's own, unique per user only: u7's `e1` is another event than u5's.
    rows.implicitEvents.push({ id: 'e1', messageId: 'a4', userId: 'u7', type: 'copy', value: null });
    const b = buildDataset(rows, config, noEvaluation);
    const events = b.lineage.feedback.filter((f) => f.kind === 'implicit_event' && f.id === 'e1');
    assert.deepEqual(
      events.map((f) => f.userId),
      ['u5', 'u7'],
    );
  });

  test('lineage lists exactly the feedback rows that made it in, and the model versions', () => {
    assert.deepEqual(
      build.lineage.feedback.map((f) => `${f.kind}:${f.id}`),
      [
        'correction:c1',
        'implicit_event:e1',
        'implicit_event:e2',
        'implicit_event:e3',
        'pairwise_vote:v1',
        'rating:r-u1-a1-thumbs',
        'rating:r-u1-a2-thumbs',
        'rating:r-u2-a6-stars',
        'rating:r-u2-a7-stars',
      ],
    );
    assert.deepEqual(build.lineage.modelVersionIds, ['mv-1']);
    assert.deepEqual(build.sizes, {
      sft: { train: 3, validation: 0 },
      preference: { train: 4, validation: 0 },
      kto: { train: 8, validation: 0 },
    });
  });

  test('content hash: same rows same hash; a changed rating changes it; the window does not', () => {
    const again = buildDataset(scenario(), config, noEvaluation);
    assert.equal(again.contentHash, build.contentHash);
    assert.match(build.contentHash, /^[0-9a-f]{64}$/);
    const windowed = buildDataset(
      scenario(),
      { ...config, window: { to: new Date('2030-01-01') } },
      noEvaluation,
    );
    assert.equal(windowed.contentHash, build.contentHash);

    const changed = scenario();
    changed.ratings[0] = { ...changed.ratings[0]!, value: -1 };
    assert.notEqual(buildDataset(changed, config, noEvaluation).contentHash, build.contentHash);
  });

  test('files hold one JSON line per example in TRL field names', () => {
    const lines = build.files['preference.train.jsonl']!.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    for (const line of lines) {
      const row = JSON.parse(line);
      assert.deepEqual(Object.keys(row).sort(), [
        'chosen',
        'prompt',
        'rejected',
        'source',
        'synthetic',
        'weight',
      ]);
    }
  });

  test('evaluation guard: a held-out question never reaches any export', () => {
    const evaluation = new Set([normalizeText('write a HAIKU about rain')]);
    const guarded = buildDataset(scenario(), config, evaluation);
    const all = Object.values(guarded.files).join('');
    assert.equal(all.includes(PROMPTS.haiku), false);
    // a1/a2: sft 1, preference 2, kto 2
    assert.equal(guarded.stats.dropped.evaluationPrompts, 5);
    assert.ok(all.includes(PROMPTS.tea));
  });
});
