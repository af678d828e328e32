// Data hygiene for dataset builds: PII scrubbing (./pii.ts), near-duplicate removal, the stable
// train/validation split and synthetic prompt variants. All pure.
import { createHash } from 'node:crypto';
import type { ChatMessage } from '../llm/index.ts';
import { normalizeText } from '../suites/contamination.ts';
import { NearDuplicateIndex } from './near-duplicates.ts';

export { scrubPii } from './pii.ts';

/**
 * Keeps the first of every group of near-duplicates, in the given order (put the best first).
 * Texts are compared by word-trigram Jaccard similarity, through a prefix-filter index
 * (./near-duplicates.ts): the same result as comparing each text with every kept one, at a cost
 * that grows with the near-duplicate candidates rather than with the square of the kept texts.
 */
export function dropNearDuplicates<T>(
  items: readonly T[],
  textOf: (item: T) => string,
  threshold: number,
): { kept: T[]; dropped: number } {
  const index = new NearDuplicateIndex(threshold);
  const kept = items.filter((item) => index.offer(textOf(item)));
  return { kept, dropped: items.length - kept.length };
}

/**
 * The split of a prompt, from a hash of its normalized text: stable across builds and machines, and
 * every answer to one prompt lands on the same side (no prompt is both trained on and validated).
 */
export function splitOf(prompt: readonly ChatMessage[], validationPercent: number): 'train' | 'validation' {
  const key = prompt.map((m) => `${m.role}:${normalizeText(m.content)}`).join('\n');
  const bucket = createHash('sha256').update(key).digest().readUInt32BE(0) % 100;
  return bucket < validationPercent ? 'validation' : 'train';
}

const VARIANTS: ((text: string) => string)[] = [
  (t) => `Please answer: ${t}`,
  (t) => `Can you tell me: ${t}`,
  (t) => `${t.replace(/[?.!]\s*$/, '')}? Keep it short.`,
  (t) => `Question: ${t}`,
];

/**
 * Up to `count` rephrasings of the last user turn (fixed templates, so builds stay reproducible);
 * variants identical to the original are skipped.
 */
export function promptVariants(prompt: readonly ChatMessage[], count: number): ChatMessage[][] {
  const last = prompt.findLastIndex((m) => m.role === 'user');
  if (last < 0) return [];
  const original = prompt[last]!.content;
  const out: ChatMessage[][] = [];
  for (const variant of VARIANTS) {
    if (out.length >= count) break;
    const content = variant(original);
    if (content === original) continue;
    out.push(prompt.map((m, i) => (i === last ? { role: m.role, content } : m)));
  }
  return out;
}
