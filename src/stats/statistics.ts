// Interval estimates for evaluation metrics. Every metric in a report carries its 95% interval so
// the promotion gate can tell a real change from the noise of a few hundred items.

export type Interval = [number, number];

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/**
 * The standard normal quantile: z with P(Z <= z) = p, for 0 < p < 1 (Acklam's rational
 * approximation, relative error below 1.2e-9). normalQuantile(0.975) is Z95.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
    ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
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
  if (values.length === 0) return 0;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Sample standard deviation (n - 1); 0 for fewer than two values. */
export function sampleSd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  let s = 0;
  for (const v of values) s += (v - m) ** 2;
  return Math.sqrt(s / (values.length - 1));
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
