// Schemas shared by several route families: ids, pagination, the error body.
import { z } from 'zod';

export const uuid = z.uuid({ message: 'must be a UUID' });
export const idParams = z.strictObject({ id: uuid });

export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** Responses every authenticated route may give besides its own. */
export const commonErrors = {
  400: errorBody,
  401: errorBody,
  403: errorBody,
  404: errorBody,
  429: errorBody,
  503: errorBody,
} as const;

/**
 * Headers of a write that accepts an `Idempotency-Key`: a retry with the same key gets the first
 * answer (marked `Idempotent-Replayed: true`); the key reused for another request is a 409.
 */
export const idempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
    .optional()
    .meta({ description: 'Makes the write safe to retry: the same key gets the same answer for 24 hours.' }),
});

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  /** Return items created before this id's item (keyset pagination, newest first). */
  before: uuid.optional(),
});

/**
 * A timestamp: a Date in handlers and in the browser, an ISO 8601 string (UTC, `Z`) on the wire.
 * Responses are encoded with it (the serializer calls `z.encode`), and a client that parses a
 * response with the same schema gets a Date back.
 */
export const isoDate = z.codec(z.iso.datetime(), z.date(), {
  decode: (text) => new Date(text),
  encode: (date) => date.toISOString(),
});
