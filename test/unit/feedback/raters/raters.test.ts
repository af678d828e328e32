// Rater reliability: a spammer is excluded with reasons, a rater who disagrees with everyone is
// down-weighted, and the builders honour both.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBuildConfig } from '../../../../src/contract/dataset-build-config.ts';
import { buildDataset } from '../../../../src/datasets/builders.ts';
import { goldQuestions } from '../../../../src/feedback/raters/gold-questions.ts';
import { evaluationPromptSet, normalizeText } from '../../../../src/suites/contamination.ts';
import { assessRaters } from '../../../../src/feedback/raters/raters.ts';
import { answer, rating, scenario } from '../../../helpers/feedback-rows.ts';

const config = parseBuildConfig({ hygiene: { validationPercent: 0 } });
const noEvaluation = new Set<string>();

function withSpammer() {
  const rows = scenario();
  // Ten answers, each thumbed up by the spammer one second after the previous one.
  for (let i = 0; i < 10; i++) {
    rows.answers.push(answer(`s${i}`, `sp${i}`, `Spam prompt ${i} about a topic`, `Spam answer ${i}.`));
    rows.ratings.push(rating('spammer', `s${i}`, 'thumbs', 1, 1000 + i));
  }
  // ... including a thumbs up on the answer u1 rated down.
  rows.ratings.push(rating('spammer', 'a2', 'thumbs', 1, 1010));
  return rows;
}

