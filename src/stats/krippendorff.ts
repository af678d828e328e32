// Krippendorff's alpha: agreement among any number of raters, with missing judgements, for nominal,
// ordinal and interval values (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").
// alpha = 1 - D_o / D_e: 1 is perfect agreement, 0 is what chance gives, below 0 is systematic
// disagreement. Computed from the coincidence matrix of pairable values.

export type MeasurementLevel = 'nominal' | 'ordinal' | 'interval';

/** One unit (an item) as the values its raters gave; null or undefined is a missing judgement. */
export type ReliabilityUnit<V> = ReadonlyArray<V | null | undefined>;

export interface AlphaResult {
  /** null when undefined: no unit has two values, or every value is the same (no variation). */
  alpha: number | null;
  /** Units with at least two values (only those are pairable). */
  units: number;
  /** Pairable values (n.. in Krippendorff's notation). */
  values: number;
  observedDisagreement: number;
  expectedDisagreement: number;
}

/**
 * Krippendorff's alpha of `units` at `level`. Nominal values may be strings or numbers; ordinal and
 * interval values must be numbers (ordinal uses only their order).
 */
export function krippendorffAlpha<V extends string | number>(
  units: ReadonlyArray<ReliabilityUnit<V>>,
  level: MeasurementLevel,
): AlphaResult {
  return prepareAlpha(units, level).result;
}

/**
 * Alpha prepared for resampling units: `result` is alpha of the units as given, and `ofCounts`
 * gives alpha when unit i (of the pairable units, in order) is taken counts[i] times, in time
 * proportional to the units drawn rather than rebuilding the coincidence matrix from values. The
 * bootstrap over units uses it.
 */
export function prepareAlpha<V extends string | number>(
  units: ReadonlyArray<ReliabilityUnit<V>>,
  level: MeasurementLevel,
): { result: AlphaResult; pairableUnits: number; ofCounts(counts: ArrayLike<number>): number | null } {
  const pairable = units
    .map((u) => u.filter((v): v is V => v !== null && v !== undefined))
    .filter((u) => u.length >= 2);
  const distinct = [...new Set(pairable.flat())];
  if (level !== 'nominal' && distinct.some((v) => typeof v !== 'number'))
    throw new TypeError(`krippendorffAlpha: ${level} values must be numbers`);
  if (level !== 'nominal') (distinct as number[]).sort((a, b) => a - b);
  const index = new Map(distinct.map((v, i) => [v, i]));
  const size = distinct.length;

  // Each unit's share of the coincidence matrix: (ordered c-k pairs from different raters) / (m_u - 1),
  // kept as (cell, amount) entries.
  const cells: Int32Array[] = [];
  const amounts: Float64Array[] = [];
  for (const unit of pairable) {
    const counts = new Map<number, number>();
    for (const v of unit) {
      const c = index.get(v)!;
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    const weight = 1 / (unit.length - 1);
    const unitCells: number[] = [];
    const unitAmounts: number[] = [];
    for (const [c, nc] of counts) {
      for (const [k, nk] of counts) {
        const pairs = c === k ? nc * (nc - 1) : nc * nk;
        if (pairs === 0) continue;
        unitCells.push(c * size + k);
        unitAmounts.push(pairs * weight);
      }
    }
    cells.push(Int32Array.from(unitCells));
    amounts.push(Float64Array.from(unitAmounts));
  }

  const o = new Float64Array(size * size);
  const alphaOf = (unitsTaken: number): AlphaResult => {
    const marginals = new Float64Array(size);
    for (let c = 0; c < size; c++) for (let k = 0; k < size; k++) marginals[c]! += o[c * size + k]!;
    const n = marginals.reduce((sum, x) => sum + x, 0);
    const delta2 = differenceFunction(level, distinct as V[], marginals);
    let observed = 0;
    let expected = 0;
    for (let c = 0; c < size; c++) {
      for (let k = 0; k < size; k++) {
        if (c === k) continue;
        const d = delta2(c, k);
        observed += o[c * size + k]! * d;
        expected += marginals[c]! * marginals[k]! * d;
      }
    }
    const observedDisagreement = n > 0 ? observed / n : 0;
    const expectedDisagreement = n > 1 ? expected / (n * (n - 1)) : 0;
    return {
      alpha: expectedDisagreement > 0 ? 1 - observedDisagreement / expectedDisagreement : null,
      units: unitsTaken,
      values: n,
      observedDisagreement,
      expectedDisagreement,
    };
  };
  const fill = (times: (i: number) => number): number => {
    o.fill(0);
    let taken = 0;
    for (let i = 0; i < cells.length; i++) {
      const t = times(i);
      if (t === 0) continue;
      taken += t;
      const unitCells = cells[i]!;
      const unitAmounts = amounts[i]!;
      for (let e = 0; e < unitCells.length; e++) o[unitCells[e]!]! += t * unitAmounts[e]!;
    }
    return taken;
  };

  const result = alphaOf(fill(() => 1));
  return {
    result,
    pairableUnits: pairable.length,
    ofCounts: (counts) => alphaOf(fill((i) => counts[i] ?? 0)).alpha,
  };
}

/** The squared difference delta^2(c, k) between the c-th and k-th distinct values. */
function differenceFunction<V>(
  level: MeasurementLevel,
  values: V[],
  marginals: Float64Array,
): (c: number, k: number) => number {
  if (level === 'nominal') return (c, k) => (c === k ? 0 : 1);
  if (level === 'interval') return (c, k) => ((values[c] as number) - (values[k] as number)) ** 2;
  // Ordinal: (sum of n_g for g from c to k, minus half of n_c and n_k), squared; values sorted.
  const cumulative = new Float64Array(values.length + 1);
  for (let g = 0; g < values.length; g++) cumulative[g + 1] = cumulative[g]! + marginals[g]!;
  return (c, k) => {
    const [lo, hi] = c < k ? [c, k] : [k, c];
    return (cumulative[hi + 1]! - cumulative[lo]! - (marginals[lo]! + marginals[hi]!) / 2) ** 2;
  };
}
