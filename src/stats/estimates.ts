// 95% intervals for the online metrics: Wilson's score interval for rates (sound near 0 and 1 and
// for small counts) and the normal interval of a mean for stars.
export const Z_95 = 1.959964;

export interface Estimate {
  /** The point estimate; null when there is nothing to estimate from. */
  value: number | null;
  low: number | null;
  high: number | null;
  /** How many observations it rests on. */
  n: number;
}

/** A share `successes / n` with its Wilson score interval. */
export function wilson(successes: number, n: number, z = Z_95): Estimate {
  if (n === 0) return { value: null, low: null, high: null, n };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { value: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half), n };
}

/** A mean from its count, sum and sum of squares, with a normal 95% interval clamped to [min, max]. */
export function meanInterval(n: number, sum: number, sumSquares: number, min: number, max: number): Estimate {
  if (n === 0) return { value: null, low: null, high: null, n };
  const mean = sum / n;
  if (n === 1) return { value: mean, low: min, high: max, n };
  const variance = Math.max(0, (sumSquares - n * mean * mean) / (n - 1));
  const half = Z_95 * Math.sqrt(variance / n);
  return { value: mean, low: Math.max(min, mean - half), high: Math.min(max, mean + half), n };
}
