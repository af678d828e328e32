// Helpers the chat, feedback, moderation and role tests share: conversations made through the API.
import assert from 'node:assert/strict';
import request from 'supertest';
import type { TestApp, TestUser } from './app.ts';

export interface Exchange {
  conversationId: string;
  promptId: string;
  answerId: string;
}

/** A conversation holding one prompt and one answer, owned by `user`. */
export async function startExchange(
  t: TestApp,
  user: TestUser,
  prompt = 'What is the capital of France?',
  answer = 'Paris is the capital of France.',
): Promise<Exchange> {
  const res = await request(t.app.server)
    .post('/v1/conversations')
    .set('authorization', user.auth)
    .send({
      title: 'geography',
      messages: [
        { role: 'user', content: prompt },
        { role: 'assistant', content: answer },
      ],
    });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const [p, a] = res.body.messages;
  return { conversationId: res.body.id, promptId: p.id, answerId: a.id };
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
