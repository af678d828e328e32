// The chat socket's guards: bad text is a validation error naming the field (as over HTTP), the
// credential is checked again while the socket is open, the Origin is checked on upgrade, and one
// socket or one user cannot take every generation slot or flood the server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { ensureBaseModel } from '../../../src/promotion/base-model.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const MODEL_DIR = fileURLToPath(new URL('../../../models', import.meta.url));

type Message = Record<string, unknown> & { type: string };

interface Client {
  socket: WebSocket;
  inbox: Message[];
  closed: Promise<{ code: number; reason: string }>;
  next(pred: (m: Message) => boolean, what?: string): Promise<Message>;
  send(message: unknown): void;
}

let t: TestApp;
let wsUrl: string;

async function connect(headers: Record<string, string>): Promise<Client> {
  const socket = new WebSocket(wsUrl, { headers });
  const inbox: Message[] = [];
  socket.on('message', (data) => inbox.push(JSON.parse(String(data)) as Message));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return {
    socket,
    inbox,
    closed,
    next: (pred, what = 'a socket message') => waitFor(what, () => inbox.find(pred), 60_000, 10),
    send: (message) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
  };
}

const errorCode = (m: Message) => (m.error as { code: string } | undefined)?.code;

before(async () => {
  t = await startTestApp({
    MODEL_DIR,
    FEEDLOOP_SOCKET_GENERATIONS: '2',
    FEEDLOOP_USER_GENERATIONS: '3',
    FEEDLOOP_SOCKET_MESSAGES_PER_MINUTE: '40',
  });
  await ensureBaseModel(t.app.db.prisma, MODEL_DIR);
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  wsUrl = `${address.replace(/^http/, 'ws')}/v1/chat/socket`;
});
after(() => t.close());

