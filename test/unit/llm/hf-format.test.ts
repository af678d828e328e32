import * as tf from '@tensorflow/tfjs';
import { Template } from '@huggingface/jinja';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  formatChatExample,
  formatChatPrompt,
  SPECIAL_TOKEN_LIST,
  type ChatMessage,
} from '../../../src/llm/chat-format.ts';
import { loadModel } from '../../../src/llm/checkpoint.ts';
import { GenerationSession } from '../../../src/llm/generate.ts';
import { exportHfModel } from '../../../src/llm/hf-export.ts';
import { HfFormatError } from '../../../src/llm/hf-format.ts';
import { importHfModel } from '../../../src/llm/hf-import.ts';
import { runHfTask } from '../../../src/llm/hf-thread.ts';
import { decodeSafetensors, encodeSafetensors } from '../../../src/llm/safetensors.ts';
import { forward } from '../../../src/llm/transformer.ts';
import { HUB_VOCAB, hubModelConfig, referenceLogits, writeHubStyleFolder } from '../../helpers/hf.ts';
import { relativeError, useBackend, writeTinyModel } from '../../helpers/llm.ts';

const scratch = () => mkdtempSync(join(tmpdir(), 'feedloop-hf-'));
const IDS = [5, 17, 42, 99, 7, 3, 0, 64];

function logitsOf(dir: string, ids = IDS): Float32Array {
  const model = loadModel(dir);
  const out = tf.tidy(() =>
    forward(model.params, model.config, tf.tensor2d([ids], [1, ids.length], 'int32')).dataSync(),
  );
  tf.dispose(Object.values(model.params));
  return out as Float32Array;
}

const CONVERSATIONS: ChatMessage[][] = [
  [{ role: 'user', content: 'What is the capital of Peru?' }],
  [
    { role: 'system', content: 'You answer in one sentence.' },
    { role: 'user', content: 'What is the capital of Peru?' },
    { role: 'assistant', content: 'The capital of Peru is Lima.' },
    { role: 'user', content: 'And of Chile? Use \'quotes\' and "double" ones, {{ braces }} and {% tags %}.' },
  ],
  [
    { role: 'system', content: '' },
    { role: 'user', content: 'line one\nline two  ' },
    { role: 'assistant', content: ' leading space' },
    { role: 'user', content: '<|end|> typed by a user' },
    { role: 'assistant', content: 'ok' },
    { role: 'user', content: 'ünïcödé ✓' },
  ],
];

test('the exported chat_template, rendered by a real Jinja engine, equals formatChatPrompt', () => {
  const out = scratch();
  exportHfModel(writeTinyModel(31), out);
  const config = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const template = new Template(config['chat_template'] as string);
  for (const messages of CONVERSATIONS) {
    const special = { bos_token: config['bos_token'], eos_token: config['eos_token'] };
    assert.equal(
      template.render({ messages, add_generation_prompt: true, ...special }),
      formatChatPrompt(messages),
    );
    assert.equal(
      template.render({ messages, add_generation_prompt: false, ...special }),
      formatChatExample(messages),
    );
  }
  assert.throws(() =>
    template.render({ messages: [{ role: 'tool', content: 'x' }], add_generation_prompt: true }),
  );
});

test('an exported folder has the files and keys the Hugging Face tools read', () => {
  const out = scratch();
  const tiny = writeTinyModel(32);
  exportHfModel(tiny, out, { readme: '# card\n' });
  for (const f of [
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
    'generation_config.json',
    'feedloop.json',
    'README.md',
  ])
    assert.ok(existsSync(join(out, f)), f);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  const model = loadModel(tiny);
  assert.deepEqual(config['architectures'], ['GPT2LMHeadModel']);
  assert.equal(config['model_type'], 'gpt2');
  assert.equal(config['n_positions'], model.config.contextLength);
  assert.equal(config['n_ctx'], model.config.contextLength);
  assert.equal(config['n_inner'], model.config.dFf);
  assert.equal(config['activation_function'], 'gelu_new');
  assert.equal(config['tie_word_embeddings'], true);
  for (const k of ['resid_pdrop', 'embd_pdrop', 'attn_pdrop']) assert.equal(config[k], 0);
  const generation = JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')) as {
    eos_token_id: number[];
  };
  assert.deepEqual(generation.eos_token_id, [model.tokenizer.endId, model.tokenizer.endOfTextId]);
  const { metadata, dtypes } = decodeSafetensors(readFileSync(join(out, 'model.safetensors')));
  assert.deepEqual(metadata, { format: 'pt' });
  assert.ok(Object.values(dtypes).every((d) => d === 'F32'));
  assert.ok('transformer.h.1.attn.c_attn.weight' in dtypes && 'transformer.wte.weight' in dtypes);
  tf.dispose(Object.values(model.params));
});

