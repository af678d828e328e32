// Backpressure against real servers (issue 13, defect 8): a client that stops reading an answer
// holds the upstream back. feedloop streams an OpenAI-compatible upstream's very long answer to a
// client, over server-sent events and over the chat socket; while the client reads nothing, the
// upstream can only write what the sockets' buffers hold, not the answer. Once the client reads
// again the whole answer arrives intact and is stored; a paused client that leaves ends the
// upstream request and its partial answer is stored, marked aborted.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import request from 'supertest';
import WebSocket from 'ws';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import {
  startLongAnswerUpstream,
  type LongAnswerResponse,
  type LongAnswerUpstream,
} from '../../helpers/upstream.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const MIB = 1024 * 1024;
/** The most a TCP socket's send buffer grows to (Linux autotuning's ceiling; 4 MiB by default). */
function sendBufferCeiling(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]) || 4 * MIB;
  } catch {
    return 4 * MIB;
  }
}
// What may sit in buffers while the client reads nothing: mostly the kernel's, the upstream's and
// feedloop's send buffers (measured here: about 4 MiB each, so 7.7 to 11.3 MiB in all with the
// receive buffers) and a little in Node's streams and feedloop's high-water marks (64 KiB each).
const HELD_BACK_BOUND = 2 * sendBufferCeiling() + 8 * MIB;
// The answer is three times that (48 MiB with 4 MiB buffers), in deltas of 4 KiB: a server that
// pulls regardless of its client goes far past the bound.
const DELTA_CHARS = 4096;
const DELTAS = Math.ceil((3 * HELD_BACK_BOUND) / DELTA_CHARS);
// The upstream has waited this long for its socket to drain: the pipe is full and stays full.
const STALL_MS = 2000;

let t: TestApp;
let upstream: LongAnswerUpstream;
let baseUrl: string;

before(async () => {
  upstream = await startLongAnswerUpstream(DELTAS, DELTA_CHARS);
  t = await startTestApp();
  baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const ops = await makeUser(t.app, 'ops');
  const registered = await request(t.app.server)
    .post('/v1/model-versions/upstream')
    .set('Authorization', ops.auth)
    .send({ name: 'long', baseUrl: upstream.baseUrl, model: upstream.model, reason: 'backpressure test' });
  assert.equal(registered.status, 201, registered.text);
  const opened = await request(t.app.server)
    .put(`/v1/model-versions/${registered.body.id}/access`)
    .set('Authorization', ops.auth)
    .send({ openToUsers: true, reason: 'backpressure test' });
  assert.equal(opened.status, 200, opened.text);
});
after(async () => {
  await t?.close();
  await upstream?.close();
});

/** The upstream's response to its `index`th request, once it has begun. */
const upstreamResponse = (index: number) =>
  waitFor('the upstream request', () => upstream.responses[index], 30_000);

/**
 * Waits until the upstream has been stuck on a full socket for STALL_MS (the client's stop reached
 * it) or has written the whole answer (nothing held it back), and checks how far it got.
 */
async function heldBack(ctx: TestContext, response: LongAnswerResponse): Promise<void> {
  await waitFor(
    'the upstream to be held back or to finish',
    () =>
      response.state !== 'streaming' ||
      (response.waitingSince !== null && performance.now() - response.waitingSince >= STALL_MS),
    180_000,
  );
  assert.equal(
    response.state,
    'streaming',
    'the upstream wrote the whole answer to a client reading nothing',
  );
  const written = response.written;
  ctx.diagnostic(
    `the upstream wrote ${(written / MIB).toFixed(2)} MiB of ${(upstream.answer.length / MIB).toFixed(0)} MiB while the client read nothing`,
  );
  assert.ok(
    written < HELD_BACK_BOUND,
    `the upstream wrote ${written} characters of ${upstream.answer.length} while the client read nothing`,
  );
}

/** A streamed completion, asked for over a raw HTTP request whose response is not read yet. */
async function openCompletion(
  user: TestUser,
): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
  const req = http.request(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: user.auth, 'content-type': 'application/json' },
  });
  req.end(JSON.stringify({ model: 'long', stream: true, messages: [{ role: 'user', content: 'Go on.' }] }));
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    req.once('response', resolve).once('error', reject),
  );
  assert.equal(res.statusCode, 200);
  // Not read: no 'data' listener, so the response stays paused and Node stops reading its socket.
  return { req, res };
}

