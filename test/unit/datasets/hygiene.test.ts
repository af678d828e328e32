// Hygiene: PII scrubbing, near-duplicate removal, the stable split and marked synthetic variants.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseBuildConfig } from '../../../src/contract/dataset-build-config.ts';
import { buildDataset, toTrlRow } from '../../../src/datasets/builders.ts';
import type { FeedbackRows } from '../../../src/feedback/feedback-rows.ts';
import { scrubPii, splitOf } from '../../../src/datasets/hygiene.ts';
import { answer } from '../../helpers/feedback-rows.ts';

const noEvaluation = new Set<string>();

/** Answers to `prompts`, each corrected (approved) to `texts[i]`. */
function corrections(items: { prompt: string; text: string }[]): FeedbackRows {
  return {
    answers: items.map((it, i) => answer(`a${i}`, `p${i}`, it.prompt, `Bad answer ${i}.`)),
    ratings: [],
    votes: [],
    corrections: items.map((it, i) => ({
      id: `c${i}`,
      messageId: `a${i}`,
      userId: 'u1',
      correctedText: it.text,
    })),
    flags: [],
    implicitEvents: [],
  };
}

describe('PII scrubbing', () => {
  test('emails, phone numbers and card-like numbers become placeholders; other numbers stay', () => {
    assert.equal(
      scrubPii(
        'Mail jane.doe+x@example.co.uk or call +44 20 7946 0958 / (555) 123-4567; card 4111 1111 1111 1111, or 4111-1111-1111-1111. Water boils at 100 degrees in 2024.',
      ),
      'Mail [EMAIL] or call [PHONE] / [PHONE]; card [CARD], or [CARD]. Water boils at 100 degrees in 2024.',
    );
  });

  test('a build scrubs prompts and answers and counts the examples it changed', () => {
    const build = buildDataset(
      corrections([
        { prompt: 'My email is bob@example.com, can you help?', text: 'Sure, call 555-123-4567.' },
      ]),
      parseBuildConfig({ hygiene: { validationPercent: 0 } }),
      noEvaluation,
    );
    const all = Object.values(build.files).join('');
    assert.equal(all.includes('bob@example.com'), false);
    assert.equal(all.includes('555-123-4567'), false);
    assert.ok(all.includes('My email is [EMAIL], can you help?'));
    assert.ok(all.includes('Sure, call [PHONE].'));
    // sft 1 + preference 1 + kto 2, all with the PII prompt
    assert.equal(build.stats.piiScrubbedExamples, 4);
  });
});

describe('near-duplicates', () => {
  test('two corrections that differ only in punctuation and one word are kept once', () => {
    const long = 'Knead the dough for ten minutes, then let it rise in a warm place until doubled in size';
    const build = buildDataset(
      corrections([
        { prompt: 'How do I make bread rise well?', text: `${long}.` },
        { prompt: 'How do I make bread rise well??', text: `${long}!!` },
        { prompt: 'How do I make bread rise well?', text: `${long}, usually.` },
        { prompt: 'What is a good name for a cat?', text: 'Mittens.' },
      ]),
      parseBuildConfig({ hygiene: { validationPercent: 0 } }),
      noEvaluation,
    );
    const completions = build.examples.sft.train.map((e) => e.completion);
    assert.equal(completions.filter((c) => c.startsWith('Knead')).length, 1);
    assert.ok(completions.includes('Mittens.'));
    assert.equal(build.sizes.sft.train, 2);
    assert.ok(build.stats.dropped.nearDuplicates >= 2);
  });

  test('a lower threshold removes more; at 1.0 only exact (normalized) duplicates go', () => {
    const items = [
      {
        prompt: 'Tell me about owls.',
        text: 'Owls are nocturnal birds of prey with excellent hearing and silent flight.',
      },
      {
        prompt: 'Tell me about owls.',
        text: 'Owls are nocturnal birds of prey with excellent hearing and quiet flight.',
      },
    ];
    const strict = buildDataset(
      corrections(items),
      parseBuildConfig({ hygiene: { nearDuplicateThreshold: 1, validationPercent: 0 } }),
      noEvaluation,
    );
    const loose = buildDataset(
      corrections(items),
      parseBuildConfig({ hygiene: { nearDuplicateThreshold: 0.6, validationPercent: 0 } }),
      noEvaluation,
    );
    assert.equal(strict.sizes.sft.train, 2);
    assert.equal(loose.sizes.sft.train, 1);
  });
});

describe('train/validation split', () => {
  test('decided by the prompt alone: stable, blind to case and punctuation, near the configured share', () => {
    const prompts = Array.from({ length: 2000 }, (_, i) => [
      { role: 'user' as const, content: `Question number ${i}?` },
    ]);
    const first = prompts.map((p) => splitOf(p, 10));
    assert.deepEqual(
      prompts.map((p) => splitOf(p, 10)),
      first,
    );
    const share = first.filter((s) => s === 'validation').length / prompts.length;
    assert.ok(share > 0.07 && share < 0.13, `validation share ${share}`);
    for (const [i, p] of prompts.slice(0, 200).entries()) {
      assert.equal(
        splitOf([{ role: 'user', content: p[0]!.content.toUpperCase().replace('?', ' !') }], 10),
        first[i],
      );
    }
    assert.equal(splitOf(prompts[0]!, 0), 'train');
  });

  test('every example of one prompt lands in the same split', () => {
    const items = Array.from({ length: 60 }, (_, i) => ({
      prompt: `Prompt ${i % 20}`,
      text: `Distinct answer text number ${i} here`,
    }));
    const build = buildDataset(
      corrections(items),
      parseBuildConfig({ hygiene: { validationPercent: 30 } }),
      noEvaluation,
    );
    const sides = new Map<string, Set<string>>();
    for (const split of ['train', 'validation'] as const) {
      for (const e of build.examples.kto[split]) {
        const key = e.prompt[0]!.content;
        sides.set(key, (sides.get(key) ?? new Set()).add(split));
      }
    }
    assert.ok(build.sizes.kto.validation > 0 && build.sizes.kto.train > 0);
    for (const [prompt, set] of sides) assert.equal(set.size, 1, prompt);
  });
});

describe('augmentation', () => {
  test('synthetic prompt variants are added to training only, marked synthetic, counted apart', () => {
    const rows = corrections([{ prompt: 'How do I boil an egg?', text: 'Simmer it for nine minutes.' }]);
    const build = buildDataset(
      rows,
      parseBuildConfig({
        hygiene: { validationPercent: 0 },
        augmentation: { variantsPerExample: 2, formats: ['sft'] },
      }),
      noEvaluation,
    );
    const rowsOut = build.examples.sft.train.map(toTrlRow) as {
      messages: { content: string }[];
      synthetic: boolean;
    }[];
    assert.deepEqual(
      rowsOut.map((r) => [r.messages[0]!.content, r.synthetic]).sort(),
      [
        ['How do I boil an egg?', false],
        ['Please answer: How do I boil an egg?', true],
        ['Can you tell me: How do I boil an egg?', true],
      ].sort(),
    );
    assert.deepEqual(build.sizesBySource.sft, { correction: 1, synthetic: 2 });
    assert.equal(build.stats.syntheticExamples, 2);
    assert.equal(build.sizes.preference.train, 1, 'formats not listed are not augmented');

    const validationOnly = buildDataset(
      rows,
      parseBuildConfig({ hygiene: { validationPercent: 50 }, augmentation: { variantsPerExample: 2 } }),
      noEvaluation,
    );
    assert.equal(
      validationOnly.examples.sft.validation.some((e) => e.synthetic),
      false,
    );
  });
});
