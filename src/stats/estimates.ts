// 95% estimates for the online metrics, in the shape the insights API returns ({value, low, high,
// n}): Wilson's score interval for rates (sound near 0 and 1 and for small counts) and the normal
// interval of a mean for stars, computed from SQL aggregates.
import { wilsonInterval, Z95 } from './statistics.ts';

export interface Estimate {
  /** The point estimate; null when there is nothing to estimate from. */
  value: number | null;
  low: number | null;
  high: number | null;
  /** How many observations it rests on. */
  n: number;
}

/** A share `successes / n` with its Wilson score interval. */
export function rateEstimate(successes: number, n: number, z = Z95): Estimate {
  if (n === 0) return { value: null, low: null, high: null, n };
  const [low, high] = wilsonInterval(successes, n, z);
  return { value: successes / n, low, high, n };
}

/** A mean from its count, sum and sum of squares, with a normal 95% interval clamped to [min, max]. */
export function meanEstimate(n: number, sum: number, sumSquares: number, min: number, max: number): Estimate {
  if (n === 0) return { value: null, low: null, high: null, n };
  const mean = sum / n;
  if (n === 1) return { value: mean, low: min, high: max, n };
  const variance = Math.max(0, (sumSquares - n * mean * mean) / (n - 1));
  const half = Z95 * Math.sqrt(variance / n);
  return { value: mean, low: Math.max(min, mean - half), high: Math.min(max, mean + half), n };
}
