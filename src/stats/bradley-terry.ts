// Bradley–Terry ratings from pairwise outcomes: P(i beats j) = p_i / (p_i + p_j). Fitted with
// Hunter's MM iteration (p_i <- W_i / sum_j n_ij / (p_i + p_j)); a tie counts half a win to each
// side. So that a player with no wins (or a graph in pieces) still gets a finite rating, each player
// also plays PRIOR_GAMES virtual games against a fixed reference of strength 1 and ties them: a
// weak prior that pulls ratings to the reference while data are few. The 95% interval of each
// log-strength comes from the Fisher information at the fit (the inverse of the observed
// information matrix, which the fixed reference makes invertible), for the strengths centred on
// their mean.
import { Z95 } from './statistics.ts';

/** An outcome between players `a` and `b`, seen `count` times (default 1). */
export interface PairOutcome {
  a: number;
  b: number;
  /** 1: a won; 0: b won; 0.5: a tie. */
  scoreA: number;
  count?: number;
}

export interface BradleyTerryFit {
  /** Natural-log strengths, centred on the players' mean. */
  theta: number[];
  /** Standard errors of the centred theta (Fisher information). */
  se: number[];
  iterations: number;
}

/** Virtual tied games each player plays against the reference. */
export const PRIOR_GAMES = 1;
/** Elo-style scale: 400 points are odds of 10 to 1; the players' mean is 1000. */
export const ELO_SCALE = 400 / Math.LN10;
export const ELO_BASE = 1000;

export function fitBradleyTerry(
  players: number,
  outcomes: readonly PairOutcome[],
  options: { maxIterations?: number; tolerance?: number } = {},
): BradleyTerryFit {
  const maxIterations = options.maxIterations ?? 10_000;
  const tolerance = options.tolerance ?? 1e-10;
  // games[i][j]: games between i and j; wins[i]: i's score (ties as halves), the prior included.
  const games = Array.from({ length: players }, () => new Float64Array(players));
  const wins = new Float64Array(players).fill(PRIOR_GAMES / 2);
  for (const o of outcomes) {
    if (o.a === o.b) throw new RangeError('fitBradleyTerry: a player cannot face itself');
    const n = o.count ?? 1;
    games[o.a]![o.b]! += n;
    games[o.b]![o.a]! += n;
    wins[o.a]! += n * o.scoreA;
    wins[o.b]! += n * (1 - o.scoreA);
  }
  let p = new Float64Array(players).fill(1);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const next = new Float64Array(players);
    let change = 0;
    for (let i = 0; i < players; i++) {
      // The reference (strength 1) as one more opponent.
      let denominator = PRIOR_GAMES / (p[i]! + 1);
      for (let j = 0; j < players; j++) {
        if (j !== i && games[i]![j]! > 0) denominator += games[i]![j]! / (p[i]! + p[j]!);
      }
      next[i] = wins[i]! / denominator;
      change = Math.max(change, Math.abs(Math.log(next[i]!) - Math.log(p[i]!)));
    }
    p = next;
    if (change < tolerance) {
      iterations += 1;
      break;
    }
  }
  const theta = Array.from(p, (x) => Math.log(x));
  // Observed information of theta: sum over games of q(1 - q) (e_i - e_j)(e_i - e_j)^T, plus the
  // prior's games against the fixed reference on the diagonal.
  const info = Array.from({ length: players }, () => new Float64Array(players));
  for (let i = 0; i < players; i++) {
    const qr = p[i]! / (p[i]! + 1);
    info[i]![i]! += PRIOR_GAMES * qr * (1 - qr);
    for (let j = 0; j < players; j++) {
      if (j === i || games[i]![j]! === 0) continue;
      const q = p[i]! / (p[i]! + p[j]!);
      const w = games[i]![j]! * q * (1 - q);
      info[i]![i]! += w;
      info[i]![j]! -= w;
    }
  }
  const covariance = invert(info);
  // Ratings are read against each other, so they are reported centred on the players' mean: the
  // level against the prior's reference is barely known and would only widen every interval.
  const k = players;
  const mean = theta.reduce((s, x) => s + x, 0) / k;
  const rowSums = covariance.map((row) => row.reduce((s, x) => s + x, 0));
  const total = rowSums.reduce((s, x) => s + x, 0);
  const se = theta.map((_, i) =>
    Math.sqrt(Math.max(0, covariance[i]![i]! - (2 / k) * rowSums[i]! + total / (k * k))),
  );
  return { theta: theta.map((x) => x - mean), se, iterations };
}

/** A rating on the Elo-style scale with its 95% interval. */
export function eloRating(theta: number, se: number, z = Z95) {
  return {
    rating: ELO_BASE + ELO_SCALE * theta,
    low: ELO_BASE + ELO_SCALE * (theta - z * se),
    high: ELO_BASE + ELO_SCALE * (theta + z * se),
  };
}

/** Gauss–Jordan inverse of a small symmetric positive definite matrix. */
function invert(matrix: Float64Array[]): Float64Array[] {
  const n = matrix.length;
  const a = matrix.map((row) => Float64Array.from(row));
  const inv = Array.from({ length: n }, (_, i) => {
    const row = new Float64Array(n);
    row[i] = 1;
    return row;
  });
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    [inv[col], inv[pivot]] = [inv[pivot]!, inv[col]!];
    const d = a[col]![col]!;
    if (d === 0) throw new RangeError('fitBradleyTerry: singular information matrix');
    for (let k = 0; k < n; k++) {
      a[col]![k]! /= d;
      inv[col]![k]! /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = a[r]![col]!;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        a[r]![k]! -= f * a[col]![k]!;
        inv[r]![k]! -= f * inv[col]![k]!;
      }
    }
  }
  return inv;
}
