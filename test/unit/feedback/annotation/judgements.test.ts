// Several raters on the same items: alpha per rubric dimension, agreement with the majority of the
// others, consensus by trust (a tie gives no label), and what that does to rater trust and to the
// datasets. The adversary of the issue answers gold questions honestly and inverts everything else.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBuildConfig } from '../../../../src/contract/dataset-build-config.ts';
import { buildDataset } from '../../../../src/datasets/builders.ts';
import type { AnnotationJudgementRow, FeedbackRows } from '../../../../src/feedback/feedback-rows.ts';
import { goldQuestions } from '../../../../src/feedback/raters/gold-questions.ts';
import { assessRaters } from '../../../../src/feedback/raters/raters.ts';
import {
  agreementByDimension,
  agreementWithOthers,
  consensusLabels,
  type Judgement,
} from '../../../../src/feedback/annotation/judgements.ts';
import { krippendorffAlpha } from '../../../../src/stats/krippendorff.ts';
import { answer, at } from '../../../helpers/feedback-rows.ts';

const config = parseBuildConfig({ hygiene: { validationPercent: 0 } });
const cutoffs = config.stars;
const noEvaluation = new Set<string>();

let counter = 0;
function judgement(
  raterId: string,
  itemId: string,
  messageId: string,
  fields: Partial<Pick<AnnotationJudgementRow, 'thumbs' | 'stars' | 'choice' | 'label' | 'messageBId'>>,
): AnnotationJudgementRow {
  counter++;
  return {
    id: `j-${raterId}-${itemId}`,
    itemId,
    queueId: 'q1',
    raterId,
    messageId,
    messageBId: fields.messageBId ?? null,
    thumbs: fields.thumbs ?? null,
    stars: fields.stars ?? null,
    choice: fields.choice ?? null,
    label: fields.label ?? null,
    at: at(counter),
  };
}

describe('agreement among raters', () => {
  test("alpha per dimension equals Krippendorff's alpha of the same reliability data, with an interval around it", () => {
    const js: Judgement[] = [];
    const stars = [
      [5, 5, 4],
      [1, 2, 1],
      [4, 5, 5],
      [2, 1, 3],
      [5, 4, 5],
      [1, 1, 2],
    ];
    stars.forEach((values, item) =>
      values.forEach((value, rater) =>
        js.push(
          judgement(`r${rater}`, `i${item}`, `m${item}`, { stars: value, thumbs: value >= 4 ? 1 : -1 }),
        ),
      ),
    );
    const [thumbs, starsAgreement] = agreementByDimension(js, { resamples: 300 });
    assert.equal(thumbs!.dimension, 'thumbs');
    assert.equal(thumbs!.alpha, 1, 'the thumbs all agree');
    assert.equal(starsAgreement!.dimension, 'stars');
    assert.equal(starsAgreement!.level, 'ordinal');
    assert.equal(starsAgreement!.alpha, krippendorffAlpha(stars, 'ordinal').alpha);
    assert.equal(starsAgreement!.items, 6);
    assert.equal(starsAgreement!.judgements, 18);
    const [low, high] = starsAgreement!.interval!;
    assert.ok(low <= starsAgreement!.alpha! && starsAgreement!.alpha! <= high, `${low} ${high}`);
  });

  test('each rater is compared with the majority of the others; ties give no comparison', () => {
    const js = [
      judgement('a', 'i1', 'm1', { thumbs: 1 }),
      judgement('b', 'i1', 'm1', { thumbs: 1 }),
      judgement('c', 'i1', 'm1', { thumbs: -1 }),
      judgement('a', 'i2', 'm2', { thumbs: 1, label: 'x' }),
      judgement('c', 'i2', 'm2', { thumbs: -1, label: 'x' }),
    ];
    const result = agreementWithOthers(js, cutoffs);
    // a on i1: b and c cancel out, no majority; on i2: c disagrees on thumbs, agrees on the label.
    assert.deepEqual(result.get('a'), { comparisons: 1, agreed: 0.5 });
    // b on i1: a and c cancel out.
    assert.equal(result.get('b'), undefined);
    // c: against a and b on i1; on i2 as a, half.
    assert.deepEqual(result.get('c'), { comparisons: 2, agreed: 0.5 });
  });

  test('consensus follows trust: an excluded dissenter changes nothing, a tie gives no label', () => {
    const js = [
      judgement('h1', 'i1', 'm1', { thumbs: 1 }),
      judgement('h2', 'i1', 'm1', { thumbs: 1 }),
      judgement('bad', 'i1', 'm1', { thumbs: -1 }),
      judgement('h1', 'i2', 'm2', { thumbs: 1 }),
      judgement('h2', 'i2', 'm2', { thumbs: -1 }),
      judgement('h1', 'i3', 'm3', { stars: 5 }),
      judgement('half', 'i3', 'm3', { stars: 1 }),
      judgement('h2', 'i4', 'm4a', { messageBId: 'm4b', choice: 'b' }),
      judgement('half', 'i4', 'm4a', { messageBId: 'm4b', choice: 'a' }),
    ];
    const trust = (id: string) => ({ bad: 0, half: 0.5 })[id] ?? 1;
    const [i1, i2, i3, i4] = consensusLabels(js, trust, cutoffs);
    assert.deepEqual(i1!.verdict, { value: 'good', weight: 1 });
    assert.equal(i1!.agreement, 1 / 3);
    assert.equal(i1!.raters, 3);
    assert.equal(i2!.verdict, null, 'one trusted rater against another: a tie');
    assert.deepEqual(i3!.verdict, { value: 'good', weight: 1 / 1.5 });
    assert.deepEqual(i4!.choice, { value: 'b', weight: 1 / 1.5 });
    assert.equal(i4!.verdict, null);
    // Without trust, the tie of i1 flips to a majority of two.
    assert.deepEqual(consensusLabels(js.slice(0, 3), () => 1, cutoffs)[0]!.verdict, {
      value: 'good',
      weight: 2 / 3,
    });
  });
});

