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

/**
 * Thresholds come from a native numeric sort of the values (fast for a 4k vocabulary); candidates
 * are the tokens at or above the top-k / top-p cut-off (ties at the cut-off are all kept).
 */
export function sampleToken(
  logits: Float32Array,
  opts: SamplingOptions,
  rng: Rng,
  banned: ReadonlySet<number> = new Set(),
): number {
  const masked = banned.size ? Float32Array.from(logits, (v, i) => (banned.has(i) ? -Infinity : v)) : logits;
  if (opts.temperature <= 0) return argmax(masked);
  const sorted = Float32Array.from(masked).sort().reverse();
  const finite = sorted.findIndex((v) => v === -Infinity);
  const available = finite < 0 ? sorted.length : finite;
  const max = sorted[0]!;
  let keep = opts.topK > 0 ? Math.min(opts.topK, available) : available;
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
