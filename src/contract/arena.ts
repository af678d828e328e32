// Request and response shapes of the arena: two versions answer one prompt, shown as sides A and B
// without names; the vote reveals them. The leaderboard rates versions by Bradley–Terry.
import { z } from 'zod';
import { isoDate, uuid } from './http.ts';
import { modelName } from './model-versions.ts';
import { samplingOptions } from './sampling.ts';
import { pairwiseChoice } from './feedback.ts';

export const MAX_ARENA_PROMPT_CHARS = 8_000;

export const battleBody = z.strictObject({
  prompt: z.string().trim().min(1, 'must not be empty').max(MAX_ARENA_PROMPT_CHARS),
  /**
   * The two versions to compare (ops and admins; users only versions they may name). Absent: two
   * different versions drawn at random from those the caller may be served.
   */
  models: z
    .tuple([modelName, modelName])
    .refine(([a, b]) => a !== b, { message: 'must name two different versions', path: [1] })
    .optional(),
  options: samplingOptions.optional(),
});
export type BattleBody = z.input<typeof battleBody>;

export const arenaSide = z.enum(['a', 'b']);

const answer = z.object({
  messageId: z.string(),
  content: z.string(),
  finishReason: z.string().nullable(),
});

export const battleView = z.object({
  id: z.string(),
  prompt: z.string(),
  conversationId: z.string(),
  userMessageId: z.string(),
  createdAt: isoDate,
  a: answer,
  b: answer,
  /** Null until the vote: only then are the versions named. */
  vote: z
    .object({
      choice: pairwiseChoice,
      votedAt: isoDate,
      versions: z.object({ a: z.string(), b: z.string() }),
    })
    .nullable(),
});
export type BattleView = z.output<typeof battleView>;

export const battleVoteBody = z.strictObject({ choice: pairwiseChoice });
export const battleParams = z.strictObject({ id: uuid });

export const leaderboardQuery = z.strictObject({
  /** Only battles voted in the last this many days (absent: all). */
  days: z.coerce.number().int().min(1).max(3660).optional(),
});

export const leaderboardView = z.object({
  /** Voted battles the ratings rest on (a tie or "both bad" counts as half a win each). */
  battles: z.number().int(),
  method: z.string(),
  versions: z.array(
    z.object({
      version: z.string(),
      versionId: z.string(),
      /** Elo-style: the versions' mean is 1000, 400 points are odds of 10 to 1. */
      rating: z.number(),
      low: z.number().describe('lower end of the 95% interval'),
      high: z.number().describe('upper end of the 95% interval'),
      battles: z.number().int(),
      wins: z.number().int(),
      losses: z.number().int(),
      ties: z.number().int(),
    }),
  ),
});
export type LeaderboardView = z.output<typeof leaderboardView>;
