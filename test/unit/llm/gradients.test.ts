import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initParams } from '../../../src/llm/params.ts';
import { crossEntropy } from '../../../src/llm/losses.ts';
import { forward } from '../../../src/llm/transformer.ts';
import { relativeError, tinyConfig, useBackend } from '../../helpers/llm.ts';

// Loss and every parameter gradient on the given backend, read back to host arrays.
function fixture() {
  const config = tinyConfig();
  const params = initParams(config, 42);
  const b = 2;
  const t = 12;
  const ids = Array.from({ length: b * (t + 1) }, (_, i) => (i * 37 + 11) % config.vocabSize);
  const inputs = tf.tensor2d(
    ids.filter((_, i) => i % (t + 1) !== t),
    [b, t],
    'int32',
  );
  const targets = tf.tensor2d(
    ids.filter((_, i) => i % (t + 1) !== 0),
    [b, t],
    'int32',
  );
  const weights = tf.tensor2d(
    Array.from({ length: b * t }, (_, i) => (i % 3 === 0 ? 0 : 1)),
    [b, t],
  );
  return { config, params, inputs, targets, weights };
}

async function lossAndGrads(
  backend: 'cpu' | 'wasm',
): Promise<{ loss: number; grads: Record<string, Float32Array> }> {
  await useBackend(backend);
  const { config, params, inputs, targets, weights } = fixture();
  const names = Object.keys(params);
  const { value, grads } = tf.valueAndGrads((...ts: tf.Tensor[]) => {
    const p = Object.fromEntries(names.map((n, i) => [n, ts[i]!]));
    return crossEntropy(forward(p, config, inputs), targets, weights);
  })(names.map((n) => params[n]!));
  const out = {
    loss: value.dataSync()[0]!,
    grads: Object.fromEntries(names.map((n, i) => [n, grads[i]!.dataSync() as Float32Array])),
  };
  tf.dispose([value, ...grads, inputs, targets, weights, ...Object.values(params)]);
  return out;
}

test('gradients on the wasm backend match the cpu backend', async () => {
  const cpu = await lossAndGrads('cpu');
  const wasm = await lossAndGrads('wasm');
  assert.ok(Math.abs(cpu.loss - wasm.loss) < 1e-4, `loss cpu ${cpu.loss} vs wasm ${wasm.loss}`);
  for (const [name, g] of Object.entries(cpu.grads)) {
    const err = relativeError(g, wasm.grads[name]!);
    assert.ok(err < 1e-3, `${name}: relative gradient error ${err}`);
  }
  // The embedding gradient must be non-trivial (its custom scatter-add path is under test).
  assert.ok(Math.max(...Array.from(cpu.grads['tok_emb']!, Math.abs)) > 0);
});

test('custom gradients (embedding, matmul, cross-entropy) agree with finite differences', async () => {
  await useBackend('cpu');
  const { config, params, inputs, targets, weights } = fixture();
  const names = Object.keys(params);
  const lossOf = (p: Record<string, tf.Tensor>) =>
    tf.tidy(() => crossEntropy(forward(p, config, inputs), targets, weights).dataSync()[0]!);
  const grads = tf.grads((...ts: tf.Tensor[]) =>
    crossEntropy(
      forward(Object.fromEntries(names.map((n, i) => [n, ts[i]!])), config, inputs),
      targets,
      weights,
    ),
  )(names.map((n) => params[n]!));
  for (const name of [
    'tok_emb',
    'pos_emb',
    'blocks.0.attn.wqkv',
    'blocks.0.attn.bqkv',
    'blocks.1.mlp.w2',
    'blocks.1.mlp.b1',
    'ln_f.g',
  ]) {
    const i = names.indexOf(name);
    // Directional derivative along the gradient itself: <g, g/|g|> = |g|.
    const g = grads[i]!;
    const norm = tf.norm(g).dataSync()[0]!;
    const dir = tf.div(g, norm);
    const eps = 1e-2;
    const plus = lossOf({ ...params, [name]: tf.add(params[name]!, tf.mul(dir, eps)) });
    const minus = lossOf({ ...params, [name]: tf.sub(params[name]!, tf.mul(dir, eps)) });
    const numeric = (plus - minus) / (2 * eps);
    assert.ok(Math.abs(numeric - norm) / norm < 0.05, `${name}: analytic ${norm} vs numeric ${numeric}`);
  }
  tf.dispose([...grads, inputs, targets, weights, ...Object.values(params)]);
});
