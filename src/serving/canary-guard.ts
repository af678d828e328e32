// The canary guard (FEEDLOOP_CANARY_GUARD, off by default): once a canary of the current split and
// the baseline each have the minimum sample, a canary whose thumbs-down rate (over thumbs ratings)
// or harmful-flag rate (over answers) is worse than the baseline's beyond the 95% interval of the
// difference stops the split. The stop is audited with the figures that caused it.
import type { Database } from '../platform/db/client.ts';
import { proportionDifference } from '../stats/statistics.ts';
import { armCounts, baselineArm, splitWindow, type ArmCounts } from './split-comparison.ts';
import { currentSplit, endCurrentSplit } from './traffic-split.ts';

export interface GuardFinding {
  version: string;
  metric: 'thumbsDownRate' | 'harmfulFlagRate';
  canary: { successes: number; n: number };
  baseline: { successes: number; n: number };
  difference: number;
  low: number;
  high: number;
}

export interface GuardVerdict {
  splitId: string | null;
  stopped: boolean;
  findings: GuardFinding[];
}

const MEASURES: { metric: GuardFinding['metric']; of: (c: ArmCounts) => { successes: number; n: number } }[] =
  [
    { metric: 'thumbsDownRate', of: (c) => ({ successes: c.thumbsDown, n: c.thumbs }) },
    { metric: 'harmfulFlagRate', of: (c) => ({ successes: c.harmfulFlagged, n: c.answers }) },
  ];

/** Judges the current split; stops it (audited, actor null) when a canary is worse beyond its interval. */
export async function checkCanaryGuard(
  db: Pick<Database, 'pool' | 'prisma'>,
  options: { minSample: number },
): Promise<GuardVerdict> {
  const split = await currentSplit(db.prisma);
  if (!split || split.arms.length < 2) return { splitId: split?.id ?? null, stopped: false, findings: [] };
  const baseline = baselineArm(split);
  const counts = await armCounts(
    db,
    split.arms.map((a) => a.modelVersionId),
    splitWindow(split),
  );
  const base = counts.get(baseline.modelVersionId)!;
  const findings: GuardFinding[] = [];
  for (const arm of split.arms) {
    if (arm.modelVersionId === baseline.modelVersionId) continue;
    const c = counts.get(arm.modelVersionId)!;
    for (const { metric, of } of MEASURES) {
      const canary = of(c);
      const reference = of(base);
      if (canary.n < options.minSample || reference.n < options.minSample) continue;
      const d = proportionDifference(canary, reference);
      // Worse beyond the interval: even the interval's low end has the canary doing worse.
      if (d.interval[0] > 0) {
        findings.push({
          version: arm.modelVersion.name,
          metric,
          canary,
          baseline: reference,
          difference: d.value,
          low: d.interval[0],
          high: d.interval[1],
        });
      }
    }
  }
  if (findings.length === 0) return { splitId: split.id, stopped: false, findings };
  const stopped = await db.prisma.$transaction((tx) =>
    endCurrentSplit(tx, {
      actorId: null,
      splitId: split.id,
      action: 'traffic_split.guard_stop',
      reason: `canary guard: ${findings.map((f) => `${f.version} ${f.metric}`).join(', ')} worse than ${baseline.modelVersion.name} beyond the 95% interval`,
      details: { baseline: baseline.modelVersion.name, minSample: options.minSample, findings },
    }),
  );
  return { splitId: split.id, stopped: stopped !== null, findings };
}
