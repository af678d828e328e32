// Learning-rate schedules as pure functions of the step, so resuming needs only the step number.

export interface WarmupCosine {
  warmupSteps: number;
  totalSteps: number;
  peakLr: number;
  minLr: number;
}

/** Linear warm-up from 0 to peakLr, then cosine decay to minLr at totalSteps (flat after). */
export function warmupCosineLr(step: number, s: WarmupCosine): number {
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (s.peakLr * (step + 1)) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - s.warmupSteps) / span));
  return s.minLr + 0.5 * (s.peakLr - s.minLr) * (1 + Math.cos(Math.PI * progress));
}

export interface Cyclic {
  cycleSteps: number;
  minLr: number;
  maxLr: number;
  /** triangular: linear up then down; cosine: warm restarts (SGDR) from maxLr down to minLr. */
  shape: 'triangular' | 'cosine';
}

export function cyclicLr(step: number, s: Cyclic): number {
  const pos = (step % s.cycleSteps) / s.cycleSteps;
  if (s.shape === 'cosine') return s.minLr + 0.5 * (s.maxLr - s.minLr) * (1 + Math.cos(Math.PI * pos));
  const tri = pos < 0.5 ? pos * 2 : 2 - pos * 2;
  return s.minLr + (s.maxLr - s.minLr) * tri;
}
