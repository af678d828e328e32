// Fixtures for fine-tuning tests: a tiny base model folder (from the model tests' tiny tokenizer)
// and tiny dataset snapshot folders in the TRL row shapes src/datasets writes.
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/llm/index.ts';
import { writeTinyModel } from './llm.ts';

export { useBackend } from './llm.ts';

const FACTS = [
  ['What is the capital of France?', 'The capital of France is Paris.', 'The capital of France is Rome.'],
  ['What is the capital of Italy?', 'The capital of Italy is Rome.', 'The capital of Italy is Madrid.'],
  ['What is the capital of Spain?', 'The capital of Spain is Madrid.', 'The capital of Spain is Paris.'],
  [
    'Which city is the capital of France?',
    'Paris is the capital city of France.',
    'A dog is a member of the genus Canis.',
  ],
] as const;

const user = (content: string) => [{ role: 'user', content }];
const assistant = (content: string) => [{ role: 'assistant', content }];
const meta = { source: 'correction', weight: 1, synthetic: false };

export function sftRow(question: string, answer: string, weight = 1) {
  return { messages: [...user(question), ...assistant(answer)], ...meta, weight };
}

export function jsonl(rows: unknown[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

export interface TinyDatasetOptions {
  /** Validation answers are the rejected ones: validation loss rises as training succeeds. */
  adversarialValidation?: boolean;
  /** Train SFT on the wrong answers instead (to make a base that knows them). */
  trainOnRejected?: boolean;
  /** Copies of the facts in the train split. */
  repeats?: number;
}

/** A snapshot folder with all three formats; validation repeats the facts once. */
export function writeTinyDataset(options: TinyDatasetOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'feedloop-ds-'));
  const repeats = options.repeats ?? 4;
  const train = Array.from({ length: repeats }, () => FACTS).flat();
  const sft = train.map(([q, a, r]) => sftRow(q, options.trainOnRejected ? r : a));
  const preference = train.map(([q, c, r]) => ({
    prompt: user(q),
    chosen: assistant(c),
    rejected: assistant(r),
    ...meta,
  }));
  const kto = train.flatMap(([q, c, r]) => [
    { prompt: user(q), completion: assistant(c), label: true, ...meta },
    { prompt: user(q), completion: assistant(r), label: false, ...meta },
  ]);
  const validationSft = FACTS.map(([q, a, r]) => sftRow(q, options.adversarialValidation ? r : a));
  writeFileSync(join(dir, 'sft.train.jsonl'), jsonl(sft));
  writeFileSync(join(dir, 'sft.validation.jsonl'), jsonl(validationSft));
  writeFileSync(join(dir, 'preference.train.jsonl'), jsonl(preference));
  writeFileSync(join(dir, 'preference.validation.jsonl'), jsonl(preference.slice(0, FACTS.length)));
  writeFileSync(join(dir, 'kto.train.jsonl'), jsonl(kto));
  writeFileSync(join(dir, 'kto.validation.jsonl'), jsonl(kto.slice(0, 2 * FACTS.length)));
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({ contentHash: `test-${dir.slice(-6)}`, sizes: { sft: { train: sft.length } } }),
  );
  return dir;
}

export function tinyBase(seed = 1): string {
  return writeTinyModel(seed);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `feedloop-${prefix}-`));
}

/** Weights of a model folder as plain arrays (and no tensors left behind). */
export function readWeights(dir: string): Record<string, Float32Array> {
  const m = loadModel(dir);
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(m.params)) out[name] = t.dataSync() as Float32Array;
  tf.dispose(Object.values(m.params));
  return out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}
