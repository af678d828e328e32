// Request and response shapes for annotation queues: several raters judge the same answers under
// guidelines and a rubric, leases hand the work out, agreement and consensus come back.
import { z } from 'zod';
import { cursorQuery, isoDate, nextCursor, uuid } from './http.ts';
import { role } from './users.ts';
import { flagCategory, pairwiseChoice, starsValue, thumbsValue } from './feedback.ts';
import { messageRole } from './conversations.ts';

export const MAX_GUIDELINES_CHARS = 50_000;
export const MAX_JUDGEMENT_REASON_CHARS = 2_000;
export const MAX_QUEUE_ITEMS = 5_000;

const label = z.string().trim().min(1, 'must not be empty').max(60);

/**
 * What each judgement holds: any of thumbs, 1-5 stars, a pairwise choice (only for pairs of
 * answers), one of the categorical labels, and a free-text reason (off, optional or required).
 */
export const annotationRubric = z
  .strictObject({
    thumbs: z.boolean().default(false),
    stars: z.boolean().default(false),
    pairwise: z.boolean().default(false),
    labels: z
      .array(label)
      .max(20)
      .default([])
      .refine((ls) => new Set(ls).size === ls.length, 'labels must be distinct'),
    reason: z.enum(['off', 'optional', 'required']).default('optional'),
  })
  .refine(
    (r) => r.thumbs || r.stars || r.pairwise || r.labels.length > 0 || r.reason === 'required',
    'a rubric asks for at least one of thumbs, stars, pairwise, labels or a required reason',
  );
export type AnnotationRubric = z.infer<typeof annotationRubric>;

/** Which answers, by the model version that wrote them and when. */
const answerFilter = {
  modelVersionIds: z.array(uuid).max(50).optional(),
  from: z.coerce.date().optional(),
  to: z.coerce.date().optional(),
  /** At most this many items (a seeded random sample when more qualify). */
  limit: z.number().int().min(1).max(MAX_QUEUE_ITEMS).default(200),
};

/**
 * Where a queue's items come from: a sample of answers (or of pairs of answers to one prompt),
 * answers with a pending or upheld flag, or answers whose raters disagreed (thumbs or stars of
 * opposite polarity from different raters, in chat or in earlier queues).
 */
export const annotationSource = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('sample'),
    /** Pairs of answers to the same prompt (regenerations) instead of single answers. */
    pairs: z.boolean().default(false),
    ...answerFilter,
  }),
  z.strictObject({
    kind: z.literal('flagged'),
    categories: z.array(flagCategory).min(1).optional(),
    ...answerFilter,
  }),
  z.strictObject({ kind: z.literal('disagreement'), ...answerFilter }),
]);
export type AnnotationSource = z.infer<typeof annotationSource>;

/** Whether a source yields pairs of answers (judged with the pairwise rubric). */
export const sourceYieldsPairs = (source: AnnotationSource): boolean =>
  source.kind === 'sample' && source.pairs;

export const annotators = z
  .strictObject({
    roles: z.array(role).default([]),
    userIds: z.array(uuid).max(1_000).default([]),
  })
  .refine((a) => a.roles.length > 0 || a.userIds.length > 0, 'name at least one role or user');

export const createQueueBody = z
  .strictObject({
    name: z.string().trim().min(1, 'must not be empty').max(200),
    /** Markdown; raw HTML in it is shown as text, never rendered. */
    guidelines: z.string().max(MAX_GUIDELINES_CHARS).default(''),
    rubric: annotationRubric,
    source: annotationSource,
    /** How many raters judge each item. */
    overlap: z.number().int().min(1).max(20).default(3),
    /** How long a rater holds an item before it goes back into the queue. */
    leaseSeconds: z.number().int().min(1).max(86_400).default(600),
    annotators,
  })
  .superRefine((body, ctx) => {
    const pairs = sourceYieldsPairs(body.source);
    if (body.rubric.pairwise && !pairs)
      ctx.addIssue({
        code: 'custom',
        path: ['rubric', 'pairwise'],
        message: 'a pairwise rubric needs a source of pairs (sample with pairs: true)',
      });
    if (pairs && !body.rubric.pairwise)
      ctx.addIssue({ code: 'custom', path: ['rubric', 'pairwise'], message: 'pairs are judged pairwise' });
    if (pairs && (body.rubric.thumbs || body.rubric.stars))
      ctx.addIssue({
        code: 'custom',
        path: ['rubric', body.rubric.thumbs ? 'thumbs' : 'stars'],
        message: 'pairs are judged with a pairwise choice, not thumbs or stars',
      });
    if (body.source.from && body.source.to && body.source.from >= body.source.to)
      ctx.addIssue({ code: 'custom', path: ['source', 'to'], message: 'must be after from' });
  });
export type CreateQueueBody = z.infer<typeof createQueueBody>;
/** What a client sends (defaults not yet applied). */
export type CreateQueueInput = z.input<typeof createQueueBody>;

export const queueStatus = z.enum(['open', 'closed']);

