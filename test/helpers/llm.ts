// Shared fixtures for model tests: a tiny tokenizer trained on a few sentences and tiny model
// folders, all built in a temp dir so tests never depend on the committed checkpoint.
import * as tf from '@tensorflow/tfjs';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../../src/llm/checkpoint.ts';
import { modelConfigFor, type ModelConfig } from '../../src/llm/config.ts';
import { formatChatExample } from '../../src/llm/chat-format.ts';
import { initParams, type ParamTensors } from '../../src/llm/params.ts';
import { TextTokenizer, trainTokenizer } from '../../src/llm/tokenizer.ts';

export const TINY_VOCAB = 320;

const SENTENCES = [
  'The capital of France is Paris.',
  'The capital of Italy is Rome.',
  'The capital of Spain is Madrid.',
  'Paris is the capital city of France.',
  'To breathe means to draw air into, and expel out of, the lungs.',
  'A dog is a member of the genus Canis.',
  formatChatExample([
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: 'The capital of France is Paris.' },
  ]),
];

export function tinyCorpus(repeats = 20): string {
  const lines: string[] = [];
  for (let r = 0; r < repeats; r++) lines.push(...SENTENCES);
  return lines.join('\n') + '\n';
}

let cached: TextTokenizer | null = null;
export function tinyTokenizer(): TextTokenizer {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'feedloop-tok-'));
  const file = join(dir, 'corpus.txt');
  writeFileSync(file, tinyCorpus());
  cached = new TextTokenizer(trainTokenizer([file], TINY_VOCAB));
  return cached;
}

export function tinyConfig(vocabSize = tinyTokenizer().vocabSize): ModelConfig {
  return modelConfigFor('tiny', vocabSize);
}

/** Writes a tiny random model folder and returns its path. */
export function writeTinyModel(seed = 1, params?: ParamTensors): string {
  const tokenizer = tinyTokenizer();
  const config = tinyConfig(tokenizer.vocabSize);
  const dir = mkdtempSync(join(tmpdir(), 'feedloop-model-'));
  const p = params ?? initParams(config, seed);
  saveModel(dir, { config, params: p, tokenizer, manifest: { seed, test: true } });
  if (!params) for (const t of Object.values(p)) t.dispose();
  return dir;
}

/** Largest |a-b| relative to the largest |a| (guards against tiny denominators). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return diff / scale;
}

export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend(name);
  await tf.ready();
}

/**
 * Writes a tiny random model to MODEL_DIR/<name> (registration checks the folder is a loadable
 * model); `remove` takes it away again, for tests whose MODEL_DIR is shared.
 */
export function placeTinyModel(modelDir: string, name: string): { dir: string; remove(): void } {
  const source = writeTinyModel(5);
  const dir = join(modelDir, name);
  cpSync(source, dir, { recursive: true });
  rmSync(source, { recursive: true, force: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