/**
 * Honest raters and one who answers gold questions honestly and inverts every other verdict, on a
 * queue of 60 answers (12 of them to gold questions, 20% as in the default config), three raters
 * per item.
 */
function goldHonestAdversary(): { rows: FeedbackRows; truth: Map<string, boolean> } {
  const gold = [...goldQuestions(config.raters.goldQuestionsPercent).entries()].slice(0, 12);
  const rows: FeedbackRows = {
    answers: [],
    ratings: [],
    votes: [],
    corrections: [],
    flags: [],
    implicitEvents: [],
    annotations: [],
  };
  const truth = new Map<string, boolean>();
  for (let i = 0; i < 60; i++) {
    const id = `a${i}`;
    const right = i % 3 !== 0;
    if (i < 12) {
      const [, item] = gold[i]!;
      const question = item.messages.findLast((m) => m.role === 'user')!.content;
      rows.answers.push(answer(id, `p${i}`, question, right ? item.answer : 'I do not know.'));
    } else {
      rows.answers.push(answer(id, `p${i}`, `Everyday question number ${i}?`, `Everyday answer ${i}.`));
    }
    truth.set(id, right);
  }
  const raters = ['h1', 'h2', 'h3', 'inverter'];
  rows.answers.forEach((a, i) => {
    const isGold = i < 12;
    // Three of the four raters judge each item, in turn.
    for (const rater of raters.filter((_, r) => r !== i % 4)) {
      const right = truth.get(a.id)!;
      const says = rater === 'inverter' && !isGold ? !right : right;
      rows.annotations!.push(
        judgement(rater, `item-${a.id}`, a.id, { thumbs: says ? 1 : -1, stars: says ? 5 : 1 }),
      );
    }
  });
  return { rows, truth };
}

