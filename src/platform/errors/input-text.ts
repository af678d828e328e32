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

// Any surrogate at all: one plain scan rules out nearly every string before the lookarounds.
const SURROGATE = /[\ud800-\udfff]/;

function textProblem(text: string): string | null {
  if (text.includes(NUL)) return 'must not contain NUL bytes (\\u0000)';
  if (SURROGATE.test(text) && LONE_SURROGATE.test(text))
    return 'must be well-formed Unicode (no lone surrogates)';
  return null;
}

/**
 * The first string (value or object key) in `value` that cannot be stored, with its path
 * (`body.rubric.labels.1`), or null. Stops descending at MAX_JSON_DEPTH.
 */
export function findUnstorableText(value: unknown, path: string[]): ErrorDetail | null {
  const at = [...path]; // the path of the value being looked at, pushed and popped as the walk goes
  const deepest = MAX_JSON_DEPTH + path.length;
  const walk = (v: unknown): ErrorDetail | null => {
    if (typeof v === 'string') {
      const problem = textProblem(v);
      return problem ? { path: at.join('.'), message: problem } : null;
    }
    if (v === null || typeof v !== 'object' || at.length > deepest) return null;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        at.push(String(i));
        const found = walk(v[i]);
        at.pop();
        if (found) return found;
      }
      return null;
    }
    for (const [key, item] of Object.entries(v)) {
      const keyProblem = textProblem(key);
      if (keyProblem) return { path: at.join('.'), message: `has a field name that ${keyProblem}` };
      at.push(key);
      const found = walk(item);
      at.pop();
      if (found) return found;
    }
    return null;
  };
  return walk(value);
}

/** A 400 naming the field, in the shape schema validation failures have. */
export function unstorableTextError(detail: ErrorDetail): AppError {
  return new AppError('validation_failed', `Invalid ${detail.path || 'message'}: ${detail.message}`, [
    detail,
  ]);
}

/** Whether JSON text opens more than `max` arrays/objects inside each other (strings are skipped). */
export function jsonNestedDeeperThan(text: string, max = MAX_JSON_DEPTH): boolean {
  // Nesting deeper than `max` needs more than `max` brackets: counting them (native indexOf) is
  // about twenty times cheaper than the walk below over a 50-event batch, which has 52.
  let opening = 0;
  for (const bracket of ['{', '[']) {
    for (let at = text.indexOf(bracket); at !== -1 && opening <= max; at = text.indexOf(bracket, at + 1)) {
      opening++;
    }
  }
  if (opening <= max) return false;
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
  // JSON bodies whose text shows they hold no NUL and no surrogate: their parsed body is not walked.
  const cleanBodies = new WeakSet<FastifyRequest>();
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (jsonNestedDeeperThan(text)) return done(tooDeepError(), undefined);
    if (!mayDecodeToUnstorableText(text)) cleanBodies.add(request);
    parseJson(request, text, done);
  });

  app.addHook('preValidation', async (request: FastifyRequest) => {
    const found =
      findUnstorableText(request.params, ['params']) ??
      findUnstorableText(request.query, ['querystring']) ??
      (cleanBodies.has(request) ? null : findUnstorableText(request.body, ['body']));
    if (found) throw unstorableTextError(found);
  });
}

// In JSON text, a NUL or a surrogate in a string or key can only come from a \u escape: JSON
// refuses raw control characters, and the body was decoded from UTF-8, which turns an encoded
// surrogate into U+FFFD (a character outside the BMP decodes to a well-formed pair, which this
// also lets through to the walk). `\\u0000` (an escaped backslash) matches too: the walk decides.
const NUL_OR_SURROGATE_ESCAPE = /\\u(?:0000|[dD][89abcdefABCDEF])/;

/** Whether parsing `json` could give a string `findUnstorableText` refuses (false: it cannot). */
export function mayDecodeToUnstorableText(json: string): boolean {
  return NUL_OR_SURROGATE_ESCAPE.test(json) || json.includes(NUL) || SURROGATE.test(json);
}
