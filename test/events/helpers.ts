// Shared setup for the event-ingestion tests: an app listening on loopback (supertest then opens
// real keep-alive connections, so concurrent requests really are concurrent), users, messages.
import type { FastifyInstance } from 'fastify';
import { startTestApp, type TestApp } from '../helpers/app.ts';

export interface EventsTestApp extends TestApp {
  url: string;
}

export async function startEventsApp(env: Record<string, string> = {}): Promise<EventsTestApp> {
  const t = await startTestApp(env);
  const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  return { ...t, url };
}

/** `count` assistant messages in one new conversation of `userId`. */
export async function makeMessages(app: FastifyInstance, userId: string, count = 1): Promise<string[]> {
  const conversation = await app.db.prisma.conversation.create({ data: { userId } });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const message = await app.db.prisma.message.create({
      data: { conversationId: conversation.id, role: 'assistant', content: `answer ${i}` },
    });
    ids.push(message.id);
  }
  return ids;
}

let eventCounter = 0;

/** A fresh, valid event id. */
export function eventId(prefix = 'ev'): string {
  eventCounter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${eventCounter}`;
}

export function event(messageId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: eventId(), type: 'copy', messageId, value: 1, ts: new Date().toISOString(), ...overrides };
}

/** Resolves once `condition()` holds, checking on every turn of the event loop; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export async function countRows(app: FastifyInstance, ids: string[]): Promise<number> {
  const { rows } = await app.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM implicit_events WHERE id = ANY($1::text[])',
    [ids],
  );
  return rows[0]!.n;
}
