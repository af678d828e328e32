import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatChatPrompt, SPECIAL_TOKEN_LIST } from '../../../src/llm/chat-format.ts';
import { TextTokenizer } from '../../../src/llm/tokenizer.ts';
import { mulberry32 } from '../../../src/llm/rng.ts';
import { TINY_VOCAB, tinyTokenizer } from '../../helpers/llm.ts';

test('tokenizer round-trips text it never saw, including unicode and chat markup', async () => {
  const tok = tinyTokenizer();
  const samples = [
    'The capital of France is Paris.',
    'Zürich, São Paulo, Kraków — 東京 🙂\ttabs and  double spaces\nnew lines',
    formatChatPrompt([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is the capital of Peru?' },
    ]),
  ];
  for (const s of samples) assert.equal(await tok.decode(await tok.encode(s)), s);
});

test('tokenizer has the requested vocabulary size and one id per special token', async () => {
  const tok = tinyTokenizer();
  assert.equal(tok.vocabSize, TINY_VOCAB);
  for (const [i, special] of SPECIAL_TOKEN_LIST.entries()) {
    assert.deepEqual(await tok.encode(special), [i]);
  }
  // Training merged frequent words: the corpus sentence needs far fewer tokens than bytes.
  const ids = await tok.encode('The capital of France is Paris.');
  assert.ok(ids.length < 15, `expected merges, got ${ids.length} tokens`);
});

test('tokenizer.json saved to disk loads back identically', async () => {
  const tok = tinyTokenizer();
  const path = join(mkdtempSync(join(tmpdir(), 'feedloop-tokfile-')), 'tokenizer.json');
  tok.save(path);
  const again = TextTokenizer.fromFile(path);
  const text = 'Paris is the capital city of France.';
  assert.deepEqual(await again.encode(text), await tok.encode(text));
});

test('decoding on the calling thread gives what the async decode gives without special tokens', async () => {
  const tok = tinyTokenizer();
  const rng = mulberry32(7);
  const ids = (n: number) => Array.from({ length: n }, () => Math.floor(rng() * tok.vocabSize));
  // Random ids include special tokens and byte tokens that split UTF-8 characters.
  for (let n = 0; n < 200; n++) {
    const seq = ids(1 + (n % 40));
    assert.equal(tok.decodeWithoutSpecials(seq), await tok.decode(seq, true));
  }
  const chat = await tok.encode('<|user|>What is the capital of France?<|end|>');
  assert.equal(tok.decodeWithoutSpecials(chat), 'What is the capital of France?');
});
