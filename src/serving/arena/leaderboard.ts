// The arena leaderboard: each version's Bradley–Terry rating from the voted battles (a tie or "both
// bad" is half a win to each side), with its 95% interval from the Fisher information, and its
// battles, wins, losses and ties. Only blind arena votes count: a vote cast knowing the names is not
// the same evidence.
import type { Db } from '../../platform/db/client.ts';
import { eloRating, fitBradleyTerry, type PairOutcome } from '../../stats/bradley-terry.ts';
import type { LeaderboardView } from '../../contract/arena.ts';

const SCORE_A = { a: 1, b: 0, tie: 0.5, both_bad: 0.5 } as const;

export async function arenaLeaderboard(db: Db, options: { days?: number } = {}): Promise<LeaderboardView> {
  const since = options.days ? new Date(Date.now() - options.days * 86_400_000) : undefined;
  const battles = await db.arenaBattle.findMany({
    where: { vote: { isNot: null }, ...(since ? { votedAt: { gte: since } } : {}) },
    select: {
      versionAId: true,
      versionBId: true,
      vote: { select: { choice: true } },
      versionA: { select: { name: true } },
      versionB: { select: { name: true } },
    },
  });
  const index = new Map<string, number>();
  const names: string[] = [];
  const ids: string[] = [];
  const seat = (id: string, name: string) => {
    let i = index.get(id);
    if (i === undefined) {
      i = ids.length;
      index.set(id, i);
      ids.push(id);
      names.push(name);
    }
    return i;
  };
  const tally: { battles: number; wins: number; losses: number; ties: number }[] = [];
  const outcomes: PairOutcome[] = [];
  for (const b of battles) {
    const a = seat(b.versionAId, b.versionA.name);
    const o = seat(b.versionBId, b.versionB.name);
    const scoreA = SCORE_A[b.vote!.choice];
    outcomes.push({ a, b: o, scoreA });
    for (const [i, score] of [
      [a, scoreA],
      [o, 1 - scoreA],
    ] as const) {
      tally[i] ??= { battles: 0, wins: 0, losses: 0, ties: 0 };
      tally[i].battles += 1;
      if (score === 1) tally[i].wins += 1;
      else if (score === 0) tally[i].losses += 1;
      else tally[i].ties += 1;
    }
  }
  const fit = fitBradleyTerry(ids.length, outcomes);
  return {
    battles: battles.length,
    method:
      'Bradley–Terry (MM), ties as half wins, one virtual tie per version against a fixed reference; ratings centred on 1000 (400 points: odds of 10 to 1); 95% intervals from the Fisher information',
    versions: ids
      .map((id, i) => ({
        version: names[i]!,
        versionId: id,
        ...eloRating(fit.theta[i]!, fit.se[i]!),
        ...tally[i]!,
      }))
      .sort((x, y) => y.rating - x.rating || x.version.localeCompare(y.version)),
  };
}
