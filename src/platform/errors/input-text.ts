// Input Postgres cannot store, refused up front with the field's path: a NUL byte in any text (text
// columns refuse it, 22021) and a lone UTF-16 surrogate (jsonb refuses it, 22P05; one rule for
// every field, so a value is never accepted in one place and refused in another). Also JSON nested
// deeper than MAX_JSON_DEPTH, checked on the raw text before parsing so no parser or validator
// recurses into it. Used for HTTP bodies, query strings, path parameters and socket messages.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, type ErrorDetail } from './app-error.ts';

export const MAX_JSON_DEPTH = 64;

const NUL = '\u0000';
// A high surrogate not followed by a low one, or a low one not preceded by a high one (without the
// `u` flag the pattern sees UTF-16 code units). Linear: no backtracking beyond one unit.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function textProblem(text: string): string | null {
  if (text.includes(NUL)) return 'must not contain NUL bytes (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (no lone surrogates)';
  return null;
}

/**
 * The first string (value or object key) in `value` that cannot be stored, with its path
 * (`body.rubric.labels.1`), or null. Stops descending at MAX_JSON_DEPTH.
 */
export function findUnstorableText(value: unknown, path: string[]): ErrorDetail | null {
  const walk = (v: unknown, at: string[]): ErrorDetail | null => {
    if (typeof v === 'string') {
      const problem = textProblem(v);
      return problem ? { path: at.join('.'), message: problem } : null;
    }
    if (v === null || typeof v !== 'object' || at.length > MAX_JSON_DEPTH + path.length) return null;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = walk(v[i], [...at, String(i)]);
        if (found) return found;
      }
      return null;
    }
    for (const [key, item] of Object.entries(v)) {
      const keyProblem = textProblem(key);
      if (keyProblem) return { path: at.join('.'), message: `has a field name that ${keyProblem}` };
      const found = walk(item, [...at, key]);
      if (found) return found;
    }
    return null;
  };
  return walk(value, path);
}

/** A 400 naming the field, in the shape schema validation failures have. */
export function unstorableTextError(detail: ErrorDetail): AppError {
  return new AppError('validation_failed', `Invalid ${detail.path || 'message'}: ${detail.message}`, [
    detail,
  ]);
}

/** Whether JSON text opens more than `max` arrays/objects inside each other (strings are skipped). */
export function jsonNestedDeeperThan(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

export const tooDeepError = () =>
  new AppError('invalid_json', `JSON must not be nested more than ${MAX_JSON_DEPTH} levels deep`);

/**
 * Installs the checks on `app` (before any route): the JSON body parser refuses deep nesting, and
 * every request's params, query string and body are scanned before validation.
 */
export function registerInputChecks(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonNestedDeeperThan(body as string)) return done(tooDeepError(), undefined);
    parseJson(request, body as string, done);
  });

  app.addHook('preValidation', async (request: FastifyRequest) => {
    const found =
      findUnstorableText(request.params, ['params']) ??
      findUnstorableText(request.query, ['querystring']) ??
      findUnstorableText(request.body, ['body']);
    if (found) throw unstorableTextError(found);
  });
}
