// Shared setup for the event-ingestion tests: an app listening on loopback (supertest then opens
// real sockets, so concurrent requests really are concurrent), users, messages, a cuttable database link.
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { startTestApp, type TestApp } from './app.ts';

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

export async function countRows(app: FastifyInstance, ids: string[]): Promise<number> {
  const { rows } = await app.db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM implicit_events WHERE id = ANY($1::text[])',
    [ids],
  );
  return rows[0]!.n;
}

/**
 * A TCP relay to the test Postgres server that can be cut: stop() closes the listener and every
 * relayed connection, so the app sees what it would see if the database went away (terminated
 * connections, then ECONNREFUSED).
 */
export async function startDatabaseRelay(targetUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(targetUrl);
  url.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    url: url.toString(),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