describe('rater reliability', () => {
  test('a rater who always gives the same rating, impossibly fast, is excluded with both reasons', () => {
    const assessed = assessRaters(withSpammer(), config);
    const spammer = assessed.find((r) => r.userId === 'spammer')!;
    assert.equal(spammer.status, 'excluded');
    assert.equal(spammer.trust, 0);
    assert.equal(spammer.ratings, 11);
    assert.deepEqual(spammer.reasons, [
      'gives the same rating (thumbs up) in 11 of 11 ratings',
      '10 of 10 ratings came less than 2s after the previous one',
    ]);
    const honest = assessed.find((r) => r.userId === 'u1')!;
    assert.deepEqual([honest.status, honest.trust, honest.reasons], ['trusted', 1, []]);
  });

  test("an excluded rater's ratings produce no examples and cancel nobody's", () => {
    const build = buildDataset(withSpammer(), config, noEvaluation);
    const all = Object.values(build.files).join('');
    assert.equal(all.includes('Spam answer'), false);
    // u1's thumbs down on a2 still stands (the spammer's thumbs up would have cancelled it).
    assert.ok(build.examples.kto.train.some((e) => e.completion === 'Rain is wet.' && e.label === false));
    assert.equal(
      build.lineage.feedback.some((f) => f.id.startsWith('r-spammer')),
      false,
    );
    assert.equal(build.stats.raters.excluded, 1);
  });

  test('a rater who disagrees with consensus is down-weighted: their examples carry their trust', () => {
    const rows = scenario();
    // Eight answers rated by two agreeing raters and one contrarian who agrees on five of them.
    for (let i = 0; i < 8; i++) {
      rows.answers.push(answer(`c${i}`, `cp${i}`, `Consensus prompt ${i} here`, `Consensus answer ${i}.`));
      for (const u of ['agree1', 'agree2']) rows.ratings.push(rating(u, `c${i}`, 'thumbs', 1, i * 100));
      rows.ratings.push(rating('contrarian', `c${i}`, 'thumbs', i < 5 ? 1 : -1, i * 100));
    }
    rows.answers.push(answer('solo', 'solo-p', 'A prompt only the contrarian rated', 'The solo answer.'));
    rows.ratings.push(rating('contrarian', 'solo', 'thumbs', -1, 900));

    const assessed = assessRaters(rows, config).find((r) => r.userId === 'contrarian')!;
    assert.equal(assessed.status, 'down_weighted');
    assert.equal(assessed.consensusAgreement, 5 / 8);
    // Trust is the one-sided 95% Wilson lower bound of 5 of 8, not the share itself.
    assert.equal(assessed.trust, 0.348);
    assert.deepEqual(assessed.reasons, [
      'agrees with other raters on 5 of 8 answers (63%); at 95% confidence at least 35%, below the 70% for full trust',
    ]);

    const build = buildDataset(rows, config, noEvaluation);
    const solo = build.examples.kto.train.find((e) => e.completion === 'The solo answer.')!;
    assert.deepEqual([solo.label, solo.weight], [false, assessed.trust]);

    const strict = parseBuildConfig({ ...config, raters: { excludeBelowAgreement: 0.7 } });
    const excluded = assessRaters(rows, strict).find((r) => r.userId === 'contrarian')!;
    assert.deepEqual(
      [excluded.status, excluded.trust],
      ['excluded', 0],
      'agreement 5/8 is below the 0.7 cut',
    );
  });

  test('trust needs agreement that chance cannot explain: a coin tosser at 12 of 17 is not trusted', () => {
    const gold = [...goldQuestions(20).values()].slice(0, 17);
    const rows = scenario();
    // Every rater rates wrong answers to gold questions, each with a thumb and stars (one verdict
    // per answer) and praises those past its count: `honest` pans all 17, `nearly` 16, `lucky` 12,
    // and `few` rates only 3 answers, all panned.
    const raters = { honest: 17, nearly: 16, lucky: 12, few: 3 } as const;
    for (const [rater, panned] of Object.entries(raters)) {
      const count = rater === 'few' ? 3 : 17;
      gold.slice(0, count).forEach((item, i) => {
        const id = `${rater}-${i}`;
        rows.answers.push(
          answer(id, `${rater}-q${i}`, item.messages.at(-1)!.content, `${rater} does not know ${i}.`),
        );
        const good = i >= panned;
        rows.ratings.push(rating(rater, id, 'thumbs', good ? 1 : -1, i * 100));
        rows.ratings.push(rating(rater, id, 'stars', good ? 5 : 1, i * 100 + 10));
      });
    }
    const byUser = new Map(assessRaters(rows, config).map((r) => [r.userId, r]));
    const summary = (u: string) => {
      const r = byUser.get(u)!;
      return [r.goldAgreement, r.goldComparisons, r.status, Math.round(r.trust * 100) / 100];
    };
    assert.deepEqual(summary('honest'), [1, 17, 'trusted', 1]);
    assert.deepEqual(summary('nearly'), [16 / 17, 17, 'trusted', 1]);
    assert.deepEqual(summary('lucky'), [12 / 17, 17, 'down_weighted', 0.51]);
    assert.deepEqual(byUser.get('lucky')!.reasons, [
      'agrees with answers of known quality on 12 of 17 answers (71%); at 95% confidence at least 51%, below the 70% for full trust',
    ]);
    assert.deepEqual(summary('few'), [1, 3, 'down_weighted', 0.53]);
    assert.deepEqual(byUser.get('few')!.reasons, [
      'agrees with answers of known quality on 3 of 3 answers (100%); at 95% confidence at least 53%, below the 70% for full trust',
    ]);

    // The lucky rater's five-star answers stay out of SFT (its trust is below sft.minRaterTrust);
    // the one wrong answer the nearly perfect rater praised gets in.
    const build = buildDataset(rows, config, noEvaluation);
    const sft = [...build.examples.sft.train, ...build.examples.sft.validation].map((e) => e.completion);
    assert.deepEqual(
      sft.filter((c) => c.includes('does not know')),
      ['nearly does not know 16.'],
    );
  });

  test('disagreeing with answers of known quality (gold) lowers trust', () => {
    const rows = scenario();
    for (let i = 0; i < 3; i++) {
      rows.answers.push(answer(`g${i}`, `gp${i}`, `Gold prompt ${i}`, `Flagged answer ${i}.`));
      rows.flags.push({ id: `f${i}`, messageId: `g${i}` });
      rows.ratings.push(rating('gullible', `g${i}`, 'stars', 5, i * 100));
    }
    const gullible = assessRaters(rows, config).find((r) => r.userId === 'gullible')!;
    assert.deepEqual([gullible.goldAgreement, gullible.goldComparisons, gullible.status], [0, 3, 'excluded']);
    assert.deepEqual(gullible.reasons, [
      'agrees with answers of known quality on 0 of 3 answers (0%); at 95% confidence at least 0%, below the 70% for full trust',
    ]);
  });

  test('answers to gold questions from the task suite are judged against the known fact', () => {
    const gold = [...goldQuestions(20).values()].slice(0, 4);
    assert.equal(gold.length, 4);
    const rows = scenario();
    // Each rater rates answers to their own questions (nobody else rates them: no consensus).
    // The inverter praises wrong answers and pans right ones; the judge does the opposite.
    for (const [rater, praise] of [
      ['inverter', -1],
      ['judge', 1],
    ] as const) {
      gold.forEach((item, i) => {
        const question = item.messages.at(-1)!.content;
        rows.answers.push(answer(`${rater}-right${i}`, `${rater}-q${i}`, question, item.answer));
        rows.answers.push(answer(`${rater}-wrong${i}`, `${rater}-q${i}`, question, `I do not know ${i}.`));
        rows.ratings.push(rating(rater, `${rater}-right${i}`, 'thumbs', praise, i * 100));
        rows.ratings.push(rating(rater, `${rater}-wrong${i}`, 'thumbs', -praise, i * 100 + 50));
      });
    }
    const assessed = assessRaters(rows, config);
    const inverter = assessed.find((r) => r.userId === 'inverter')!;
    const judge = assessed.find((r) => r.userId === 'judge')!;
    assert.deepEqual([inverter.goldAgreement, inverter.goldComparisons, inverter.status], [0, 8, 'excluded']);
    assert.deepEqual(inverter.reasons, [
      'agrees with answers of known quality on 0 of 8 answers (0%); at 95% confidence at least 0%, below the 70% for full trust',
    ]);
    assert.deepEqual([judge.goldAgreement, judge.goldComparisons, judge.status], [1, 8, 'trusted']);

    const off = parseBuildConfig({ hygiene: { validationPercent: 0 }, raters: { goldQuestionsPercent: 0 } });
    const unchecked = assessRaters(rows, off).find((r) => r.userId === 'inverter')!;
    assert.deepEqual([unchecked.goldComparisons, unchecked.status], [0, 'trusted']);
  });

  test('gold questions are a fixed sample of country-fact questions and never an evaluation prompt', () => {
    const evaluation = evaluationPromptSet();
    const some = goldQuestions(20);
    const all = goldQuestions(100);
    assert.ok(some.size > 100, `${some.size} gold questions at 20%`);
    assert.ok(some.size < all.size * 0.3 && some.size > all.size * 0.1, `${some.size} of ${all.size}`);
    for (const [key, item] of all) {
      assert.equal(item.kind, 'country-fact');
      assert.ok(!evaluation.has(key), `${key} is an evaluation prompt`);
    }
    for (const key of some.keys()) assert.ok(all.has(key));
    assert.equal(goldQuestions(20), some, 'computed once per share');
    assert.ok([...some.keys()].every((k) => k === normalizeText(k)));
  });
});