export const queueProgress = z.object({
  items: z.number().int(),
  /** Items with `overlap` judgements. */
  completeItems: z.number().int(),
  judgements: z.number().int(),
  /** items x overlap. */
  target: z.number().int(),
  activeLeases: z.number().int(),
  skips: z.number().int(),
});

export const raterProgress = z.object({
  judged: z.number().int(),
  skipped: z.number().int(),
  /** Items this rater could still be handed (not theirs, not judged or skipped by them, not full). */
  available: z.number().int(),
});

export const queueView = z.object({
  id: z.string(),
  name: z.string(),
  guidelines: z.string(),
  rubric: annotationRubric,
  source: annotationSource,
  overlap: z.number().int(),
  leaseSeconds: z.number().int(),
  annotators: z.object({ roles: z.array(role), userIds: z.array(z.string()) }),
  status: queueStatus,
  createdById: z.string().nullable(),
  createdAt: isoDate,
  closedAt: isoDate.nullable(),
  progress: queueProgress,
  /** The caller's own progress; null when they may not annotate this queue. */
  mine: raterProgress.nullable(),
});
export type QueueView = z.infer<typeof queueView>;

export const listQueuesQuery = cursorQuery.extend({
  status: z.enum(['open', 'closed', 'all']).default('open'),
});
export const queueList = z.object({ queues: z.array(queueView), nextCursor });

export const raterProgressRow = raterProgress.extend({ userId: z.string(), email: z.string() });
export const queueDetail = queueView.extend({
  /** Every rater's progress (moderators, ops and admins only; empty for raters). */
  raters: z.array(raterProgressRow),
});
export type QueueDetail = z.infer<typeof queueDetail>;

const shownMessage = z.object({ role: messageRole, content: z.string() });
const shownAnswer = z.object({ id: z.string(), content: z.string(), modelVersionId: z.string().nullable() });

/** An item handed to a rater, with the conversation up to the prompt and the answer(s). */
export const leasedItem = z.object({
  itemId: z.string(),
  queueId: z.string(),
  expiresAt: isoDate,
  prompt: z.array(shownMessage),
  answer: shownAnswer,
  /** The second answer of a pairwise item. */
  answerB: shownAnswer.nullable(),
});
export type LeasedItem = z.infer<typeof leasedItem>;

export const progressPair = z.object({ queue: queueProgress, mine: raterProgress });
export type ProgressPair = z.infer<typeof progressPair>;

export const nextItemResponse = z.object({
  /** null when nothing is left for this rater. */
  item: leasedItem.nullable(),
  progress: progressPair,
});

export const itemParams = z.strictObject({ id: uuid, itemId: uuid });

export const judgementBody = z.strictObject({
  thumbs: thumbsValue.optional(),
  stars: starsValue.optional(),
  /** a, b, tie or both_bad. */
  choice: pairwiseChoice.optional(),
  label: label.optional(),
  reason: z.string().trim().max(MAX_JUDGEMENT_REASON_CHARS).optional(),
});
export type JudgementBody = z.infer<typeof judgementBody>;

export const judgementView = z.object({
  itemId: z.string(),
  queueId: z.string(),
  thumbs: thumbsValue.nullable(),
  stars: starsValue.nullable(),
  choice: pairwiseChoice.nullable(),
  label: z.string().nullable(),
  reason: z.string().nullable(),
  submittedAt: isoDate,
});

export const judgementResponse = z.object({ judgement: judgementView, progress: progressPair });
export const skipResponse = z.object({ progress: progressPair });

export const agreementDimension = z.enum(['thumbs', 'stars', 'pairwise', 'label']);
export type AgreementDimension = z.infer<typeof agreementDimension>;

export const dimensionAgreement = z.object({
  dimension: agreementDimension,
  level: z.enum(['nominal', 'ordinal']),
  /** Krippendorff's alpha; null when undefined (fewer than two judgements per item, or no variation). */
  alpha: z.number().nullable(),
  /** Percentile bootstrap 95% interval over items; null when alpha is undefined. */
  interval: z.tuple([z.number(), z.number()]).nullable(),
  /** Items with at least two judgements on this dimension. */
  items: z.number().int(),
  judgements: z.number().int(),
});

const raterTrust = z.object({
  trust: z.number().describe('0 (ignored) to 1 (full weight) in every dataset'),
  status: z.enum(['trusted', 'down_weighted', 'excluded']),
  reasons: z.array(z.string()),
});

export const raterAgreement = z.object({
  userId: z.string(),
  email: z.string(),
  judged: z.number().int(),
  skipped: z.number().int(),
  /** Items where the other raters had a majority to compare with. */
  comparisons: z.number().int(),
  /** Share of those where this rater sided with the majority of the others; null when none. */
  agreement: z.number().nullable(),
  /** The rater's standing in the datasets (all feedback, this queue included). */
  standing: raterTrust,
});

export type DimensionAgreement = z.infer<typeof dimensionAgreement>;
export type RaterAgreement = z.infer<typeof raterAgreement>;

export const agreementView = z.object({
  queueId: z.string(),
  dimensions: z.array(dimensionAgreement),
  raters: z.array(raterAgreement),
});
export type AgreementView = z.infer<typeof agreementView>;
