// The checks on raw JSON bodies. A body whose text cannot decode to a NUL or a lone surrogate is
// not walked after parsing, so that check must never call such a text clean when it is not; the
// nesting check counts brackets first and walks only texts with more than MAX_JSON_DEPTH of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_JSON_DEPTH,
  findUnstorableText,
  jsonNestedDeeperThan,
  mayDecodeToUnstorableText,
} from '../../../src/platform/errors/input-text.ts';

test('texts that can only decode to storable strings are clean', () => {
  for (const text of [
    '{"events":[{"id":"a","type":"copy","messageId":"0b6c","ts":"2026-11-30T00:00:00Z"}]}',
    '{"text":"caf\\u00e9 \\u4e2d \\u000a"}',
    '{"text":"caf\u00e9"}',
    '[]',
  ]) {
    assert.equal(mayDecodeToUnstorableText(text), false, text);
    assert.equal(findUnstorableText(JSON.parse(text), ['body']), null, text);
  }
});

test('every text that decodes to a NUL or a surrogate is sent to the walk', () => {
  for (const text of [
    '{"text":"a\\u0000b"}',
    '{"a\\u0000":1}',
    '{"text":"\\ud800"}',
    '{"text":"\\uDBFF"}',
    '{"text":"\\udc00"}',
    '{"text":"\\uDFFF"}',
    '{"text":"\\ud83d\\ude00"}', // a well-formed pair: walked, and accepted there
    '{"text":"\ud83d\ude00"}', // the same character written raw
    '{"text":"\\\\u0000"}', // an escaped backslash: walked, and accepted there
  ]) {
    assert.equal(mayDecodeToUnstorableText(text), true, text);
  }
  assert.equal(findUnstorableText(JSON.parse('{"text":"a\\u0000b"}'), ['body'])?.path, 'body.text');
  assert.equal(findUnstorableText(JSON.parse('{"x":[1,{"t":"\\udc00"}]}'), ['body'])?.path, 'body.x.1.t');
  assert.equal(findUnstorableText(JSON.parse('{"text":"\\ud83d\\ude00"}'), ['body']), null);
  assert.equal(findUnstorableText(JSON.parse('{"text":"\\\\u0000"}'), ['body']), null);
});

test('nesting: more brackets than the limit are walked, and only depth counts', () => {
  const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);
  assert.equal(jsonNestedDeeperThan(nested(MAX_JSON_DEPTH)), false);
  assert.equal(jsonNestedDeeperThan(nested(MAX_JSON_DEPTH + 1)), true);
  assert.equal(jsonNestedDeeperThan(nested(MAX_JSON_DEPTH + 1, '{"a":', '}')), true);
  // Many brackets side by side are not deep.
  assert.equal(
    jsonNestedDeeperThan(JSON.stringify({ e: Array.from({ length: 500 }, () => ({ a: [1] })) })),
    false,
  );
  // Brackets inside strings do not count, even past the limit.
  assert.equal(jsonNestedDeeperThan(JSON.stringify({ text: '['.repeat(200) })), false);
  // An escaped backslash ends with the string: what follows counts.
  assert.equal(jsonNestedDeeperThan(`{"t":"\\\\", "d":${nested(MAX_JSON_DEPTH + 1)}}`), true);
  assert.equal(jsonNestedDeeperThan(`{"t":"\\"${nested(MAX_JSON_DEPTH + 1)}"}`), false);
});
