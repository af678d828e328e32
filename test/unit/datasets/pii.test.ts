// PII scrubbing in linear time (issue 13, defect 3). Emails and card numbers are found exactly as
// the old regular expressions found them (checked against them on random strings); phone numbers
// take whole digit runs. On 1 MB inputs built to make a backtracking engine crawl, the work
// (characters inspected, counted by the scanners) stays within a small constant per character and
// doubles when the input doubles. No clock: timings are in `npm run bench:pii`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cardSpans, emailSpans, phoneSpans, scrubPii, type ScanWork } from '../../../src/datasets/pii.ts';

const OLD_EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const OLD_CARD = /\b\d(?:[ -]?\d){12,18}\b/g;
const spans = (re: RegExp, text: string) =>
  [...text.matchAll(re)].map((m) => [m.index, m.index + m[0].length]);

/** A deterministic pseudo-random string over `alphabet`. */
function randomStrings(alphabet: string, count: number, maxLength: number, seed = 1): string[] {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, () =>
    Array.from(
      { length: Math.floor(next() * maxLength) },
      () => alphabet[Math.floor(next() * alphabet.length)],
    ).join(''),
  );
}

describe('the scanners find what the old patterns found', () => {
  test('emails: the same spans as the old regular expression on 20,000 random strings', () => {
    for (const text of randomStrings('ab.c@-+%_ x1', 20_000, 30)) {
      assert.deepEqual(emailSpans(text), spans(OLD_EMAIL, text), JSON.stringify(text));
    }
  });

  test('card numbers: the same spans as the old regular expression on 20,000 random strings', () => {
    for (const text of randomStrings('1111 -a_.', 20_000, 45, 2)) {
      assert.deepEqual(cardSpans(text), spans(OLD_CARD, text), JSON.stringify(text));
    }
  });

  test('phone numbers: whole digit runs with an optional country and area code; long ids stay', () => {
    const cases: Array<[string, string]> = [
      ['call 555-123-4567 or 555.987.6543', 'call [PHONE] or [PHONE]'],
      ['+1 (555) 123 4567 and +44 20 7946 0958', '[PHONE] and [PHONE]'],
      ['(555)1234567 or 5551234567.', '[PHONE] or [PHONE].'],
      ['room 12, 2024, v1.2.3, 100 ms', 'room 12, 2024, v1.2.3, 100 ms'],
      ['order 123456789012345678901234 shipped', 'order 123456789012345678901234 shipped'],
      ['code 555-1234x', 'code 555-1234x'],
    ];
    for (const [input, expected] of cases) assert.equal(scrubPii(input), expected, input);
    assert.deepEqual(phoneSpans('tel 12 34 56 78 90 12 34'), [[4, 18]]);
  });
});

describe('linear time on 1 MB inputs', () => {
  const MB = 1 << 20;
  const repeatTo = (unit: string, length: number) =>
    unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
  // Each defeats a backtracking pattern: a local part with no @, a domain with no dot, an endless
  // digit run, digit groups that never end at a word boundary, and near-emails back to back.
  const adversarial: Record<string, (length: number) => { input: string; expected: string }> = {
    'letters only': (n) => ({ input: 'a'.repeat(n), expected: 'a'.repeat(n) }),
    'an @ then a dotless domain': (n) => ({
      input: 'a@' + 'b'.repeat(n - 2),
      expected: 'a@' + 'b'.repeat(n - 2),
    }),
    'one long digit run': (n) => ({ input: '1'.repeat(n), expected: '1'.repeat(n) }),
    'digit groups glued to letters': (n) => ({
      input: repeatTo('12 34 56 78x', n),
      expected: repeatTo('12 34 56 78x', n),
    }),
    'near-emails': (n) => ({ input: repeatTo('a.b@c.', n), expected: repeatTo('a.b@c.', n) }),
    'real emails and phones': (n) => {
      const unit = 'mail x.y@example.org or call +1 555 123 4567; ';
      const count = Math.floor(n / unit.length);
      return { input: unit.repeat(count), expected: 'mail [EMAIL] or call [PHONE]; '.repeat(count) };
    },
  };

  for (const [name, make] of Object.entries(adversarial)) {
    test(`${name}: scrubbed correctly with at most 64 looks per character, twice the work for twice the input`, () => {
      const half: ScanWork = { steps: 0 };
      const whole: ScanWork = { steps: 0 };
      const small = make(MB / 2);
      const large = make(MB);
      assert.equal(scrubPii(small.input, half), small.expected);
      assert.equal(scrubPii(large.input, whole), large.expected);
      assert.ok(
        whole.steps <= 64 * large.input.length,
        `${whole.steps} steps for ${large.input.length} characters`,
      );
      assert.ok(whole.steps <= 2.1 * half.steps + 1000, `${half.steps} -> ${whole.steps} steps when doubled`);
    });
  }
});