describe('rater trust from annotation queues', () => {
  test('a rater honest on gold questions who inverts everything else loses trust', () => {
    const { rows } = goldHonestAdversary();
    const assessed = new Map(assessRaters(rows, config).map((r) => [r.userId, r]));
    const inverter = assessed.get('inverter')!;
    assert.equal(inverter.goldAgreement, 1, 'gold questions alone would trust this rater');
    assert.ok(inverter.goldComparisons >= 3, `gold comparisons ${inverter.goldComparisons}`);
    // On the answers of unknown quality it sides with the majority of the others on none.
    assert.equal(inverter.queueAgreement, 0);
    assert.ok(inverter.queueComparisons >= 10, `queue comparisons ${inverter.queueComparisons}`);
    assert.equal(inverter.status, 'excluded');
    assert.equal(inverter.trust, 0);
    assert.ok(
      inverter.reasons.some((r) => r.includes('majority of the other raters in annotation queues')),
      JSON.stringify(inverter.reasons),
    );
    for (const h of ['h1', 'h2', 'h3']) {
      const honest = assessed.get(h)!;
      assert.deepEqual([honest.status, honest.trust], ['trusted', 1], JSON.stringify(honest));
      assert.ok(honest.queueAgreement! > 0.8);
    }
  });

  test('consensus labels reach SFT and KTO with their weight, lineage records agreement; the inverter adds nothing', () => {
    const { rows, truth } = goldHonestAdversary();
    const build = buildDataset(rows, config, noEvaluation);
    const sft = build.examples.sft.train;
    const good = [...truth].filter(([, right]) => right).map(([id]) => id);
    const sftAnswers = new Set(sft.map((e) => e.answerIds[0]));
    for (const e of sft) assert.equal(e.source, 'consensus');
    // Every right answer, whatever the inverter said, and no wrong one.
    assert.deepEqual([...sftAnswers].sort(), good.sort());
    for (const e of sft) assert.equal(e.weight, 1);
    const kto = build.examples.kto.train.filter((e) => e.source === 'consensus');
    assert.equal(kto.length, 60);
    for (const e of kto) assert.equal(e.label, truth.get(e.answerIds[0]!));
    assert.equal(build.lineage.annotations.length, 60);
    const withInverter = build.lineage.annotations.find((a) => a.itemId === 'item-a13')!;
    // a13 (not gold, right) is judged by h1, h3 and the inverter: one pair of three agrees.
    assert.deepEqual(withInverter, {
      itemId: 'item-a13',
      consensus: { verdict: 'good' },
      weight: 1,
      agreement: 0.3333,
      raters: 3,
    });
    const unanimous = build.lineage.annotations.find((a) => a.itemId === 'item-a3')!;
    assert.equal(unanimous.agreement, 1, 'a gold item: the inverter agrees');
    const rowsOf = build.files['sft.train.jsonl']!.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(rowsOf.every((r) => r.source === 'consensus' && r.weight === 1));
  });

  test('a split queue decision (two trusted raters against one) stays out of SFT but labels KTO at 2/3', () => {
    const rows: FeedbackRows = {
      answers: [answer('x', 'px', 'A question on which raters split?', 'A debatable answer.')],
      ratings: [],
      votes: [],
      corrections: [],
      flags: [],
      implicitEvents: [],
      annotations: [
        judgement('r1', 'ix', 'x', { thumbs: 1 }),
        judgement('r2', 'ix', 'x', { thumbs: 1 }),
        judgement('r3', 'ix', 'x', { thumbs: -1 }),
      ],
    };
    const build = buildDataset(rows, config, noEvaluation);
    assert.equal(build.examples.sft.train.length, 0);
    const [kto] = build.examples.kto.train;
    assert.deepEqual([kto!.source, kto!.label, kto!.weight], ['consensus', true, 0.6667]);
  });

  test('pairwise consensus becomes a preference pair', () => {
    const rows: FeedbackRows = {
      answers: [
        answer('pa', 'pp', 'Which answer is better?', 'The careful answer.'),
        answer('pb', 'pp', 'Which answer is better?', 'The sloppy answer.'),
      ],
      ratings: [],
      votes: [],
      corrections: [],
      flags: [],
      implicitEvents: [],
      annotations: ['r1', 'r2', 'r3'].map((r, i) =>
        judgement(r, 'ip', 'pb', { messageBId: 'pa', choice: i < 2 ? 'b' : 'a' }),
      ),
    };
    const build = buildDataset(rows, config, noEvaluation);
    const [pair] = build.examples.preference.train;
    assert.equal(pair!.source, 'consensus');
    assert.equal(pair!.chosen, 'The careful answer.');
    assert.equal(pair!.rejected, 'The sloppy answer.');
    assert.equal(pair!.weight, 0.6667);
    assert.deepEqual(build.lineage.annotations[0]!.consensus, { choice: 'b' });
  });
});
