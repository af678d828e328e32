// The API client: JSON over fetch with the session cookie, and one error type carrying the server's
// `{error:{code, message}}` so every view can show what went wrong in words.
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

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    credentials: 'same-origin',
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: reported below with the status
  }
  if (!res.ok) {
    const error = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(res.status, error?.code ?? 'http_error', error?.message ?? `HTTP ${res.status}`);
  }
  return data as T;
}

// Shapes of what the views read (the server's zod schemas are the reference).
export type Role = 'user' | 'moderator' | 'ops' | 'admin';
export interface User {
  id: string;
  email: string;
  role: Role;
}
export interface ConversationSummary {
  id: string;
  title: string;
  updatedAt: string;
  messageCount: number;
}
export interface Message {
  id: string;
  conversationId: string;
  parentId: string | null;
  role: 'system' | 'user' | 'assistant';
  content: string;
  modelVersionId: string | null;
  params: Record<string, unknown> | null;
  createdAt: string;
}
export interface Conversation {
  id: string;
  title: string;
  messages: Message[];
}
export interface ModelVersion {
  id: string;
  name: string;
  status: 'candidate' | 'active' | 'rejected' | 'retired';
  notes: string;
  createdAt: string;
  promotedAt?: string | null;
  datasetId: string | null;
}
export type FlagCategory = 'inaccurate' | 'harmful_or_biased' | 'irrelevant' | 'unsafe' | 'other';
export const FLAG_CATEGORIES: { value: FlagCategory; label: string }[] = [
  { value: 'inaccurate', label: 'Inaccurate' },
  { value: 'harmful_or_biased', label: 'Harmful or biased' },
  { value: 'irrelevant', label: 'Irrelevant' },
  { value: 'unsafe', label: 'Unsafe' },
  { value: 'other', label: 'Other' },
];

export const listModelVersions = () =>
  api<{ modelVersions: ModelVersion[] }>('/v1/model-versions?limit=200').then((r) => r.modelVersions);
