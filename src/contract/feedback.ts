// Request and response shapes for explicit feedback: ratings, pairwise votes, flags, corrections.
import { z } from 'zod';
import { isoDate, uuid } from './http.ts';

export const MAX_CORRECTION_CHARS = 20_000;
export const MAX_FLAG_COMMENT_CHARS = 2_000;
export const MAX_RATING_REASON_CHARS = 2_000;

export const ratingKind = z.enum(['thumbs', 'stars']);
export const thumbsValue = z.enum(['up', 'down']);
export const starsValue = z.number().int().min(1).max(5);
export const pairwiseChoice = z.enum(['a', 'b', 'tie', 'both_bad']);
export const flagCategory = z.enum(['inaccurate', 'harmful_or_biased', 'irrelevant', 'unsafe', 'other']);
export const reviewStatus = z.enum(['pending', 'approved', 'rejected']);

/** Why, in the rater's words; optional. Rating again without one clears the earlier reason. */
const ratingReason = z.string().trim().max(MAX_RATING_REASON_CHARS).optional();

export const ratingBody = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('thumbs'), value: thumbsValue, reason: ratingReason }),
  z.strictObject({ kind: z.literal('stars'), value: starsValue, reason: ratingReason }),
]);

export const deleteRatingQuery = z.strictObject({
  /** Which rating to remove; without it, all of yours on the message. */
  kind: ratingKind.optional(),
});

const ratingTimes = {
  messageId: z.string(),
  reason: z.string().nullable(),
  createdAt: isoDate,
  updatedAt: isoDate,
};
export const ratingView = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('thumbs'), value: thumbsValue, ...ratingTimes }),
  z.object({ kind: z.literal('stars'), value: starsValue, ...ratingTimes }),
]);

export const voteBody = z
  .strictObject({ messageAId: uuid, messageBId: uuid, choice: pairwiseChoice })
  .refine((v) => v.messageAId !== v.messageBId, {
    path: ['messageBId'],
    message: 'must differ from messageAId',
  })
  .describe(
    'Two different assistant messages with the same parent (answers to one prompt). Voting again on a ' +
      'pair, in either order, replaces the earlier vote.',
  );

export const voteView = z.object({
  id: z.string(),
  messageAId: z.string(),
  messageBId: z.string(),
  choice: pairwiseChoice,
  /** When the current choice was made (voting again on a pair moves it). */
  createdAt: isoDate,
});

export const flagBody = z.strictObject({
  category: flagCategory,
  comment: z.string().trim().max(MAX_FLAG_COMMENT_CHARS).optional(),
});

export const flagView = z.object({
  id: z.string(),
  messageId: z.string(),
  category: flagCategory,
  comment: z.string().nullable(),
  status: reviewStatus,
  createdAt: isoDate,
});

export const correctionText = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_CORRECTION_CHARS)
  .describe(
    `The better answer: at most ${MAX_CORRECTION_CHARS} characters, different from the original ` +
      '(surrounding whitespace ignored)',
  );
export const correctionBody = z.strictObject({ text: correctionText });

export const correctionView = z.object({
  id: z.string(),
  messageId: z.string(),
  submittedText: z.string(),
  correctedText: z.string(),
  status: reviewStatus,
  createdAt: isoDate,
});

const byStatus = z.object({
  pending: z.number().int(),
  approved: z.number().int(),
  rejected: z.number().int(),
});

/** What people said about one message, counted; `mine` is the caller's own ratings. */
export const feedbackSummaryView = z.object({
  thumbs: z.object({ up: z.number().int(), down: z.number().int() }),
  stars: z.object({ count: z.number().int(), average: z.number().nullable() }),
  /** Pairwise votes as seen from this message: preferred over / less than its sibling, tie, both bad. */
  votes: z.object({
    won: z.number().int(),
    lost: z.number().int(),
    tie: z.number().int(),
    bothBad: z.number().int(),
  }),
  flags: byStatus,
  corrections: byStatus,
  mine: z.object({ thumbs: thumbsValue.nullable(), stars: starsValue.nullable() }),
  /** The reasons the caller gave with their ratings. */
  myReasons: z.object({ thumbs: z.string().nullable(), stars: z.string().nullable() }),
});

export type FlagCategory = z.output<typeof flagCategory>;
export type PairwiseChoice = z.output<typeof pairwiseChoice>;
export type RatingBody = z.input<typeof ratingBody>;
export type VoteBody = z.input<typeof voteBody>;
export type FlagBody = z.input<typeof flagBody>;
export type CorrectionBody = z.input<typeof correctionBody>;
export type FeedbackSummary = z.output<typeof feedbackSummaryView>;
