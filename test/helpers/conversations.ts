// Helpers the chat, feedback, moderation and role tests share: conversations made through the API.
import assert from 'node:assert/strict';
import request from 'supertest';
import { appendMessage } from '../../src/feedback/conversations/conversations.ts';
import type { TestApp, TestUser } from './app.ts';

export interface Exchange {
  conversationId: string;
  promptId: string;
  answerId: string;
}

/**
 * A conversation of `user` holding one prompt and a model's answer to it. The prompt goes through
 * the API; the answer is written the way the serving path writes one (users cannot post a model's
 * answers), as logged by `TEST_MODEL` unless a served version is given.
 */
export async function startExchange(
  t: TestApp,
  user: TestUser,
  prompt = 'What is the capital of France?',
  answer = 'Paris is the capital of France.',
  servedBy?: string,
): Promise<Exchange> {
  const res = await request(t.app.server)
    .post('/v1/conversations')
    .set('authorization', user.auth)
    .send({ title: 'geography', messages: [{ role: 'user', content: prompt }] });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const [p] = res.body.messages;
  const a = await modelAnswer(t, res.body.id, p.id, answer, servedBy);
  return { conversationId: res.body.id, promptId: p.id, answerId: a.id };
}

/** The name logged answers in tests carry. */
export const TEST_MODEL = 'test-model';

/** A model's answer under `parentId`: served by `servedBy` (a version id) or logged by TEST_MODEL. */
export function modelAnswer(
  t: TestApp,
  conversationId: string,
  parentId: string | null,
  content: string,
  servedBy?: string,
) {
  return appendMessage(t.app.db, {
    conversationId,
    parentId,
    role: 'assistant',
    content,
    ...(servedBy
      ? { author: 'served' as const, modelVersionId: servedBy }
      : { author: 'logged' as const, loggedModel: TEST_MODEL }),
  });
}

/** Adds a message through the API and returns it. */
export async function addMessage(
  t: TestApp,
  user: TestUser,
  conversationId: string,
  body: Record<string, unknown>,
): Promise<{ id: string; parentId: string | null } & Record<string, unknown>> {
  const res = await request(t.app.server)
    .post(`/v1/conversations/${conversationId}/messages`)
    .set('authorization', user.auth)
    .send(body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** The paths named by a 4xx error body. */
export function errorPaths(body: { error?: { details?: unknown } }): string[] {
  const details = body.error?.details;
  return Array.isArray(details) ? details.map((d: { path: string }) => d.path) : [];
}
