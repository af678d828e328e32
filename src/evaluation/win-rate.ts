// Win rate of a candidate version against the active one from the per-item scores stored in
// their reports: no generation, so it costs nothing after both evaluations.
import type { EvaluationReport, WinRate } from '../contract/evaluation.ts';
import { wilsonInterval } from '../stats/statistics.ts';

/** Compares items present in both reports: a win is a higher candidate score, a tie an equal one. */
export function winRate(candidate: EvaluationReport, active: EvaluationReport): WinRate {
  let wins = 0;
  let ties = 0;
  let losses = 0;
  for (const [id, c] of Object.entries(candidate.items)) {
    const a = active.items[id];
    if (!a) continue;
    if (c.score > a.score) wins++;
    else if (c.score < a.score) losses++;
    else ties++;
  }
  const n = wins + ties + losses;
  const successes = wins + ties / 2;
  return {
    winRate: n > 0 ? successes / n : 0,
    wins,
    ties,
    losses,
    n,
    interval: wilsonInterval(successes, n),
  };
}