test('a numpy implementation of HF GPT-2 gives feedloop logits from the exported folder', async () => {
  await useBackend('wasm');
  const out = scratch();
  const tiny = writeTinyModel(33);
  exportHfModel(tiny, out);
  const ours = logitsOf(tiny);
  const theirs = referenceLogits(out, IDS).flat();
  assert.equal(theirs.length, ours.length);
  const err = relativeError(theirs, ours);
  assert.ok(err < 1e-4, `relative error ${err}`);
  // The check can fail: other weights give other logits.
  assert.ok(relativeError(referenceLogits(out, IDS).flat(), logitsOf(writeTinyModel(34))) > 1e-2);
});

test('a hub-style folder (no prefix, BF16, mask buffers, no chat tokens) imports and generates', async () => {
  await useBackend('wasm');
  const src = writeHubStyleFolder({ seed: 3 });
  const dest = join(scratch(), 'imported');
  const result = importHfModel(src, dest);
  assert.deepEqual(result.addedTokens, SPECIAL_TOKEN_LIST.slice(1));
  assert.equal(result.config.vocabSize, HUB_VOCAB() + 4);
  assert.equal(result.storedAs, 'BF16');
  assert.equal(result.sourceConfig['n_inner'], null);
  assert.match(result.sourceSha256, /^[0-9a-f]{64}$/);
  const model = loadModel(dest);
  assert.equal(model.tokenizer.vocabSize, HUB_VOCAB() + 4);
  assert.equal(model.tokenizer.endOfTextId, HUB_VOCAB() - 1);
  const manifest = JSON.parse(readFileSync(join(dest, 'feedloop.json'), 'utf8')) as {
    source: { sha256: string };
  };
  assert.equal(manifest.source.sha256, result.sourceSha256);

  // New rows are the mean of the old ones; the old rows and every other weight are unchanged.
  const wte = model.params['tok_emb']!.arraySync() as number[][];
  const mean = wte
    .slice(0, HUB_VOCAB())
    .reduce((acc, row) => acc.map((v, j) => v + row[j]!), new Array<number>(32).fill(0));
  for (const row of wte.slice(HUB_VOCAB()))
    row.forEach((v, j) =>
      assert.ok(Math.abs(v - mean[j]! / HUB_VOCAB()) < 1e-2 * Math.max(1e-3, Math.abs(v)) + 1e-6),
    );
  // Logits over the original vocabulary match the numpy reading of the source folder.
  const theirs = referenceLogits(src, IDS);
  const ours = tf.tidy(
    () => forward(model.params, model.config, tf.tensor2d([IDS], [1, IDS.length], 'int32')).arraySync()[0]!,
  );
  const err = relativeError(theirs.flat(), ours.map((row) => row.slice(0, HUB_VOCAB())).flat());
  assert.ok(err < 1e-4, `relative error ${err}`);

  // It chats: a prompt in the chat format generates tokens and stops within the budget.
  const prompt = await model.tokenizer.encode(formatChatPrompt([{ role: 'user', content: 'Hello?' }]));
  const session = new GenerationSession(model, prompt, { maxTokens: 6, temperature: 0.8, seed: 1 });
  let result2 = null;
  while (!result2) {
    const ev = await session.step();
    if (ev.done) result2 = ev.result!;
  }
  assert.ok(result2.completionTokens >= 1 && result2.completionTokens <= 6);
  tf.dispose(Object.values(model.params));
});

test('export then import gives identical logits, in F32 and in BF16', async () => {
  await useBackend('wasm');
  const first = join(scratch(), 'first');
  importHfModel(writeHubStyleFolder({ seed: 4, prefix: true, buffers: false }), first);
  const before = logitsOf(first);
  for (const floats of ['F32', 'BF16'] as const) {
    const exported = join(scratch(), 'export');
    exportHfModel(first, exported, { floats });
    const again = join(scratch(), 'again');
    const result = importHfModel(exported, again);
    assert.deepEqual(result.addedTokens, []);
    assert.deepEqual(logitsOf(again), before);
  }
  // feedloop's own model too: its tokenizer already has the chat tokens.
  const tiny = writeTinyModel(35);
  const exported = join(scratch(), 'export');
  exportHfModel(tiny, exported);
  const back = join(scratch(), 'back');
  assert.deepEqual(importHfModel(exported, back).addedTokens, []);
  assert.deepEqual(logitsOf(back), logitsOf(tiny));
});

test('sharded weights with a model.safetensors.index.json import like one file', async () => {
  await useBackend('wasm');
  const single = writeHubStyleFolder({ seed: 5, floats: 'F32' });
  const sharded = writeHubStyleFolder({ seed: 5, floats: 'F32' });
  const { tensors } = decodeSafetensors(readFileSync(join(sharded, 'model.safetensors')));
  const names = Object.keys(tensors).sort();
  const half = Math.floor(names.length / 2);
  const weightMap: Record<string, string> = {};
  ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].forEach((file, i) => {
    const part = Object.fromEntries(
      (i ? names.slice(half) : names.slice(0, half)).map((n) => [n, tensors[n]!]),
    );
    for (const n of Object.keys(part)) weightMap[n] = file;
    writeFileSync(join(sharded, file), encodeSafetensors(part, { format: 'pt' }));
  });
  writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
  rmSync(join(sharded, 'model.safetensors'));
  const a = join(scratch(), 'a');
  const b = join(scratch(), 'b');
  importHfModel(single, a);
  importHfModel(sharded, b);
  assert.deepEqual(logitsOf(b), logitsOf(a));
});

