// The prefix-filter index keeps exactly the texts that comparing each text with every kept one
// keeps (the quadratic scan it replaced, written out here as the reference).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { dropNearDuplicates } from '../../../src/datasets/hygiene.ts';
import { normalizeText } from '../../../src/suites/contamination.ts';

function shingles(text: string): Set<string> {
  const words = normalizeText(text).split(' ').filter(Boolean);
  if (words.length < 3) return new Set([words.join(' ')]);
  const out = new Set<string>();
  for (let i = 0; i + 3 <= words.length; i++) out.add(words.slice(i, i + 3).join(' '));
  return out;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let shared = 0;
  for (const s of a) if (b.has(s)) shared++;
  const union = a.size + b.size - shared;
  return union === 0 ? 1 : shared / union;
}

function quadraticScan(texts: string[], threshold: number): string[] {
  const exact = new Set<string>();
  const keptShingles: Set<string>[] = [];
  const kept: string[] = [];
  for (const text of texts) {
    const key = normalizeText(text);
    if (exact.has(key)) continue;
    const s = shingles(text);
    if (keptShingles.some((k) => jaccard(k, s) >= threshold)) continue;
    exact.add(key);
    keptShingles.push(s);
    kept.push(text);
  }
  return kept;
}

// Few words, so texts overlap often and every similarity occurs.
const word = fc.constantFrom('rain', 'is', 'wet', 'the', 'sky', 'grey', 'Rain!', 'puddles', 'hold');
const text = fc.array(word, { minLength: 0, maxLength: 14 }).map((w) => w.join(' '));

test('the index keeps what the quadratic scan keeps, at any threshold', () => {
  fc.assert(
    fc.property(
      fc.array(text, { maxLength: 40 }),
      fc.constantFrom(0, 0.1, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 1),
      (texts, threshold) => {
        const { kept, dropped } = dropNearDuplicates(texts, (t) => t, threshold);
        assert.deepEqual(kept, quadraticScan(texts, threshold));
        assert.equal(dropped, texts.length - kept.length);
      },
    ),
    { numRuns: 400 },
  );
});

test('near-duplicates of long texts are found among many distinct kept ones', () => {
  const base = Array.from({ length: 40 }, (_, i) => `word${i}`);
  const texts = Array.from({ length: 2000 }, (_, i) => `${base.join(' ')} distinct${i} tail${i} end${i}`);
  // Each differs from the others in its last three words: 38 of 44 shingles shared, Jaccard 0.86.
  const at80 = dropNearDuplicates(texts, (t) => t, 0.8);
  assert.deepEqual(at80.kept, [texts[0]]);
  const at90 = dropNearDuplicates(texts, (t) => t, 0.9);
  assert.equal(at90.kept.length, 2000);
});
