// Typed errors. Code that knows what went wrong throws an AppError; the error handler turns it
// into `{error:{code, message, details?}}` with the status below.
export const ERROR_STATUS = {
  bad_request: 400,
  validation_failed: 400,
  invalid_json: 400,
  /** A prompt longer than the model's context (OpenAI's code for it). */
  context_length_exceeded: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  /** An upstream model server (a version with provider `openai`) failed or refused. */
  upstream_error: 502,
  unavailable: 503,
  /** An upstream model server did not answer within a configured timeout. */
  upstream_timeout: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorDetail {
  path: string;
  message: string;
}

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly details?: ErrorDetail[] | Record<string, unknown>,
  ) {
    super(message);
  }

  get statusCode(): number {
    return ERROR_STATUS[this.code];
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const forbidden = (message = 'You may not do this') => new AppError('forbidden', message);
