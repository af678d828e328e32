// Interval estimates for evaluation metrics. Every metric in a report carries its 95% interval so
// the promotion gate can tell a real change from the noise of a few hundred items. Quantiles and
// moments come from @stdlib; Wilson and Agresti-Caffo intervals, which it lacks, are written here.
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantileOf from '@stdlib/stats-base-dists-normal-quantile';
import stdlibMean from '@stdlib/stats-base-mean';
import stdev from '@stdlib/stats-base-stdev';

export type Interval = [number, number];

/** The standard normal quantile: z with P(Z <= z) = p, for 0 < p < 1 (@stdlib). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  return normalQuantileOf(p, 0, 1);
}

/** z for a two-sided 95% interval. */
export const Z95 = normalQuantile(0.975);

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/**
 * Wilson score interval for `successes` out of `n` (better than the normal approximation near 0
 * and 1, where small models live). Successes may be fractional (ties counted as halves).
 * n = 0 gives the uninformative [0, 1].
 */
export function wilsonInterval(successes: number, n: number, z = Z95): Interval {
  if (n <= 0) return [0, 1];
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return [clamp01(centre - half), clamp01(centre + half)];
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : stdlibMean(values.length, values as number[], 1);
}

/** Sample standard deviation (n - 1); 0 for fewer than two values. */
export function sampleSd(values: readonly number[]): number {
  return values.length < 2 ? 0 : stdev(values.length, 1, values as number[], 1);
}

/** Normal-approximation interval for a mean: m +- z * sd / sqrt(n). */
export function meanInterval(values: readonly number[], z = Z95): { value: number; interval: Interval } {
  const m = mean(values);
  if (values.length === 0) return { value: 0, interval: [0, 0] };
  const half = (z * sampleSd(values)) / Math.sqrt(values.length);
  return { value: m, interval: [m - half, m + half] };
}

/**
 * Difference of two proportions a - b with the Agresti-Caffo interval (one success and one failure
 * added to each group before the normal approximation). The plain Wald interval collapses to
 * [0, 0] when both groups score 0, which would make any later change look significant.
 */
export function proportionDifference(
  a: { successes: number; n: number },
  b: { successes: number; n: number },
  z = Z95,
): { value: number; interval: Interval } {
  const pa = a.n > 0 ? a.successes / a.n : 0;
  const pb = b.n > 0 ? b.successes / b.n : 0;
  const ta = (a.successes + 1) / (a.n + 2);
  const tb = (b.successes + 1) / (b.n + 2);
  const se = Math.sqrt((ta * (1 - ta)) / (a.n + 2) + (tb * (1 - tb)) / (b.n + 2));
  const centre = ta - tb;
  return { value: pa - pb, interval: [Math.max(-1, centre - z * se), Math.min(1, centre + z * se)] };
}

/** Half the width of an interval: the noise band the gate compares changes against. */
export function halfWidth(interval: Interval): number {
  return (interval[1] - interval[0]) / 2;
}

/** P(|Z| >= |z|) for a standard normal Z (@stdlib's normal CDF). */
export function twoSidedP(z: number): number {
  if (!Number.isFinite(z)) return Number.isNaN(z) ? 1 : 0;
  return Math.min(1, 2 * (1 - normalCdf(Math.abs(z), 0, 1)));
}

/**
 * The two-proportion z test of a against b with the pooled standard error: z and its two-sided
 * p-value (1 when neither group has any variation to test).
 */
export function twoProportionTest(
  a: { successes: number; n: number },
  b: { successes: number; n: number },
): { z: number; pValue: number } {
  if (a.n === 0 || b.n === 0) return { z: 0, pValue: 1 };
  const pooled = (a.successes + b.successes) / (a.n + b.n);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n));
  if (se === 0) return { z: 0, pValue: 1 };
  const z = (a.successes / a.n - b.successes / b.n) / se;
  return { z, pValue: twoSidedP(z) };
}

/**
 * The difference of two means from their count, sum and sum of squares: the value a - b, a normal
 * 95% interval with unpooled (Welch) variances, and the z test's two-sided p-value. Nulls when a
 * group has fewer than two values.
 */
export function meanDifferenceTest(
  a: { n: number; sum: number; squares: number },
  b: { n: number; sum: number; squares: number },
  z = Z95,
): { value: number | null; low: number | null; high: number | null; pValue: number | null } {
  if (a.n < 2 || b.n < 2) return { value: null, low: null, high: null, pValue: null };
  const moments = (g: { n: number; sum: number; squares: number }) => {
    const m = g.sum / g.n;
    return { m, v: Math.max(0, (g.squares - g.n * m * m) / (g.n - 1)) / g.n };
  };
  const ma = moments(a);
  const mb = moments(b);
  const value = ma.m - mb.m;
  const se = Math.sqrt(ma.v + mb.v);
  if (se === 0) return { value, low: value, high: value, pValue: value === 0 ? 1 : 0 };
  return { value, low: value - z * se, high: value + z * se, pValue: twoSidedP(value / se) };
}

/**
 * Observations per group for a two-sided two-proportion z test at level alpha to detect rates p0
 * against p1 with the given power (Fleiss' formula without continuity correction).
 */
export function sampleSizeForProportions(
  p0: number,
  p1: number,
  options: { alpha?: number; power?: number } = {},
): number {
  const alpha = options.alpha ?? 0.05;
  const power = options.power ?? 0.8;
  const delta = Math.abs(p1 - p0);
  if (delta === 0) throw new RangeError('sampleSizeForProportions: the rates must differ');
  const za = normalQuantile(1 - alpha / 2);
  const zb = normalQuantile(power);
  const mid = (p0 + p1) / 2;
  const n =
    (za * Math.sqrt(2 * mid * (1 - mid)) + zb * Math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))) ** 2 / delta ** 2;
  return Math.ceil(n);
}
