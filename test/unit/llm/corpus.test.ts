// The task suite simulated users draw from, and its agreement with the held-out questions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countryQuestionSuite, heldOutQuestions, questionSuite } from '../../../src/llm/index.ts';
import { isHeldOutQuestion } from '../../../src/llm/corpus/split.ts';

// First in the file: countryQuestionSuite() must build its items on its own, before questionSuite()
// has been cached.
test("the country part of the suite, built without WordNet, is exactly the suite's country facts", () => {
  const countries = countryQuestionSuite();
  assert.ok(countries.length > 0);
  assert.deepEqual(
    countries,
    questionSuite().filter((q) => q.kind === 'country-fact'),
  );
});

test('the question suite holds every question, flagged held out exactly where heldOutQuestions() has it', () => {
  const suite = questionSuite();
  const heldOut = heldOutQuestions();
  assert.deepEqual(
    suite
      .filter((q) => q.heldOut)
      .map((q) => q.id)
      .sort(),
    heldOut.map((q) => q.id).sort(),
  );
  assert.ok(suite.some((q) => !q.heldOut && q.kind === 'country-fact'));
  assert.ok(suite.some((q) => !q.heldOut && q.kind === 'definition'));
  for (const q of suite.filter((_, i) => i % 97 === 0)) {
    const key = q.kind === 'country-fact' ? q.id.replace(/:q\d+$/, '') : q.id;
    assert.equal(q.heldOut, isHeldOutQuestion(q.kind, key), q.id);
  }
  // Every country fact is asked in two phrasings that share one answer.
  const capital = suite.filter((q) => q.id.startsWith('country:FRA:capital:'));
  assert.deepEqual(
    capital.map((q) => q.id),
    ['country:FRA:capital:q0', 'country:FRA:capital:q1'],
  );
  assert.equal(capital[0]!.answer, capital[1]!.answer);
  assert.equal(capital[0]!.reference, 'Paris');
});
