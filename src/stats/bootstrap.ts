// The percentile bootstrap: an interval for any statistic of a sample whose distribution has no
// closed form (Krippendorff's alpha, for one), by recomputing it on resamples drawn with replacement.
// Seeded, so the same data give the same interval.

export interface BootstrapOptions {
  /** How many resamples (default 1000). */
  resamples?: number;
  /** Two-sided confidence level (default 0.95). */
  confidence?: number;
  /** Seed of the resampling (default 1). */
  seed?: number;
}

export interface BootstrapInterval {
  low: number;
  high: number;
  /** Resamples on which the statistic was defined (the interval rests on these). */
  resamples: number;
}

/** A small seeded generator (mulberry32): uniform in [0, 1). */
function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The q-quantile of sorted values, interpolating linearly between neighbours. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantileSorted: no values');
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/**
 * The percentile interval of `statistic` over resamples of `items` (each the same size as
 * `items`, drawn with replacement). Resamples where the statistic is undefined (null or NaN) are
 * left out; null when none is defined.
 */
export function bootstrapInterval<T>(
  items: readonly T[],
  statistic: (sample: T[]) => number | null,
  options: BootstrapOptions = {},
): BootstrapInterval | null {
  const sample: T[] = new Array<T>(items.length);
  return bootstrapCountsInterval(
    items.length,
    (counts) => {
      let next = 0;
      for (let i = 0; i < counts.length; i++) for (let t = 0; t < counts[i]!; t++) sample[next++] = items[i]!;
      return statistic(sample);
    },
    options,
  );
}

/**
 * The same interval for a statistic that takes how many times each of `n` items was drawn
 * (counts[i]), for statistics that are sums over items and need not copy a sample. The draws are
 * the same as bootstrapInterval's for the same seed.
 */
export function bootstrapCountsInterval(
  n: number,
  statistic: (counts: Uint32Array) => number | null,
  options: BootstrapOptions = {},
): BootstrapInterval | null {
  const resamples = options.resamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) throw new RangeError('bootstrapInterval: confidence in (0, 1)');
  if (n === 0) return null;
  const uniform = seededUniform(options.seed ?? 1);
  const values: number[] = [];
  const counts = new Uint32Array(n);
  for (let r = 0; r < resamples; r++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[Math.floor(uniform() * n)]! += 1;
    const value = statistic(counts);
    if (value !== null && Number.isFinite(value)) values.push(value);
  }
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  return {
    low: quantileSorted(values, tail),
    high: quantileSorted(values, 1 - tail),
    resamples: values.length,
  };
}
