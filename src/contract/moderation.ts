// Request and response shapes for the moderation queues (corrections and flags) and decisions.
import { z } from 'zod';
import { isoDate, nextCursor, pageQuery, uuid } from './http.ts';
import { messageRole } from './conversations.ts';
import { correctionText, flagCategory, reviewStatus } from './feedback.ts';

export const MAX_REASON_CHARS = 2_000;

/** Which items to list; the queue (pending) unless asked otherwise. */
const statusFilter = z
  .enum(['pending', 'approved', 'rejected', 'all'])
  .default('pending')
  .describe('pending (the default), approved, rejected, or all');

export const listCorrectionsQuery = pageQuery.extend({
  status: statusFilter,
  /** Only corrections of answers from this model version. */
  modelVersionId: uuid.optional(),
});

export const listFlagsQuery = pageQuery.extend({
  status: statusFilter,
  category: flagCategory.optional(),
  modelVersionId: uuid.optional(),
});

const reason = z.string().trim().min(1, 'must not be empty').max(MAX_REASON_CHARS);

export const approveCorrectionBody = z.strictObject({
  reason,
  /** Edit, then approve: replaces correctedText; the user's submittedText is kept. */
  text: correctionText.optional(),
});
export const decisionBody = z.strictObject({ reason });

const person = z.object({ id: z.string(), email: z.string() });

const reviewedMessage = z.object({
  id: z.string(),
  conversationId: z.string(),
  content: z.string(),
  modelVersionId: z.string().nullable(),
  createdAt: isoDate,
});

/** The message the answer replied to; null when the answer has no parent. */
const prompt = z.object({ id: z.string(), role: messageRole, content: z.string() }).nullable();

const review = {
  status: reviewStatus,
  createdAt: isoDate,
  reviewedAt: isoDate.nullable(),
  reviewReason: z.string().nullable(),
  submitter: person,
  reviewer: person.nullable(),
  message: reviewedMessage,
  prompt,
};

export const correctionReviewView = z.object({
  id: z.string(),
  submittedText: z.string(),
  correctedText: z.string(),
  updatedAt: isoDate,
  ...review,
});

export const flagReviewView = z.object({
  id: z.string(),
  category: flagCategory,
  comment: z.string().nullable(),
  ...review,
});

/** How far the submitter's feedback is trusted in datasets, and why not fully. */
const submitterTrust = z.object({
  trust: z.number().describe('0 (ignored) to 1 (full weight)'),
  status: z.enum(['trusted', 'down_weighted', 'excluded']),
  reasons: z.array(z.string()),
});

export const correctionQueue = z.object({
  corrections: z.array(correctionReviewView.extend({ submitterTrust })),
  nextCursor,
  /** The older form of nextCursor (the last item's id, for `before`). */
  nextBefore: z.string().nullable(),
});
export const flagQueue = z.object({
  flags: z.array(flagReviewView.extend({ submitterTrust })),
  nextCursor,
  /** The older form of nextCursor (the last item's id, for `before`). */
  nextBefore: z.string().nullable(),
});
export type SubmitterTrust = z.output<typeof submitterTrust>;
export type CorrectionQueueItem = z.output<typeof correctionQueue>['corrections'][number];
export type FlagQueueItem = z.output<typeof flagQueue>['flags'][number];
export type ApproveCorrectionBody = z.input<typeof approveCorrectionBody>;
export type DecisionBody = z.input<typeof decisionBody>;