/** Each refusal names its field, and leaves nothing behind. */
function assertRefused(src: string, field: string | RegExp, options: { confineTo?: string } = {}): void {
  const parent = scratch();
  const dest = join(parent, 'model');
  assert.throws(
    () => importHfModel(src, dest, options),
    (err: unknown) => {
      assert.ok(err instanceof HfFormatError, `expected an HfFormatError, got ${String(err)}`);
      if (typeof field === 'string') assert.equal(err.field, field);
      else assert.match(err.field, field);
      assert.ok(err.message.startsWith(err.field));
      return true;
    },
  );
  assert.deepEqual(readdirSync(parent), [], 'a failed import leaves no folder behind');
}

test('configs feedloop cannot reproduce are refused, naming the field', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ activation_function: 'relu' }, 'config.json activation_function'],
    [{ scale_attn_by_inverse_layer_idx: true }, 'config.json scale_attn_by_inverse_layer_idx'],
    [{ add_cross_attention: true }, 'config.json add_cross_attention'],
    [{ reorder_and_upcast_attn: true }, 'config.json reorder_and_upcast_attn'],
    [{ scale_attn_weights: false }, 'config.json scale_attn_weights'],
    [{ model_type: 'gpt_neo' }, 'config.json model_type'],
    [{ n_head: 3 }, 'config.json n_head'],
    [{ n_layer: 0 }, 'config.json n_layer'],
    [{ n_inner: 64 }, 'model.safetensors h.0.mlp.c_fc.weight'],
    [{ n_positions: 64 }, 'model.safetensors wpe.weight'],
    [{ vocab_size: HUB_VOCAB() + 1 }, 'model.safetensors wte.weight'],
    [{ tie_word_embeddings: false }, 'config.json tie_word_embeddings'],
  ];
  for (const [config, field] of cases) assertRefused(writeHubStyleFolder({ config }), field);
  // Accepted variants: the same GELU under its PyTorch name, a tied lm_head that equals wte.
  for (const options of [
    { config: { activation_function: 'gelu_pytorch_tanh' } },
    { lmHead: 'tied' as const },
  ]) {
    const dest = join(scratch(), 'ok');
    importHfModel(writeHubStyleFolder(options), dest);
    assert.ok(existsSync(join(dest, 'model.safetensors')));
  }
});

test('missing files, an lm_head that differs from wte and foreign tensors are refused, naming them', () => {
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    const src = writeHubStyleFolder();
    rmSync(join(src, file));
    assertRefused(src, file);
  }
  assertRefused(writeHubStyleFolder({ lmHead: 'different' }), 'model.safetensors lm_head.weight');
  const score = { dtype: 'F32' as const, shape: [2, 32], data: new Float32Array(64) };
  assertRefused(writeHubStyleFolder({ extra: { 'score.weight': score } }), 'model.safetensors score.weight');
  const src = writeHubStyleFolder();
  writeFileSync(join(src, 'config.json'), '{ not json');
  assertRefused(src, 'config.json');
  const tok = writeHubStyleFolder();
  writeFileSync(join(tok, 'tokenizer.json'), '{"model": 1}');
  assertRefused(tok, 'tokenizer.json');
});

test('with confineTo, a folder whose files link outside it is refused', () => {
  const root = scratch();
  mkdirSync(join(root, 'linked'));
  const inside = writeHubStyleFolder({}, join(root, 'linked'));
  const outside = writeHubStyleFolder();
  rmSync(join(inside, 'model.safetensors'));
  symlinkSync(join(outside, 'model.safetensors'), join(inside, 'model.safetensors'));
  assertRefused(inside, 'model.safetensors', { confineTo: root });
  // The same folder without the confinement imports (the link is followed).
  importHfModel(inside, join(scratch(), 'ok'));
  // A folder that is itself a link out of the root is refused at its first file.
  symlinkSync(outside, join(root, 'escape'));
  assertRefused(join(root, 'escape'), 'config.json', { confineTo: root });
});

test('runHfTask imports in a worker thread and carries a refusal field across', async () => {
  const dest = join(scratch(), 'threaded');
  const result = await runHfTask({ kind: 'import', src: writeHubStyleFolder({ seed: 9 }), dest });
  assert.equal(result.config.vocabSize, hubModelConfig().vocabSize + 4);
  assert.ok(existsSync(join(dest, 'feedloop.json')));
  await assert.rejects(
    runHfTask({
      kind: 'import',
      src: writeHubStyleFolder({ config: { activation_function: 'relu' } }),
      dest: join(scratch(), 'x'),
    }),
    (err: unknown) => err instanceof HfFormatError && err.field === 'config.json activation_function',
  );
});
