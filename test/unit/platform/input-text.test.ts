// The text check on raw JSON bodies: a body whose text cannot decode to a NUL or a lone surrogate
// is not walked after parsing, so the check must never call such a text clean when it is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findUnstorableText, mayDecodeToUnstorableText } from '../../../src/platform/errors/input-text.ts';

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
