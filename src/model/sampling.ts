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

export function sampleToken(
  logits: Float32Array,
  opts: SamplingOptions,
  rng: Rng,
  banned: ReadonlySet<number> = new Set(),
): number {
  const masked = banned.size ? Float32Array.from(logits, (v, i) => (banned.has(i) ? -Infinity : v)) : logits;
  if (opts.temperature <= 0) return argmax(masked);
  let order = Array.from(masked.keys()).filter((i) => masked[i]! > -Infinity);
  order.sort((a, b) => masked[b]! - masked[a]!);
  if (opts.topK > 0 && opts.topK < order.length) order = order.slice(0, opts.topK);
  const max = masked[order[0]!]!;
  const weights = order.map((i) => Math.exp((masked[i]! - max) / opts.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let keep = order.length;
  if (opts.topP < 1) {
    let cumulative = 0;
    for (let j = 0; j < order.length; j++) {
      cumulative += weights[j]! / total;
      if (cumulative >= opts.topP) {
        keep = j + 1;
        break;
      }
    }
  }
  const kept = weights.slice(0, keep);
  const keptTotal = kept.reduce((a, b) => a + b, 0);
  let r = rng() * keptTotal;
  for (let j = 0; j < keep; j++) {
    r -= kept[j]!;
    if (r <= 0) return order[j]!;
  }
  return order[keep - 1]!;
}
