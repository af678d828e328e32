// The one error handler: every failure leaves as `{error:{code, message, details?}}`.
// Client mistakes are 4xx naming the failing field; 5xx bodies hide internals (the log keeps them).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { AppError, ERROR_STATUS, type ErrorCode, type ErrorDetail } from './app-error.ts';
import { isUnavailableError } from './unavailable.ts';

interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'validation_failed',
};

// Postgres: a NUL byte in text (22021), a lone surrogate in jsonb (22P05, or 22P02 "invalid input
// syntax for type json" when Prisma sends it as text). Validation refuses these first
// (input-text.ts); this catches any text that reaches the database another way.
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05', '22P02']);

/** Whether `err`, its causes, or the driver error Prisma keeps in `meta`, has one of `codes`. */
function hasDatabaseCode(err: unknown, codes: ReadonlySet<string>): boolean {
  const pending: unknown[] = [err];
  for (let seen = 0; pending.length > 0 && seen < 12; seen++) {
    const e = pending.shift() as
      | { code?: unknown; originalCode?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown } }
      | null
      | undefined;
    if (!e || typeof e !== 'object') continue;
    if (typeof e.code === 'string' && codes.has(e.code)) return true;
    if (typeof e.originalCode === 'string' && codes.has(e.originalCode)) return true;
    pending.push(e.cause, e.meta?.driverAdapterError);
  }
  return false;
}

function joinPath(context: string | undefined, path: ReadonlyArray<PropertyKey>): string {
  return [context, ...path.map(String)].filter(Boolean).join('.');
}

export function toErrorBody(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof AppError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details !== undefined) body.error.details = error.details;
    return { status: error.statusCode, body };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const context = (error as { validationContext?: string }).validationContext;
    const details: ErrorDetail[] = error.validation.flatMap((v) => {
      const at = v.instancePath.split('/').filter(Boolean);
      // An unknown field is reported at its own path (body.colour), not at the object holding it.
      const keys = (v.params as { keys?: unknown }).keys;
      if (v.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
        return keys.map((key) => ({
          path: joinPath(context, [...at, String(key)]),
          message: 'is not a known field',
        }));
      }
      return [{ path: joinPath(context, at), message: v.message ?? 'is invalid' }];
    });
    const first = details[0];
    const message = first ? `Invalid ${first.path || 'request'}: ${first.message}` : 'Invalid request';
    return { status: 400, body: { error: { code: 'validation_failed', message, details } } };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.statusCode === 429) {
    return { status: 429, body: { error: { code: 'rate_limited', message: fastifyError.message } } };
  }
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) {
    return { status: ERROR_STATUS[mapped], body: { error: { code: mapped, message: fastifyError.message } } };
  }
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return { status: 400, body: { error: { code: 'invalid_json', message: error.message } } };
  }
  if (hasDatabaseCode(error, UNSTORABLE_TEXT_CODES)) {
    return {
      status: 400,
      body: {
        error: {
          code: 'bad_request',
          message: 'Text must be well-formed Unicode without NUL bytes (\\u0000) or lone surrogates',
        },
      },
    };
  }
  if (isUnavailableError(error)) {
    return {
      status: 503,
      body: {
        error: { code: 'unavailable', message: 'A backing service is unavailable; try again shortly' },
      },
    };
  }
  if (
    !isResponseSerializationError(error) &&
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  ) {
    return {
      status: fastifyError.statusCode,
      body: { error: { code: 'bad_request', message: fastifyError.message } },
    };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'Internal server error' } } };
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toErrorBody(error);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.error.code, status }, body.error.message);
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send({ error: { code: 'not_found', message: `Route ${request.method} ${request.url} not found` } });
  });
}
