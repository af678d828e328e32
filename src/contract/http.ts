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

/** The largest page any list returns. */
export const MAX_PAGE_SIZE = 200;

/** An opaque keyset cursor: the `nextCursor` of the previous page. */
export const pageCursor = z.string().min(1).max(200);

/** `limit` (at most MAX_PAGE_SIZE) and `cursor` (the previous page's nextCursor). */
export const cursorQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(50),
  cursor: pageCursor.optional(),
});

/** Pass as `cursor` to get the next page; null on the last page. */
export const nextCursor = z.string().nullable();

export const pageQuery = cursorQuery.extend({
  /** Older form of `cursor`: return items created before this id's item (newest first). */
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
