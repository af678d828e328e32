// Request and response shapes of the ops dashboard's insight routes.
import { z } from 'zod';
import { isoDate } from './http.ts';

export const MAX_WINDOW_DAYS = 366;

export const windowQuery = z.strictObject({
  /** Days back from now; 30 by default. */
  days: z.coerce.number().int().min(1).max(MAX_WINDOW_DAYS).default(30),
});

const estimate = z.object({
  value: z.number().nullable(),
  low: z.number().nullable().describe('lower end of the 95% interval'),
  high: z.number().nullable().describe('upper end of the 95% interval'),
  n: z.number().int().describe('observations the estimate rests on'),
});

const versionRef = z.object({ id: z.string(), name: z.string(), status: z.string() });

export const volumeView = z.object({
  from: isoDate,
  to: isoDate,
  points: z.array(
    z.object({
      day: z.string().describe('UTC day, YYYY-MM-DD'),
      kind: z
        .string()
        .describe('thumbs_up, thumbs_down, stars, vote, flag, correction, or event_<implicit event type>'),
      modelVersionId: z.string().nullable(),
      count: z.number().int(),
    }),
  ),
  versions: z.array(versionRef),
});

export const metricsView = z.object({
  from: isoDate,
  to: isoDate,
  versions: z.array(
    z.object({
      modelVersionId: z.string(),
      name: z.string(),
      status: z.string(),
      answers: z.number().int(),
      thumbsUpRate: estimate,
      meanStars: estimate,
      correctionRate: estimate,
      regenerateRate: estimate,
      copyRate: estimate,
    }),
  ),
});

export type EstimateView = z.output<typeof estimate>;
export type VersionMetricsView = z.output<typeof metricsView>['versions'][number];
