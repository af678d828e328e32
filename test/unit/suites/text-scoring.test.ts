// Answer scoring: SQuAD normalisation, exact match against sentence or bare reference, whole-word
// containment, token F1, and removal of the "X means" lead-in.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  containsReference,
  isExactMatch,
  normalizeAnswer,
  stripDefinitionLeadIn,
  tokenF1,
} from '../../../src/suites/text-scoring.ts';

describe('normalizeAnswer', () => {
  test('lower case, no punctuation, no articles, single spaces', () => {
    assert.equal(normalizeAnswer('  The Capital of  France is PARIS! '), 'capital of france is paris');
    assert.equal(normalizeAnswer('An apple, a pear; the end.'), 'apple pear end');
    assert.equal(normalizeAnswer("Côte d'Ivoire"), 'côte d ivoire');
    // "the" inside a word is not an article
    assert.equal(normalizeAnswer('Theatre'), 'theatre');
  });
});

describe('isExactMatch', () => {
  const sentence = 'The capital of France is Paris.';
  test('equal to the expected sentence or the bare reference, up to normalisation', () => {
    assert.equal(isExactMatch('the capital of france is paris', sentence, 'Paris'), true);
    assert.equal(isExactMatch('Paris.', sentence, 'Paris'), true);
    assert.equal(isExactMatch('The capital of France is Paris. It is big.', sentence, 'Paris'), false);
    assert.equal(isExactMatch('The capital of France is Lyon.', sentence, 'Paris'), false);
    assert.equal(isExactMatch('', sentence, 'Paris'), false);
  });
});

describe('containsReference', () => {
  test('whole words only', () => {
    assert.equal(containsReference('I think it is Paris, France.', 'Paris'), true);
    assert.equal(containsReference('Parisian food', 'Paris'), false);
    assert.equal(containsReference('They speak Dutch and Papiamento.', 'Dutch and Papiamento'), true);
    assert.equal(containsReference('They speak Dutch.', 'Dutch and Papiamento'), false);
  });
});

describe('tokenF1', () => {
  test('SQuAD arithmetic', () => {
    assert.equal(tokenF1('a large dog', 'the large dog'), 1);
    // prediction {big, dog} vs reference {large, dog}: precision 1/2, recall 1/2
    assert.equal(tokenF1('big dog', 'large dog'), 0.5);
    // prediction {dog} vs reference {large, brown, dog}: p = 1, r = 1/3, F1 = 0.5
    assert.equal(tokenF1('dog', 'large brown dog'), 0.5);
    assert.equal(tokenF1('cat', 'dog'), 0);
    assert.equal(tokenF1('', 'dog'), 0);
    // repeated tokens count only as often as the reference has them
    assert.equal(tokenF1('dog dog', 'dog'), 2 / 3);
  });
});

describe('stripDefinitionLeadIn', () => {
  test('removes the lead-in naming the word, as the corpus answers phrase it', () => {
    assert.equal(
      stripDefinitionLeadIn('"bank" means a financial institution.', 'bank'),
      'a financial institution.',
    );
    assert.equal(stripDefinitionLeadIn('To run means to move fast.', 'run'), 'move fast.');
    assert.equal(stripDefinitionLeadIn('The noun "bank" means a slope.', 'bank'), 'a slope.');
  });

  test('also removes a short lead-in with a wrong word, but leaves bare definitions alone', () => {
    assert.equal(stripDefinitionLeadIn('"bnak" means a slope.', 'bank'), 'a slope.');
    assert.equal(stripDefinitionLeadIn('a sloping land beside water', 'bank'), 'a sloping land beside water');
  });

  test('scores only the definition', () => {
    const reference = 'a financial institution';
    assert.equal(
      tokenF1(stripDefinitionLeadIn('"bank" means a financial institution.', 'bank'), reference),
      1,
    );
    assert.ok(tokenF1('"bank" means a financial institution.', reference) < 1);
  });
});
