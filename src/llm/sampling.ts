// Picks the next token from a logits row: greedy at temperature 0, otherwise temperature,
// top-k and top-p (nucleus) filtering, drawn from a seeded generator for reproducibility.
import type { Rng } from './rng.ts';

export interface SamplingOptions {
  temperature: number;
  /** 0 disables. */
  topK: number;
  /** 1 disables. */
  topP: number;
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Every value above -Infinity, largest first (a native numeric sort). */
function sortedDescending(values: Float32Array): Float32Array {
  const sorted = Float32Array.from(values).sort().reverse();
  const firstMasked = sorted.findIndex((v) => v === -Infinity);
  return firstMasked < 0 ? sorted : sorted.subarray(0, firstMasked);
}

/**
 * The `k` largest values above -Infinity, largest first: what `sortedDescending(values)` starts
 * with, in one pass. A value enters only when it beats the smallest kept one, so for k much
 * smaller than the row (top-40 of a 50k vocabulary) nearly every value costs one comparison;
 * sorting the row took 4-5 ms a token at gpt2's vocabulary.
 */
function largestDescending(values: Float32Array, k: number): Float32Array {
  const top = new Float32Array(k);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === -Infinity || (n === k && v <= top[k - 1]!)) continue;
    // Insert into the descending prefix; the smallest falls off when it is full.
    let j = n < k ? n++ : k - 1;
    while (j > 0 && top[j - 1]! < v) {
      top[j] = top[j - 1]!;
      j--;
    }
    top[j] = v;
  }
  return top.subarray(0, n);
}

/**
 * Thresholds come from the largest values in descending order (all of them without top-k);
 * candidates are the tokens at or above the top-k / top-p cut-off (ties at the cut-off are all
 * kept).
 */
export function sampleToken(
  logits: Float32Array,
  opts: SamplingOptions,
  rng: Rng,
  banned: ReadonlySet<number> = new Set(),
): number {
  const masked = banned.size ? Float32Array.from(logits, (v, i) => (banned.has(i) ? -Infinity : v)) : logits;
  if (opts.temperature <= 0) return argmax(masked);
  const sorted = opts.topK > 0 ? largestDescending(masked, opts.topK) : sortedDescending(masked);
  const max = sorted[0]!;
  let keep = sorted.length;
  if (opts.topP < 1) {
    let total = 0;
    for (let j = 0; j < keep; j++) total += Math.exp((sorted[j]! - max) / opts.temperature);
    let cumulative = 0;
    for (let j = 0; j < keep; j++) {
      cumulative += Math.exp((sorted[j]! - max) / opts.temperature) / total;
      if (cumulative >= opts.topP) {
        keep = j + 1;
        break;
      }
    }
  }
  const cutoff = sorted[keep - 1]!;
  const ids: number[] = [];
  const weights: number[] = [];
  let sum = 0;
  for (let i = 0; i < masked.length; i++) {
    if (masked[i]! >= cutoff) {
      const w = Math.exp((masked[i]! - max) / opts.temperature);
      ids.push(i);
      weights.push(w);
      sum += w;
    }
  }
  let r = rng() * sum;
  for (let j = 0; j < ids.length; j++) {
    r -= weights[j]!;
    if (r <= 0) return ids[j]!;
  }
  return ids[ids.length - 1]!;
}
