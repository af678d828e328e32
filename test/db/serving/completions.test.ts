import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import request from 'supertest';
import WebSocket from 'ws';
import { startTestApp, makeUser, type TestApp, type TestUser } from '../../helpers/app.ts';
import { ensureBaseModel } from '../../../src/promotion/base-model.ts';

const MODEL_DIR = fileURLToPath(new URL('../../../models', import.meta.url));

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('completions through an OpenAI client', () => {
  let t: TestApp;
  let user: TestUser;
  let client: OpenAI;
  let baseURL: string;

  before(async () => {
    t = await startTestApp({ MODEL_DIR });
    const base = await ensureBaseModel(t.app.db.prisma, MODEL_DIR);
    assert.equal(base?.name, 'base');
    await t.app.servedModels.warm();
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseURL = `${address}/v1`;
    user = await makeUser(t.app);
    client = new OpenAI({ apiKey: user.key, baseURL, maxRetries: 0 });
  });
  after(() => t.close());

  test('lists the registered versions as models', async () => {
    const models = await client.models.list();
    assert.deepEqual(
      models.data.map((m) => m.id),
      ['base'],
    );
  });

  test('answers without streaming and stores the answer with its model version, parameters and counts', async () => {
    const completion = await client.chat.completions.create({
      model: 'default',
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
      max_tokens: 12,
      temperature: 0,
    });
    const text = completion.choices[0]!.message.content!;
    assert.equal(typeof text, 'string');
    assert.ok(completion.usage!.prompt_tokens > 0);
    assert.ok(completion.usage!.completion_tokens > 0 && completion.usage!.completion_tokens <= 12);
    assert.equal(completion.model, 'base');

    const stored = await t.app.db.prisma.message.findUniqueOrThrow({ where: { id: completion.id } });
    assert.equal(stored.role, 'assistant');
    assert.equal(stored.content, text);
    assert.equal(stored.completionTokens, completion.usage!.completion_tokens);
    assert.equal(stored.promptTokens, completion.usage!.prompt_tokens);
    assert.ok(stored.latencyMs !== null && stored.latencyMs >= 0);
    assert.equal((stored.params as { maxTokens: number }).maxTokens, 12);
    const version = await t.app.db.prisma.modelVersion.findUniqueOrThrow({
      where: { id: stored.modelVersionId! },
    });
    assert.equal(version.name, 'base');
    const prompt = await t.app.db.prisma.message.findUniqueOrThrow({ where: { id: stored.parentId! } });
    assert.equal(prompt.content, 'What is the capital of France?');

    // Feedback can refer to the answer by the id the client got.
    const rated = await request(t.app.server)
      .put(`/v1/messages/${completion.id}/rating`)
      .set('Authorization', user.auth)
      .send({ kind: 'thumbs', value: 'up' });
    assert.equal(rated.status, 200, JSON.stringify(rated.body));
  });

  test('streams the same text it stores, ending with a finish reason, under the security headers', async () => {
    // min_tokens is feedloop's extension (as in vLLM): at least a few tokens to stream.
    const body = {
      model: 'default',
      messages: [{ role: 'user' as const, content: 'Define the word river.' }],
      max_tokens: 16,
      min_tokens: 4,
      temperature: 0.8,
      seed: 7,
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const { data: stream, response } = await client.chat.completions.create(body).withResponse();
    // The stream takes over the raw response: it still carries the headers every response has.
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    let text = '';
    let id = '';
    let finish: string | null = null;
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      id = chunk.id;
      chunks += 1;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    assert.ok(chunks >= 3, `got ${chunks} chunks`);
    assert.ok(finish === 'stop' || finish === 'length');
    assert.ok(usage && usage.completion_tokens > 0);
    const stored = await t.app.db.prisma.message.findUniqueOrThrow({ where: { id } });
    assert.equal(stored.content, text);
  });

  test('the same seed gives the same answer', async () => {
    const ask = () =>
      client.chat.completions.create({
        model: 'default',
        messages: [{ role: 'user', content: 'Tell me about Peru.' }],
        max_tokens: 16,
        temperature: 1,
        seed: 1234,
      });
    const [a, b] = await Promise.all([ask(), ask()]);
    assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
  });

  test('bad requests are 4xx in the OpenAI error shape', async () => {
    const cases: Array<[Record<string, unknown>, number, string | null]> = [
      [{ messages: [] }, 400, 'messages'],
      [{ messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 }, 400, 'max_tokens'],
      [{ messages: [{ role: 'user', content: 'hi' }], max_tokens: 100_000 }, 400, 'max_tokens'],
      [{ messages: [{ role: 'user', content: 'hi' }], model: 'no-such-model' }, 404, 'model'],
      [{ messages: [{ role: 'user', content: 'hi' }], n: 3 }, 400, 'n'],
      [{ messages: [{ role: 'robot', content: 'hi' }] }, 400, 'messages.0.role'],
      [{ messages: [{ role: 'assistant', content: 'hi' }] }, 400, 'messages.0.role'],
      [{ messages: [{ role: 'user', content: 'a long story '.repeat(800) }] }, 400, 'messages'],
    ];
    for (const [body, status, param] of cases) {
      const res = await request(t.app.server)
        .post('/v1/chat/completions')
        .set('Authorization', user.auth)
        .send(body);
      assert.equal(res.status, status, `${JSON.stringify(body).slice(0, 80)} -> ${JSON.stringify(res.body)}`);
      assert.equal(typeof res.body.error.message, 'string');
      assert.equal(typeof res.body.error.type, 'string');
      assert.equal(res.body.error.param, param, JSON.stringify(res.body));
    }
    const unknown = await request(t.app.server)
      .post('/v1/chat/completions')
      .set('Authorization', user.auth)
      .send({ messages: [{ role: 'user', content: 'hi' }], model: 'nope' });
    assert.equal(unknown.body.error.code, 'model_not_found');
    const long = await request(t.app.server)
      .post('/v1/chat/completions')
      .set('Authorization', user.auth)
      .send({ messages: [{ role: 'user', content: 'a long story '.repeat(800) }] });
    assert.equal(long.body.error.code, 'context_length_exceeded');
    assert.equal(
      (await request(t.app.server).post('/v1/chat/completions').send({ messages: [] })).status,
      401,
    );
  });

  test('a client that goes away cancels generation and frees the worker; the partial answer is kept', async () => {
    const controller = new AbortController();
    // min_tokens is feedloop's extension (as in vLLM): the answer runs long enough to be cancelled.
    const body = {
      model: 'default',
      messages: [{ role: 'user' as const, content: 'Tell me everything about Chile.' }],
      max_tokens: 2000,
      min_tokens: 2000,
      stream: true as const,
    };
    const stream = await client.chat.completions.create(body, { signal: controller.signal });
    let id = '';
    let chunks = 0;
    // The client stops reading (the SDK ends the iteration quietly on abort).
    for await (const chunk of stream) {
      id = chunk.id;
      chunks += 1;
      if (chunk.choices[0]?.delta.content) controller.abort();
    }
    assert.ok(chunks < 50, `the stream stopped after ${chunks} chunks`);
    const stored = await until('the aborted answer to be stored', () =>
      t.app.db.prisma.message.findUnique({ where: { id } }),
    );
    assert.equal((stored.params as { finishReason: string }).finishReason, 'aborted');
    assert.ok(stored.completionTokens! < 2000);
    const server = await t.app.servedModels.modelServer();
    await until('the worker to be idle', async () => (await server.stats()).every((s) => s.active === 0));
  });

  test('an answer streams while its prompt is stored; if storing fails the stream ends with the error and nothing is kept', async () => {
    // A user deleted while their key is still in the credential cache: the prompt cannot be stored.
    const doomed = await makeUser(t.app);
    const doomedClient = new OpenAI({ apiKey: doomed.key, baseURL, maxRetries: 0 });
    await doomedClient.models.list();
    await t.app.db.prisma.apiKey.deleteMany({ where: { userId: doomed.id } });
    await t.app.db.prisma.user.delete({ where: { id: doomed.id } });

    const body = {
      model: 'default',
      messages: [{ role: 'user' as const, content: 'What is the capital of Chile?' }],
      max_tokens: 2000,
      min_tokens: 2000,
      stream: true as const,
    };
    const stream = await doomedClient.chat.completions.create(body);
    let chunks = 0;
    await assert.rejects(
      (async () => {
        for await (const _chunk of stream) chunks += 1;
      })(),
      (err: Error) => /stor|internal|error/i.test(err.message),
    );
    assert.ok(chunks >= 1, 'the answer started before the store failed');
    assert.ok(chunks < 2000, `the generation was cancelled after ${chunks} chunks`);
    assert.equal(await t.app.db.prisma.conversation.count({ where: { userId: doomed.id } }), 0);
    assert.equal(
      await t.app.db.prisma.message.count({ where: { content: 'What is the capital of Chile?' } }),
      0,
    );
    const server = await t.app.servedModels.modelServer();
    await until('the worker to be idle', async () => (await server.stats()).every((s) => s.active === 0));
  });

  test('the chat socket streams answers, regenerates a sibling and cancels on request', async () => {
    const wsUrl = baseURL.replace(/^http/, 'ws') + '/chat/socket';
    const socket = new WebSocket(wsUrl, { headers: { authorization: user.auth } });
    const inbox: Array<Record<string, unknown>> = [];
    socket.on('message', (data) => inbox.push(JSON.parse(String(data))));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const next = (pred: (m: Record<string, unknown>) => boolean) =>
      until('a socket message', async () => inbox.find(pred));

    socket.send(
      JSON.stringify({
        type: 'generate',
        requestId: 'r1',
        content: 'What is the capital of Japan?',
        options: { maxTokens: 8 },
      }),
    );
    const started = await next((m) => m.type === 'started' && m.requestId === 'r1');
    const done = await next((m) => m.type === 'done' && m.requestId === 'r1');
    const tokens = inbox
      .filter((m) => m.type === 'token' && m.requestId === 'r1')
      .map((m) => m.delta)
      .join('');
    const answer = await t.app.db.prisma.message.findUniqueOrThrow({
      where: { id: done.messageId as string },
    });
    assert.equal(answer.content, tokens);
    assert.equal(answer.parentId, started.userMessageId);

    socket.send(
      JSON.stringify({
        type: 'regenerate',
        requestId: 'r2',
        userMessageId: started.userMessageId,
        options: { maxTokens: 8 },
      }),
    );
    const again = await next((m) => m.type === 'done' && m.requestId === 'r2');
    const sibling = await t.app.db.prisma.message.findUniqueOrThrow({
      where: { id: again.messageId as string },
    });
    assert.equal(sibling.parentId, started.userMessageId, 'a regeneration is a sibling branch');
    assert.notEqual(sibling.id, answer.id);

    socket.send(
      JSON.stringify({
        type: 'generate',
        requestId: 'r3',
        content: 'Tell me a long story.',
        conversationId: started.conversationId,
        options: { maxTokens: 2000, minTokens: 2000 },
      }),
    );
    await next((m) => m.type === 'token' && m.requestId === 'r3');
    socket.send(JSON.stringify({ type: 'cancel', requestId: 'r3' }));
    const cancelled = await next((m) => m.type === 'done' && m.requestId === 'r3');
    assert.equal(cancelled.finishReason, 'aborted');

    socket.send('not json');
    await next((m) => m.type === 'error' && (m.error as { code: string }).code === 'invalid_json');
    socket.send(JSON.stringify({ type: 'generate', requestId: 'r4', content: '' }));
    const invalid = await next(
      (m) => m.type === 'error' && (m.error as { code: string }).code === 'validation_failed',
    );
    assert.match(JSON.stringify(invalid), /content/);
    socket.close();
  });

  test('the socket refuses anonymous connections', async () => {
    const wsUrl = baseURL.replace(/^http/, 'ws') + '/chat/socket';
    const socket = new WebSocket(wsUrl);
    const status = await new Promise<number>((resolve) =>
      socket.once('unexpected-response', (_req, res) => resolve(res.statusCode!)),
    );
    assert.equal(status, 401);
  });
});
