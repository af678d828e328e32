import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storableText } from '../../../src/serving/completion-service.ts';

test('model text Postgres cannot store becomes U+FFFD; well-formed text is unchanged', () => {
  assert.equal(storableText('a\u0000b'), 'a\uFFFDb');
  assert.equal(storableText('x\uD800y'), 'x\uFFFDy');
  assert.equal(storableText('\uDC00'), '\uFFFD');
  assert.equal(storableText('emoji 😀 and ü'), 'emoji 😀 and ü');
  // Replacing per token gives what replacing the whole answer gives.
  const tokens = ['he', '\u0000', 'llo', '\uDFFF'];
  assert.equal(tokens.map(storableText).join(''), storableText(tokens.join('')));
});