describe('text the database cannot store', () => {
  let user: TestUser;
  before(async () => {
    user = await makeUser(t.app);
  });

  test('a NUL byte or a lone surrogate in a message is validation_failed naming the field, not internal', async () => {
    const client = await connect({ authorization: user.auth });
    client.send({ type: 'generate', requestId: 'nul', content: 'hello\u0000world' });
    const nul = await client.next((m) => m.type === 'error' && m.requestId === 'nul');
    assert.equal(errorCode(nul), 'validation_failed', JSON.stringify(nul));
    assert.equal((nul.error as { details: { path: string }[] }).details[0]!.path, 'content');

    client.send({ type: 'generate', requestId: 'sur', content: 'hello \ud800' });
    const sur = await client.next((m) => m.type === 'error' && m.requestId === 'sur');
    assert.equal(errorCode(sur), 'validation_failed', JSON.stringify(sur));

    client.send(
      `{"type":"generate","requestId":"deep","content":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
    );
    const deep = await client.next((m) => m.type === 'error' && errorCode(m) === 'invalid_json');
    assert.match(JSON.stringify(deep), /64/);
    assert.equal(await t.app.db.prisma.message.count({ where: { content: { startsWith: 'hello' } } }), 0);
    client.socket.close();
  });
});

describe('the credential is checked again while the socket is open', () => {
  test('a revoked API key closes the socket with 4401 within the check interval', async () => {
    const user = await makeUser(t.app);
    const client = await connect({ authorization: user.auth });
    const key = await t.app.db.prisma.apiKey.findFirstOrThrow({ where: { userId: user.id } });
    const revoked = await request(t.app.server)
      .delete(`/v1/api-keys/${key.id}`)
      .set('authorization', user.auth);
    assert.ok(revoked.status < 300, JSON.stringify(revoked.body));
    const closed = await client.closed;
    assert.equal(closed.code, 4401, closed.reason);
  });

  test('a generate after the key was revoked elsewhere starts nothing and closes with 4401', async () => {
    const user = await makeUser(t.app);
    const client = await connect({ authorization: user.auth });
    // Revoked behind this process's back (another API process): its cache does not know yet.
    await t.app.db.prisma.apiKey.updateMany({ where: { userId: user.id }, data: { revokedAt: new Date() } });
    client.send({
      type: 'generate',
      requestId: 'late',
      content: 'Are you still there?',
      options: { maxTokens: 4 },
    });
    const closed = await client.closed;
    assert.equal(closed.code, 4401);
    assert.equal(client.inbox.filter((m) => m.type === 'started').length, 0);
    assert.equal(await t.app.db.prisma.message.count({ where: { content: 'Are you still there?' } }), 0);
  });

  test('logging out closes the sockets opened with that session', async () => {
    const password = 'a long enough test password';
    const user = await makeUser(t.app, 'user', password);
    const login = await request(t.app.server).post('/v1/auth/login').send({ email: user.email, password });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const client = await connect({ cookie });
    const logout = await request(t.app.server).post('/v1/auth/logout').set('cookie', cookie);
    assert.ok(logout.status < 300, JSON.stringify(logout.body));
    assert.equal((await client.closed).code, 4401);
  });
});

describe('Origin', () => {
  const upgradeStatus = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(wsUrl, { headers });
      socket.once('open', () => {
        socket.close();
        resolve(101);
      });
      socket.once('unexpected-response', (_req, res) => resolve(res.statusCode!));
      socket.once('error', reject);
    });

  test("another site's page cannot open the socket; the app's own origin can", async () => {
    const user = await makeUser(t.app);
    const host = new URL(wsUrl).host;
    assert.equal(await upgradeStatus({ authorization: user.auth, origin: 'https://evil.example' }), 403);
    assert.equal(await upgradeStatus({ authorization: user.auth, origin: `http://${host}` }), 101);
    assert.equal(await upgradeStatus({ authorization: user.auth }), 101, 'no Origin: not a browser');
  });
});

describe('limits', () => {
  const long = (requestId: string) => ({
    type: 'generate',
    requestId,
    content: 'Tell me a long story.',
    options: { maxTokens: 2000, minTokens: 2000 },
  });

  test('concurrent answers are capped per socket and per user; a cancel frees a slot', async () => {
    const user = await makeUser(t.app);
    const a = await connect({ authorization: user.auth });
    const b = await connect({ authorization: user.auth });
    a.send(long('a1'));
    a.send(long('a2'));
    await a.next((m) => m.type === 'started' && m.requestId === 'a2', 'a2 started');
    a.send(long('a3'));
    const perSocket = await a.next((m) => m.type === 'error' && m.requestId === 'a3');
    assert.equal(errorCode(perSocket), 'rate_limited', JSON.stringify(perSocket));

    b.send(long('b1'));
    await b.next((m) => m.type === 'started' && m.requestId === 'b1', 'b1 started');
    b.send(long('b2'));
    const perUser = await b.next((m) => m.type === 'error' && m.requestId === 'b2');
    assert.equal(errorCode(perUser), 'rate_limited', JSON.stringify(perUser));
    assert.match(JSON.stringify(perUser), /per user/);

    a.send({ type: 'cancel', requestId: 'a1' });
    await a.next((m) => m.type === 'done' && m.requestId === 'a1', 'a1 cancelled');
    b.send(long('b3'));
    await b.next((m) => m.type === 'started' && m.requestId === 'b3', 'b3 started after a slot freed');
    a.socket.close();
    b.socket.close();
    await waitFor(
      'the generations to stop',
      async () =>
        (await t.app.servedModels.modelServer()).stats().then((s) => s.every((w) => w.active === 0)),
      60_000,
    );
  });

  test('messages beyond the per-minute rate get rate_limited', async () => {
    const user = await makeUser(t.app);
    const client = await connect({ authorization: user.auth });
    for (let i = 0; i < 45; i++) client.send({ type: 'cancel', requestId: `c${i}` });
    const limited = await client.next((m) => m.type === 'error' && errorCode(m) === 'rate_limited');
    assert.match(JSON.stringify(limited), /40 messages a minute/);
    client.socket.close();
  });

  test('a frame larger than the HTTP body limit closes the socket with 1009 before it is parsed', async () => {
    const user = await makeUser(t.app);
    const client = await connect({ authorization: user.auth });
    client.send({
      type: 'generate',
      requestId: 'huge',
      content: 'x'.repeat(t.config.FEEDLOOP_BODY_LIMIT + 1),
    });
    const closed = await client.closed;
    assert.equal(closed.code, 1009);
    assert.equal(client.inbox.length, 0);
  });
});
