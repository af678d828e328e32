// The nearest-rank percentile the serving benchmarks report latencies with.

/** The smallest sample with at least `p` percent of the samples at or below it; NaN for none. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