/** Reads a server-sent event stream to its end: the message id and the content deltas. */
async function readEvents(
  res: http.IncomingMessage,
): Promise<{ id: string; content: string; done: boolean }> {
  res.setEncoding('utf8');
  let body = '';
  for await (const part of res) body += part;
  const events = body.split('\n\n').filter((e) => e.startsWith('data: '));
  let id = '';
  const deltas: string[] = [];
  for (const e of events.slice(0, -1)) {
    const chunk = JSON.parse(e.slice('data: '.length)) as {
      id: string;
      choices: Array<{ delta: { content?: string } }>;
    };
    id ||= chunk.id;
    deltas.push(chunk.choices[0]?.delta.content ?? '');
  }
  return { id, content: deltas.join(''), done: events.at(-1) === 'data: [DONE]' };
}

const storedAnswer = (user: TestUser) =>
  t.app.db.prisma.message.findFirst({
    where: { role: 'assistant', conversation: { userId: user.id } },
    orderBy: { createdAt: 'desc' },
  });

const finishReason = (params: unknown) => (params as { finishReason?: string }).finishReason;

/** A chat socket whose messages are collected as they are read. */
async function openSocket(user: TestUser) {
  const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/chat/socket`, {
    headers: { authorization: user.auth },
  });
  const inbox: Array<Record<string, unknown> & { type: string }> = [];
  socket.on('message', (data) => inbox.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return { socket, inbox };
}

/** A user's socket asks for the long answer and stops reading once it starts; the upstream is held back. */
async function pausedSocketAnswer(ctx: TestContext) {
  const user = await makeUser(t.app);
  const count = upstream.responses.length;
  const { socket, inbox } = await openSocket(user);
  socket.send(JSON.stringify({ type: 'generate', requestId: 'long', content: 'Go on.', model: 'long' }));
  await waitFor('the answer to start', () => inbox.find((m) => m.type === 'started'), 30_000, 0);
  socket.pause();
  const response = await upstreamResponse(count);
  await heldBack(ctx, response);
  return { user, socket, inbox, response };
}

describe('a client that stops reading holds the upstream back', () => {
  test('server-sent events: the upstream waits while the client reads nothing, then the whole answer arrives and is stored', async (ctx) => {
    const user = await makeUser(t.app);
    const count = upstream.responses.length;
    const { res } = await openCompletion(user);
    const response = await upstreamResponse(count);
    await heldBack(ctx, response);

    const read = await readEvents(res);
    assert.ok(read.done, 'the stream ends with [DONE]');
    assert.equal(read.content.length, upstream.answer.length);
    assert.ok(read.content === upstream.answer, 'the client got the answer intact');
    assert.equal(response.state, 'finished');
    const stored = await t.app.db.prisma.message.findUniqueOrThrow({ where: { id: read.id } });
    assert.ok(stored.content === upstream.answer, 'the whole answer is stored');
    assert.equal(finishReason(stored.params), 'stop');
  });

  test('the chat socket: the upstream waits while the client reads nothing, then the whole answer arrives and is stored', async (ctx) => {
    const { socket, inbox } = await pausedSocketAnswer(ctx);

    socket.resume();
    const done = await waitFor('the done message', () => inbox.find((m) => m.type === 'done'), 180_000);
    socket.close();
    const content = inbox
      .filter((m) => m.type === 'token')
      .map((m) => m.delta as string)
      .join('');
    assert.equal(content.length, upstream.answer.length);
    assert.ok(content === upstream.answer, 'the client got the answer intact');
    assert.equal(done.finishReason, 'stop');
    const stored = await t.app.db.prisma.message.findUniqueOrThrow({
      where: { id: done.messageId as string },
    });
    assert.ok(stored.content === upstream.answer, 'the whole answer is stored');
  });

  test('server-sent events: a paused client that leaves ends the upstream request; what was generated is stored, marked aborted', async (ctx) => {
    const user = await makeUser(t.app);
    const count = upstream.responses.length;
    const { req } = await openCompletion(user);
    const response = await upstreamResponse(count);
    await heldBack(ctx, response);

    req.destroy();
    await waitFor('the upstream request to end', () => response.state === 'aborted', 30_000);
    const stored = await waitFor('the partial answer', () => storedAnswer(user), 30_000);
    assert.equal(finishReason(stored.params), 'aborted');
    assert.ok(stored.content.length > 0 && stored.content.length <= response.written);
    assert.ok(upstream.answer.startsWith(stored.content), 'the stored part is the start of the answer');
  });

  test('the chat socket: a paused client that leaves ends the upstream request; what was generated is stored, marked aborted', async (ctx) => {
    const { user, socket, response } = await pausedSocketAnswer(ctx);

    socket.terminate();
    await waitFor('the upstream request to end', () => response.state === 'aborted', 30_000);
    const stored = await waitFor('the partial answer', () => storedAnswer(user), 30_000);
    assert.equal(finishReason(stored.params), 'aborted');
    assert.ok(stored.content.length > 0 && stored.content.length <= response.written);
    assert.ok(upstream.answer.startsWith(stored.content), 'the stored part is the start of the answer');
  });
});
