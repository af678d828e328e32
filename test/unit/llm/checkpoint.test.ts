import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKPOINT_FILES, loadModel } from '../../../src/llm/checkpoint.ts';
import { initParams } from '../../../src/llm/params.ts';
import { decodeSafetensors } from '../../../src/llm/safetensors.ts';
import { forward } from '../../../src/llm/transformer.ts';
import { tinyConfig, useBackend, writeTinyModel } from '../../helpers/llm.ts';

test('save then load gives identical logits', async () => {
  await useBackend('wasm');
  const config = tinyConfig();
  const params = initParams(config, 11);
  const dir = writeTinyModel(11, params);
  const tokens = tf.tensor2d([[5, 17, 42, 99, 7, 3]], [1, 6], 'int32');
  const before = forward(params, config, tokens).dataSync();
  const loaded = loadModel(dir);
  const after = forward(loaded.params, loaded.config, tokens).dataSync();
  assert.deepEqual(after, before);
  assert.deepEqual(loaded.config, config);
  // A different seed really gives different logits, so equality above is meaningful.
  const other = forward(initParams(config, 12), config, tokens).dataSync();
  assert.notDeepEqual(other, before);
});

test('weights file is standard safetensors in HF names: u64 header length, JSON header, raw f32 data, format pt', () => {
  const dir = writeTinyModel(13);
  const buf = readFileSync(join(dir, CHECKPOINT_FILES.weights));
  const headerLen = Number(buf.readBigUInt64LE(0));
  assert.equal((8 + headerLen) % 8, 0);
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  assert.deepEqual(header['__metadata__'], { format: 'pt' });
  const emb = header['transformer.wte.weight']!;
  assert.equal(emb.dtype, 'F32');
  assert.deepEqual(emb.shape, [tinyConfig().vocabSize, tinyConfig().dModel]);
  assert.equal(emb.data_offsets[1] - emb.data_offsets[0], 4 * emb.shape[0]! * emb.shape[1]!);
  const { tensors } = decodeSafetensors(buf);
  assert.equal(Object.keys(tensors).length, Object.keys(header).filter((k) => k !== '__metadata__').length);
});

test('loading refuses weights that do not match the config', () => {
  const dir = writeTinyModel(14);
  const cfgPath = join(dir, CHECKPOINT_FILES.config);
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, number>;
  writeFileSync(cfgPath, JSON.stringify({ ...cfg, n_inner: cfg['n_inner']! * 2 }));
  assert.throws(() => loadModel(dir), /model\.safetensors transformer\.h\.0\.mlp\.c_fc\.weight: has shape/);
});

test('F16 storage halves the weights file and keeps logits within half-precision error', async () => {
  await useBackend('wasm');
  const config = tinyConfig();
  const params = initParams(config, 15);
  const full = loadModel(writeTinyModel(15, params));
  const dir = writeTinyModel(15, params);
  const tokenizer = full.tokenizer;
  const { saveModel } = await import('../../../src/llm/checkpoint.ts');
  saveModel(dir, { config, params, tokenizer, manifest: {} }, { floats: 'F16' });
  const half = loadModel(dir);
  const tokens = tf.tensor2d([[5, 17, 42, 99, 7, 3]], [1, 6], 'int32');
  const a = forward(full.params, config, tokens).dataSync();
  const b = forward(half.params, config, tokens).dataSync();
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  assert.ok(maxDiff > 0 && maxDiff < 1e-2, `max logit difference ${maxDiff}`);
  const sizeOf = (d: string) => readFileSync(join(d, CHECKPOINT_FILES.weights)).length;
  assert.ok(sizeOf(dir) < 0.55 * sizeOf(full.dir));
});

test('BF16 storage round-trips bfloat16 values exactly and rounds others to nearest even', async () => {
  const { bfloat16ToFloats, floatsToBfloat16 } = await import('../../../src/llm/half.ts');
  const exact = Float32Array.from([0, 1, -2, 0.5, 3.140625, -1e-30, 2 ** 100]);
  assert.deepEqual(bfloat16ToFloats(floatsToBfloat16(exact)), bfloat16ToFloats(floatsToBfloat16(exact)));
  for (const v of [0, 1, -2, 0.5, 3.140625])
    assert.equal(bfloat16ToFloats(floatsToBfloat16(Float32Array.of(v)))[0], v);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  assert.equal(bfloat16ToFloats(floatsToBfloat16(Float32Array.of(1 + 2 ** -8)))[0], 1);
  assert.equal(bfloat16ToFloats(floatsToBfloat16(Float32Array.of(1 + 3 * 2 ** -9)))[0], 1 + 2 ** -7);
  assert.ok(Number.isNaN(bfloat16ToFloats(floatsToBfloat16(Float32Array.of(NaN)))[0]));
});

test('a folder of the older feedloop layout still loads, and upgrading it keeps the weights bit for bit', async () => {
  await useBackend('wasm');
  const { encodeSafetensors } = await import('../../../src/llm/safetensors.ts');
  const { toHost, upgradeModelFolder } = await import('../../../src/llm/checkpoint.ts');
  const config = tinyConfig();
  const params = initParams(config, 16);
  const dir = writeTinyModel(16, params);
  // Rewrite it as the older layout: feedloop's config keys, internal tensor names, manifest.json.
  for (const f of [
    'feedloop.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
    'generation_config.json',
  ])
    rmSync(join(dir, f));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ kind: 'old' }));
  writeFileSync(join(dir, CHECKPOINT_FILES.weights), encodeSafetensors(toHost(params), {}, 'F16'));
  const tokens = tf.tensor2d([[5, 17, 42, 99, 7, 3]], [1, 6], 'int32');
  const old = loadModel(dir);
  assert.equal(old.manifest['kind'], 'old');
  const before = forward(old.params, config, tokens).dataSync();
  assert.deepEqual(upgradeModelFolder(dir), { upgraded: true });
  assert.ok(!existsSync(join(dir, 'manifest.json')));
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg['model_type'], 'gpt2');
  assert.equal(cfg['torch_dtype'], 'float16');
  const upgraded = loadModel(dir);
  assert.equal(upgraded.manifest['kind'], 'old');
  assert.deepEqual(forward(upgraded.params, config, tokens).dataSync(), before);
  assert.deepEqual(upgradeModelFolder(dir), { upgraded: false });
});

test('half conversion is exact for representable values and rounds to nearest', async () => {
  const { toHalfBits, fromHalfBits } = await import('../../../src/llm/half.ts');
  for (const v of [0, 1, -2, 0.5, 65504, 2 ** -24, 0.0999755859375])
    assert.equal(fromHalfBits(toHalfBits(v)), v);
  assert.equal(fromHalfBits(toHalfBits(1 + 2 ** -12)), 1);
  assert.equal(fromHalfBits(toHalfBits(1e6)), Infinity);
});
