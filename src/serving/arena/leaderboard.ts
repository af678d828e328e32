// The arena leaderboard: each version's Bradley–Terry rating from the voted battles (a tie or "both
// bad" is half a win to each side), with its 95% interval from the Fisher information, and its
// battles, wins, losses and ties. Only blind arena votes count: a vote cast knowing the names is not
// the same evidence.
import { Prisma, type PairwiseChoice } from '../../generated/prisma/client.ts';
import type { Db } from '../../platform/db/client.ts';
import { eloRating, fitBradleyTerry, type PairOutcome } from '../../stats/bradley-terry.ts';
import type { LeaderboardView } from '../../contract/arena.ts';

const SCORE_A = { a: 1, b: 0, tie: 0.5, both_bad: 0.5 } as const;

/**
 * Voted battles counted by pair of versions and vote, in Postgres: the leaderboard's cost grows with
 * the number of versions, not of battles (it read every voted battle on each request). Served by the
 * voted_at index when `since` is given, else one scan of the voted battles.
 */
async function votedPairs(db: Db, since: Date | undefined) {
  return db.$queryRaw<
    {
      version_a_id: string;
      version_b_id: string;
      name_a: string;
      name_b: string;
      choice: PairwiseChoice;
      n: number;
    }[]
  >`SELECT b.version_a_id, b.version_b_id, va.name AS name_a, vb.name AS name_b, v.choice, count(*)::int AS n
      FROM arena_battles b
      JOIN pairwise_votes v ON v.id = b.vote_id
      JOIN model_versions va ON va.id = b.version_a_id
      JOIN model_versions vb ON vb.id = b.version_b_id
     WHERE b.vote_id IS NOT NULL ${since ? Prisma.sql`AND b.voted_at >= ${since}` : Prisma.empty}
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2, 5`;
}

export async function arenaLeaderboard(db: Db, options: { days?: number } = {}): Promise<LeaderboardView> {
  const since = options.days ? new Date(Date.now() - options.days * 86_400_000) : undefined;
  const pairs = await votedPairs(db, since);
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
  let battles = 0;
  for (const p of pairs) {
    const a = seat(p.version_a_id, p.name_a);
    const o = seat(p.version_b_id, p.name_b);
    const scoreA = SCORE_A[p.choice];
    outcomes.push({ a, b: o, scoreA, count: p.n });
    battles += p.n;
    for (const [i, score] of [
      [a, scoreA],
      [o, 1 - scoreA],
    ] as const) {
      tally[i] ??= { battles: 0, wins: 0, losses: 0, ties: 0 };
      tally[i].battles += p.n;
      if (score === 1) tally[i].wins += p.n;
      else if (score === 0) tally[i].losses += p.n;
      else tally[i].ties += p.n;
    }
  }
  const fit = fitBradleyTerry(ids.length, outcomes);
  return {
    battles,
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
