// The API client: JSON over fetch with the session cookie. Every answer is parsed with the
// server's own response schema from src/contract, so a view gets exactly the contract's types
// (timestamps as Dates) and a server that answers something else is reported in words. One error
// type carries the server's `{error:{code, message}}` so every view can show what went wrong.
import type { z } from 'zod';
import { flagCategory, type FlagCategory } from '#contract/feedback.ts';
import { modelVersionPage } from '#contract/model-versions.ts';

export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** A message a person can act on, for any failure. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 404 && err.code === 'not_found' && err.message.startsWith('Route '))
      return `This server does not offer this yet (${err.message}).`;
    return err.message;
  }
  if (err instanceof TypeError)
    return 'The server could not be reached. Check your connection and try again.';
  return err instanceof Error ? err.message : String(err);
}

export interface ApiInit {
  method?: string;
  /** Sent as JSON; type it with the contract's request schema (`satisfies z.input<typeof body>`). */
  body?: unknown;
}

/**
 * Calls the API and parses its answer with `response`, the route's response schema (`z.null()`
 * for a 204).
 */
export async function api<S extends z.ZodType>(
  path: string,
  response: S,
  init: ApiInit = {},
): Promise<z.output<S>> {
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = res.status === 204 ? '' : await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below with the status
  }
  if (!res.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${res.status}`);
  }
  const parsed = response.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `The server's answer to ${method} ${path} is not what this page expects ` +
        `(${issue?.path.join('.') || 'the body'}: ${issue?.message}). Reload the page to get the current version.`,
    );
  }
  return parsed.data;
}

const FLAG_LABELS: Record<FlagCategory, string> = {
  inaccurate: 'Inaccurate',
  harmful_or_biased: 'Harmful or biased',
  irrelevant: 'Irrelevant',
  unsafe: 'Unsafe',
  other: 'Other',
};
export const FLAG_CATEGORIES = flagCategory.options.map((value) => ({ value, label: FLAG_LABELS[value] }));

export const listModelVersions = () =>
  api('/v1/model-versions?limit=200', modelVersionPage).then((r) => r.modelVersions);
