// `npx tsx bench/decode-profile.ts [--model dir | --import-to dir] [--new-tokens n]`: where one
// token of single-stream generation goes on the active backend, for a gpt2-small-sized import or
// any model folder. Times the first token cold (one-time costs: weight packing, the transposed
// output embedding) and warm, then each decoding step split into the model's forward pass and
// read-back (wall and CPU time), sampling and detokenising, then one step's kernels by name
// (tf.profile, wall time). With `--import-to`, a random gpt2-small hub folder is imported there
// first (kept for later runs).
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/llm/backend.ts';
import { formatChatPrompt } from '../src/llm/chat-format.ts';
import { loadModel } from '../src/llm/checkpoint.ts';
import { MODEL_SIZES } from '../src/llm/config.ts';
import { decodeStep, prefill } from '../src/llm/generate.ts';
import { runHfTask } from '../src/llm/hf-thread.ts';
import { mulberry32 } from '../src/llm/rng.ts';
import { sampleToken } from '../src/llm/sampling.ts';
import { disposeCache } from '../src/llm/transformer.ts';
import { GPT2_VOCAB, writeHubFolder } from './hub-folder.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    'import-to': { type: 'string' },
    'new-tokens': { type: 'string', default: '64' },
  },
});
const log = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const ms = (x: number) => Math.round(x * 100) / 100;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function modelDir(): Promise<string> {
  if (values.model) return values.model;
  const dest = values['import-to'];
  if (!dest) throw new Error('give --model <dir> or --import-to <dir>');
  if (existsSync(join(dest, 'config.json'))) return dest;
  const hub = mkdtempSync(join(tmpdir(), 'feedloop-decode-profile-'));
  try {
    writeHubFolder(hub, { ...MODEL_SIZES['gpt2-small'], vocabSize: GPT2_VOCAB });
    await runHfTask({ kind: 'import', src: hub, dest });
  } finally {
    rmSync(hub, { recursive: true, force: true });
  }
  return dest;
}

const backend = await selectBackend();
log({ stage: 'backend', backend: backend.backend });
const model = loadModel(await modelDir());
const { params, config, tokenizer } = model;
const ids = await tokenizer.encode(
  formatChatPrompt([{ role: 'user', content: 'What is the capital of France?' }]),
);
const opts = { temperature: 0.8, topK: 40, topP: 0.95 };
const rng = mulberry32(1);

let t = performance.now();
disposeCache(prefill(params, config, ids).cache);
const coldMs = performance.now() - t;
t = performance.now();
let { logits, cache } = prefill(params, config, ids);
log({
  stage: 'first-token',
  promptTokens: ids.length,
  coldMs: ms(coldMs),
  warmMs: ms(performance.now() - t),
});

const generated: number[] = [];
const parts = {
  model: [] as number[],
  modelCpu: [] as number[],
  sample: [] as number[],
  detokenise: [] as number[],
};
for (let i = 0; i < Number(values['new-tokens']); i++) {
  t = performance.now();
  const id = sampleToken(logits, opts, rng);
  parts.sample.push(performance.now() - t);
  t = performance.now();
  generated.push(id);
  tokenizer.decodeWithoutSpecials(generated);
  parts.detokenise.push(performance.now() - t);
  t = performance.now();
  const cpu = process.cpuUsage();
  ({ logits, cache } = decodeStep(params, config, cache, id));
  parts.model.push(performance.now() - t);
  const used = process.cpuUsage(cpu);
  parts.modelCpu.push((used.user + used.system) / 1000);
}
const perToken = {
  modelMs: ms(median(parts.model)),
  // CPU time is steadier than wall time on a shared machine.
  modelCpuMs: ms(median(parts.modelCpu)),
  sampleMs: ms(median(parts.sample)),
  detokeniseMs: ms(median(parts.detokenise)),
};
log({ stage: 'decode', steps: generated.length, cacheLength: ids.length + generated.length, ...perToken });

const profile = await tf.profile(() => {
  const r = decodeStep(params, config, cache, generated.at(-1)!);
  cache = r.cache;
});
// Custom-gradient wrappers show up as "unnamed scope" around the kernels they run: left out.
const kernels = new Map<string, { ms: number; calls: number }>();
for (const k of profile.kernels) {
  if (k.name === 'unnamed scope') continue;
  const key = k.name === 'BatchMatMul' ? `BatchMatMul ${JSON.stringify(k.inputShapes)}` : k.name;
  const e = kernels.get(key) ?? { ms: 0, calls: 0 };
  e.ms += k.kernelTimeMs as number;
  e.calls++;
  kernels.set(key, e);
}
const byKernel = [...kernels]
  .sort((a, b) => b[1].ms - a[1].ms)
  .map(([kernel, e]) => ({ kernel, ms: ms(e.ms), calls: e.calls }));
const kernelMs = byKernel.reduce((s, k) => s + k.ms, 0);
log({ stage: 'kernels', totalMs: ms(kernelMs), byKernel });
disposeCache(cache);
