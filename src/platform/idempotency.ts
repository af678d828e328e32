// Idempotent writes: a client may send an `Idempotency-Key` header (as in the IETF draft
// "The Idempotency-Key HTTP Header Field"); a retry with the same key gets the first answer, and the
// key reused for a different request is a 409. Keys are per user and remembered for 24 hours. Routes
// that use it also dedupe by content, so a repeat without a key is answered the same way.
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { Db } from './db/client.ts';
import { AppError, notFound } from './errors/app-error.ts';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Set to `true` on an answer that repeats an earlier one instead of creating something. */
export const REPLAYED_HEADER = 'idempotent-replayed';
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;

// Visible ASCII, as the draft's examples; long enough for a UUID or a ULID with a prefix.
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The request's Idempotency-Key, or undefined; a malformed one is a 400 naming the header. */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const value = request.headers[IDEMPOTENCY_KEY_HEADER];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !KEY_PATTERN.test(value)) {
    const path = `headers.${IDEMPOTENCY_KEY_HEADER}`;
    const message = 'must be 1 to 255 visible ASCII characters, sent once';
    throw new AppError('validation_failed', `Invalid ${path}: ${message}`, [{ path, message }]);
  }
  return value;
}

/** JSON with object keys sorted, so equal requests hash equally whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface IdempotentWrite<T extends { id: string }> {
  userId: string;
  key: string | undefined;
  /** The route, e.g. `POST /v1/messages/:id/flags`: a key used on another route is a conflict. */
  scope: string;
  /** What identifies the request (validated params and body). */
  request: unknown;
  /** The row an earlier request with this key created, or null when it is gone. */
  find(tx: Db, id: string): Promise<T | null>;
  /** Creates the row (or finds the same content stored before: `replayed`), inside the transaction. */
  create(tx: Db): Promise<{ row: T; replayed: boolean }>;
}

/**
 * Runs `write.create` in a transaction, unless the key was used before: then the row that request
 * created is returned (`replayed`), or a 409 if the key came with a different request.
 */
export async function idempotentWrite<T extends { id: string }>(
  prisma: PrismaClient,
  write: IdempotentWrite<T>,
): Promise<{ row: T; replayed: boolean }> {
  return prisma.$transaction(async (tx) => {
    const { userId, key, scope } = write;
    if (key === undefined) return write.create(tx);
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`idempotency:${userId}:${key}`}))`;
    const requestHash = createHash('sha256').update(canonicalJson(write.request)).digest('hex');
    const expiredBefore = new Date(Date.now() - IDEMPOTENCY_KEY_TTL_MS);
    const earlier = await tx.idempotencyKey.findUnique({ where: { userId_key: { userId, key } } });
    if (earlier && earlier.createdAt >= expiredBefore) {
      if (earlier.scope !== scope || earlier.requestHash !== requestHash) {
        throw new AppError(
          'conflict',
          'This Idempotency-Key was already used for a different request; send a new key',
        );
      }
      const row = await write.find(tx, earlier.resourceId);
      if (!row) throw notFound('What the earlier request with this Idempotency-Key created');
      return { row, replayed: true };
    }
    const result = await write.create(tx);
    const data = { scope, requestHash, resourceId: result.row.id, createdAt: new Date() };
    await tx.idempotencyKey.upsert({
      where: { userId_key: { userId, key } },
      create: { userId, key, ...data },
      update: data,
    });
    // The user's expired keys go as new ones come.
    await tx.idempotencyKey.deleteMany({ where: { userId, createdAt: { lt: expiredBefore } } });
    return result;
  });
}

/** Marks an answer that repeats an earlier one. */
export function markReplayed(reply: FastifyReply, replayed: boolean): void {
  if (replayed) reply.header(REPLAYED_HEADER, 'true');
}
