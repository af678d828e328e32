// The wire format of implicit-event ingestion. The batch envelope is strict and checked by Fastify
// (a bad envelope is a 400); each event is checked on its own (a bad event is one rejection, the
// rest of the batch still counts).
import { z } from 'zod';
import { ImplicitEventType } from '../generated/prisma/enums.ts';

export const MAX_EVENTS_PER_BATCH = 500;
export const EVENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Client clocks drift; an event stamped more than this ahead of the server's clock is rejected. */
export const MAX_CLIENT_CLOCK_AHEAD_MS = 24 * 60 * 60 * 1000;
/** Nothing feedloop serves predates this; earlier stamps are client bugs (an epoch 0, seconds for ms). */
export const EARLIEST_CLIENT_TS = Date.UTC(2000, 0, 1);

export const IMPLICIT_EVENT_TYPES = Object.values(ImplicitEventType);

const required =
  (expected: string) =>
  (issue: { input: unknown }): string =>
    issue.input === undefined ? 'is required' : expected;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP_FORMAT = 'must be an ISO 8601 datetime with a time zone, or epoch ms';
const toEpochMs = (ts: string | number): number => (typeof ts === 'string' ? Date.parse(ts) : ts);

// No transforms in this schema: zod runs each one as a pipe, which made validating an event about
// three times as slow. ingest.ts normalises the two fields that need it (messageId, ts) instead.

/**
 * The client's timestamp: an ISO 8601 datetime with a zone (`2026-01-31T12:00:00.123Z`,
 * `...+02:00`) or epoch milliseconds (an integer), from 2000 on and at most 24 hours ahead of the
 * server's clock. Stored in UTC to the millisecond.
 */
const clientTimestamp = z
  .union([z.iso.datetime({ offset: true, error: TIMESTAMP_FORMAT }), z.number().int(TIMESTAMP_FORMAT)], {
    error: required(TIMESTAMP_FORMAT),
  })
  .refine(
    (ts) => {
      const ms = toEpochMs(ts);
      return ms >= EARLIEST_CLIENT_TS && ms <= Date.now() + MAX_CLIENT_CLOCK_AHEAD_MS;
    },
    {
      // One refinement with two messages: each refinement costs about as much as the rest.
      error: (issue) =>
        toEpochMs(issue.input as string | number) < EARLIEST_CLIENT_TS
          ? 'must not be before 2000-01-01T00:00:00Z'
          : 'must not be more than 24 hours ahead of the server clock',
      when: (payload) => payload.issues.length === 0,
    },
  );

/** A valid client timestamp as ISO 8601 text with a zone (the client's own text when it sent text). */
export const clientTimestampText = (ts: string | number): string =>
  typeof ts === 'string' ? ts : new Date(ts).toISOString();

/** One implicit event as a client sends it. Unknown fields are rejected, like everywhere else. */
export const implicitEventInput = z.strictObject({
  /** The client's own event id: sending it again is reported as a duplicate, never stored twice. */
  id: z
    .string({ error: required('must be a string') })
    .regex(EVENT_ID_PATTERN, 'must be 1 to 128 characters from A-Z a-z 0-9 _ . : -'),
  type: z.enum(IMPLICIT_EVENT_TYPES, {
    error: required(`must be one of ${IMPLICIT_EVENT_TYPES.join(', ')}`),
  }),
  /** The assistant message the event is about, in any case; it must be in the sender's conversations. */
  messageId: z.string({ error: required('must be a UUID') }).regex(UUID_PATTERN, 'must be a UUID'),
  /** What the event measured, when it measures something (dwell ms, characters copied...). */
  value: z.number({ error: 'must be a finite number or null' }).nullable().optional(),
  ts: clientTimestamp,
});

export type ImplicitEventInput = z.output<typeof implicitEventInput>;

/**
 * The request body. Events are validated one by one after this envelope passes. Unknown fields
 * are refused as by strictObject, but each at its own path (`body.extra`, where strictObject says
 * `body`); the optional never keeps `additionalProperties: false` in the OpenAPI document.
 */
export const eventBatchBody = z
  .object({
    events: z
      .array(
        z.unknown().meta({
          description:
            '{id, type, messageId, value?, ts}: id 1-128 chars of [A-Za-z0-9_.:-]; type one of ' +
            `${IMPLICIT_EVENT_TYPES.join(', ')}; messageId a UUID of a message in your conversation; value a ` +
            'finite number or null; ts an ISO 8601 datetime with time zone or epoch ms, from 2000 on and ' +
            'at most 24 h ahead of the server clock. Each event is validated on its own.',
        }),
      )
      .max(MAX_EVENTS_PER_BATCH),
  })
  .catchall(z.never({ error: 'is not a known field' }).optional());

export const eventError = z.object({
  /** Position of the event in `events`. */
  index: z.number().int(),
  /** The failing field, e.g. `events.3.messageId`. */
  path: z.string(),
  message: z.string(),
});
export type EventError = z.infer<typeof eventError>;

export const ingestResultView = z.object({
  /** Events stored by this request. */
  accepted: z.number().int(),
  /** Events whose id was already stored, or repeated within this batch. */
  duplicates: z.number().int(),
  /** Events that failed validation or name a message that is not the sender's. */
  rejected: z.number().int(),
  errors: z.array(eventError),
});
export type IngestResult = z.infer<typeof ingestResultView>;
/** One event as a client writes it (`ts` as ISO text or epoch ms). */
export type ImplicitEventBody = z.input<typeof implicitEventInput>;
