// Upstream providers against real servers: a second feedloop instance is the OpenAI-compatible
// upstream (serving the tiny random model), registered in the first as an upstream version, and
// the first is driven with the official `openai` client. No mocks: the slow upstreams are real TCP
// peers written here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import pg from 'pg';
import request from 'supertest';
import WebSocket from 'ws';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { closedPort, startSlowPeer, startUpstream, type Upstream } from '../../helpers/upstream.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const KEY_ENV = 'FEEDLOOP_TEST_UPSTREAM_KEY';
const WRONG_KEY_ENV = 'FEEDLOOP_TEST_WRONG_UPSTREAM_KEY';
const WRONG_KEY = 'fl_this-is-a-wrong-key-that-must-never-show-up-0123456789';

/** Every log line the first instance writes, at debug level. */
const logLines: string[] = [];
const logStream = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(String(chunk));
    done();
  },
});
/** Every response body the tests read from the first instance. */
const bodies: string[] = [];
const seen = <T>(value: T): T => {
  bodies.push(typeof value === 'string' ? value : JSON.stringify(value));
  return value;
};

interface Fixture {
  upstream: Upstream;
  t: TestApp;
  ops: TestUser;
  user: TestUser;
  client: OpenAI;
  baseURL: string;
}

async function register(t: TestApp, ops: TestUser, body: Record<string, unknown>) {
  const res = await request(t.app.server)
    .post('/v1/model-versions/upstream')
    .set('Authorization', ops.auth)
    .send({ reason: 'test', ...body });
  seen(res.text);
  // A candidate is for ops until they open it to users (issue 13, defect 14); these tests drive it
  // as a user, so each registered version is opened.
  if (res.status === 201) {
    const opened = await request(t.app.server)
      .put(`/v1/model-versions/${res.body.id}/access`)
      .set('Authorization', ops.auth)
      .send({ openToUsers: true, reason: 'tried by users' });
    assert.equal(opened.status, 200, opened.text);
  }
  return res;
}

describe('an OpenAI-compatible upstream served through feedloop', () => {
  let f: Fixture;

  before(async () => {
    const upstream = await startUpstream('tiny');
    process.env[KEY_ENV] = upstream.key;
    process.env[WRONG_KEY_ENV] = WRONG_KEY;
    const t = await startTestApp({}, { logger: { level: 'debug', stream: logStream } });
    const baseURL = `${await t.app.listen({ port: 0, host: '127.0.0.1' })}/v1`;
    const ops = await makeUser(t.app, 'ops');
    const user = await makeUser(t.app);
    f = { upstream, t, ops, user, baseURL, client: new OpenAI({ apiKey: user.key, baseURL, maxRetries: 0 }) };
  });
  after(async () => {
    await f?.t.close();
    await f?.upstream.close();
  });

  test('ops register an upstream as a candidate; the key stays in the environment; bad input is a 400 naming the field', async () => {
    const res = await register(f.t, f.ops, {
      name: 'up',
      baseUrl: f.upstream.baseUrl,
      model: f.upstream.model,
      apiKeyEnv: KEY_ENV,
      headers: { 'X-Team': 'feedloop-tests' },
      defaults: { maxTokens: 6, temperature: 0.5 },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.status, 'candidate');
    assert.equal(res.body.provider, 'openai');
    assert.equal(res.body.path, null);
    assert.deepEqual(res.body.upstream, {
      baseUrl: f.upstream.baseUrl,
      model: 'tiny',
      apiKeyEnv: KEY_ENV,
      headers: { 'X-Team': 'feedloop-tests' },
    });
    assert.deepEqual(res.body.defaults, { maxTokens: 6, temperature: 0.5 });
    const audit = await f.t.app.db.prisma.auditLogEntry.findFirst({
      where: { action: 'model_version.register', target: `model_version:${res.body.id}` },
    });
    assert.equal((audit?.details as { provider?: string }).provider, 'openai');

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'bad1', baseUrl: 'ftp://127.0.0.1/v1', model: 'm' }, 'body.baseUrl'],
      [{ name: 'bad2', baseUrl: 'not a url', model: 'm' }, 'body.baseUrl'],
      [{ name: 'bad3', baseUrl: 'http://user:secret@127.0.0.1/v1', model: 'm' }, 'body.baseUrl'],
      [{ name: 'bad4', baseUrl: f.upstream.baseUrl, model: '' }, 'body.model'],
      [
        { name: 'bad5', baseUrl: f.upstream.baseUrl, model: 'm', headers: { Authorization: 'Bearer x' } },
        'body.headers.Authorization',
      ],
      [{ name: 'bad6', baseUrl: f.upstream.baseUrl, model: 'm', apiKeyEnv: 'not a name' }, 'body.apiKeyEnv'],
      [
        { name: 'bad7', baseUrl: f.upstream.baseUrl, model: 'm', defaults: { temperature: 9 } },
        'body.defaults.temperature',
      ],
      [
        { name: 'bad8', baseUrl: f.upstream.baseUrl, model: 'm', defaults: { bogus: 1 } },
        'body.defaults.bogus',
      ],
    ];
    for (const [body, path] of cases) {
      const bad = await register(f.t, f.ops, body);
      assert.equal(bad.status, 400, `${JSON.stringify(body)} -> ${bad.text}`);
      assert.ok(
        bad.body.error.details.some((d: { path: string }) => d.path === path),
        `${path} in ${bad.text}`,
      );
    }
    const taken = await register(f.t, f.ops, { name: 'up', baseUrl: f.upstream.baseUrl, model: 'tiny' });
    assert.equal(taken.status, 409);
    const asUser = await register(f.t, f.user, { name: 'mine', baseUrl: f.upstream.baseUrl, model: 'tiny' });
    assert.equal(asUser.status, 403);
  });

  test('it is listed as a model with its provider', async () => {
    const models = seen(await f.client.models.list());
    const up = models.data.find((m) => m.id === 'up') as unknown as { provider: string } | undefined;
    assert.equal(up?.provider, 'openai');
  });

  test('streams token by token as the upstream sends them, and stores the usage the upstream reported', async () => {
    const body = {
      messages: [{ role: 'user' as const, content: 'What is the capital of France?' }],
      max_tokens: 10,
      min_tokens: 10,
      temperature: 1,
      seed: 42,
      stream: true as const,
    };
    // The same request straight to the upstream: with the same seed it sends the same deltas.
    const direct = new OpenAI({ apiKey: f.upstream.key, baseURL: f.upstream.baseUrl, maxRetries: 0 });
    const directDeltas: string[] = [];
    for await (const chunk of await direct.chat.completions.create({ ...body, model: 'tiny' })) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) directDeltas.push(delta);
    }

    const deltas: string[] = [];
    let id = '';
    let model = '';
    let usage: OpenAI.CompletionUsage | undefined;
    const stream = await f.client.chat.completions.create({
      ...body,
      model: 'up',
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      seen(chunk);
      id = chunk.id;
      model = chunk.model;
      usage = chunk.usage ?? usage;
      const delta = chunk.choices[0]?.delta.content;
      if (delta) deltas.push(delta);
    }
    assert.ok(deltas.length >= 3, `${deltas.length} deltas`);
    assert.deepEqual(deltas, directDeltas, 'every upstream delta is passed on as its own chunk');
    assert.equal(model, 'up');

    const stored = await f.t.app.db.prisma.message.findUniqueOrThrow({ where: { id } });
    assert.equal(stored.content, deltas.join(''));
    assert.equal(stored.provider, 'openai');
    assert.equal(stored.author, 'served');
    assert.equal(stored.upstreamModel, 'tiny');
    assert.ok(stored.upstreamResponseId);
    // What the upstream stored for the same exchange is what it reported.
    const there = await f.upstream.t.app.db.prisma.message.findUniqueOrThrow({
      where: { id: stored.upstreamResponseId },
    });
    assert.equal(there.content, stored.content);
    assert.deepEqual(stored.usage, {
      prompt_tokens: there.promptTokens,
      completion_tokens: there.completionTokens,
      total_tokens: there.promptTokens! + there.completionTokens!,
    });
    assert.equal(stored.promptTokens, there.promptTokens);
    assert.equal(stored.completionTokens, 10);
    assert.deepEqual(usage, stored.usage);
    // The version's defaults apply under the request's own options.
    assert.equal((stored.params as { temperature: number }).temperature, 1);
  });

  test('answers a JSON request; the version defaults fill what the request leaves out; feedback works on the answer', async () => {
    const completion = seen(
      await f.client.chat.completions.create({
        model: 'up',
        messages: [{ role: 'user', content: 'Tell me about Spain.' }],
      }),
    );
    const stored = await f.t.app.db.prisma.message.findUniqueOrThrow({ where: { id: completion.id } });
    assert.equal(stored.content, completion.choices[0]!.message.content);
    assert.equal((stored.params as { maxTokens: number }).maxTokens, 6);
    assert.ok(stored.completionTokens! <= 6);
    assert.deepEqual(completion.usage, stored.usage);
    const rated = await request(f.t.app.server)
      .put(`/v1/messages/${completion.id}/rating`)
      .set('Authorization', f.user.auth)
      .send({ kind: 'thumbs', value: 'up' });
    assert.equal(rated.status, 200, rated.text);
  });

  test('the chat socket serves it', async () => {
    const socket = new WebSocket(`${f.baseURL.replace('http', 'ws')}/chat/socket`, {
      headers: { authorization: f.user.auth },
    });
    const inbox: Array<Record<string, unknown>> = [];
    socket.on('message', (data) => inbox.push(seen(JSON.parse(String(data)))));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send(
      JSON.stringify({
        type: 'generate',
        requestId: 'r1',
        content: 'Name a capital.',
        model: 'up',
        options: { maxTokens: 5, minTokens: 5 },
      }),
    );
    const done = await waitFor('the done message', () => inbox.find((m) => m.type === 'done'), 60_000);
    socket.close();
    const tokens = inbox.filter((m) => m.type === 'token').map((m) => m.delta as string);
    const started = inbox.find((m) => m.type === 'started')!;
    assert.equal(started.model, 'up');
    const stored = await f.t.app.db.prisma.message.findUniqueOrThrow({
      where: { id: done.messageId as string },
    });
    assert.equal(stored.content, tokens.join(''));
    assert.equal(stored.completionTokens, 5);
    assert.deepEqual(done.usage, { promptTokens: stored.promptTokens, completionTokens: 5 });
  });

  test('a client that goes away aborts the upstream request; both sides store the partial answer as aborted', async () => {
    const controller = new AbortController();
    // min_tokens (vLLM's, and feedloop's) keeps the upstream's answer going until it is cancelled.
    const body = {
      model: 'up',
      messages: [{ role: 'user' as const, content: 'Tell me everything about Chile.' }],
      max_tokens: 2000,
      min_tokens: 2000,
      stream: true as const,
    };
    const stream = await f.client.chat.completions.create(body, { signal: controller.signal });
    let id = '';
    for await (const chunk of stream) {
      id = chunk.id;
      if (chunk.choices[0]?.delta.content) controller.abort();
    }
    const stored = await waitFor(
      'the aborted answer to be stored',
      () => f.t.app.db.prisma.message.findUnique({ where: { id } }),
      60_000,
    );
    assert.equal((stored.params as { finishReason: string }).finishReason, 'aborted');
    assert.ok(stored.upstreamResponseId);
    const there = await waitFor(
      "the upstream's answer to be stored",
      () => f.upstream.t.app.db.prisma.message.findUnique({ where: { id: stored.upstreamResponseId! } }),
      60_000,
    );
    assert.equal((there.params as { finishReason: string }).finishReason, 'aborted');
    assert.ok(there.completionTokens! < 2000, `${there.completionTokens} tokens`);
    assert.ok(stored.content.length <= there.content.length);
    assert.ok(there.content.startsWith(stored.content));
    const server = await f.upstream.t.app.servedModels.modelServer();
    await waitFor('the upstream worker to be idle', async () =>
      (await server.stats()).every((s) => s.active === 0),
    );
  });

  test('an upstream that is down is a 502 upstream_error in the OpenAI shape, and nothing of the exchange is kept', async () => {
    const port = await closedPort();
    const res = await register(f.t, f.ops, {
      name: 'down',
      baseUrl: `http://127.0.0.1:${port}/v1`,
      model: 'tiny',
    });
    assert.equal(res.status, 201);
    const before = await f.t.app.db.prisma.conversation.count({ where: { userId: f.user.id } });
    for (const stream of [false, true]) {
      const answer = await request(f.t.app.server)
        .post('/v1/chat/completions')
        .set('Authorization', f.user.auth)
        .send({ model: 'down', stream, messages: [{ role: 'user', content: 'Hello there' }] });
      seen(answer.text);
      assert.equal(answer.status, 502, answer.text);
      assert.equal(answer.body.error.code, 'upstream_error');
      assert.equal(answer.body.error.type, 'server_error');
      assert.match(answer.body.error.message, /ECONNREFUSED/);
      assert.ok('param' in answer.body.error);
    }
    // Through the official client too.
    await assert.rejects(
      f.client.chat.completions.create({ model: 'down', messages: [{ role: 'user', content: 'Hi' }] }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 502 && err.code === 'upstream_error',
    );
    assert.equal(await f.t.app.db.prisma.conversation.count({ where: { userId: f.user.id } }), before);
  });

  test('an upstream refusing the key is a 502 that does not repeat the key', async () => {
    const res = await register(f.t, f.ops, {
      name: 'wrong-key',
      baseUrl: f.upstream.baseUrl,
      model: 'tiny',
      apiKeyEnv: WRONG_KEY_ENV,
    });
    assert.equal(res.status, 201);
    const answer = await request(f.t.app.server)
      .post('/v1/chat/completions')
      .set('Authorization', f.user.auth)
      .send({ model: 'wrong-key', messages: [{ role: 'user', content: 'Hello' }] });
    seen(answer.text);
    assert.equal(answer.status, 502);
    assert.equal(answer.body.error.code, 'upstream_error');
    assert.match(answer.body.error.message, /answered 401/);

    const unset = await register(f.t, f.ops, {
      name: 'no-key',
      baseUrl: f.upstream.baseUrl,
      model: 'tiny',
      apiKeyEnv: 'FEEDLOOP_TEST_KEY_THAT_IS_NOT_SET',
    });
    assert.equal(unset.status, 201);
    const missing = await request(f.t.app.server)
      .post('/v1/chat/completions')
      .set('Authorization', f.user.auth)
      .send({ model: 'no-key', messages: [{ role: 'user', content: 'Hello' }] });
    seen(missing.text);
    assert.equal(missing.status, 502);
    assert.match(missing.body.error.message, /FEEDLOOP_TEST_KEY_THAT_IS_NOT_SET is not set/);
  });

  test('the API key is in no response, log line or database column', async () => {
    const secrets = [f.upstream.key, WRONG_KEY];
    for (const secret of secrets) {
      assert.ok(bodies.length > 10);
      for (const body of bodies)
        assert.ok(!body.includes(secret), `a response holds a key: ${body.slice(0, 200)}`);
      assert.ok(logLines.length > 10);
      for (const line of logLines)
        assert.ok(!line.includes(secret), `a log line holds a key: ${line.slice(0, 300)}`);
    }
    // Every row of every table, as text.
    const client = new pg.Client({ connectionString: f.t.database.url });
    await client.connect();
    try {
      const { rows: tables } = await client.query<{ schemaname: string; tablename: string }>(
        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
      );
      assert.ok(tables.length > 10);
      let rowsSearched = 0;
      for (const { schemaname, tablename } of tables) {
        const { rows } = await client.query<{ row: string }>(
          `SELECT t::text AS row FROM "${schemaname}"."${tablename}" t`,
        );
        rowsSearched += rows.length;
        for (const { row } of rows)
          for (const secret of secrets)
            assert.ok(!row.includes(secret), `${tablename} holds a key: ${row.slice(0, 200)}`);
      }
      assert.ok(rowsSearched > 20);
    } finally {
      await client.end();
    }
  });
});

describe('an upstream that is too slow', () => {
  let t: TestApp;
  let user: TestUser;
  let ops: TestUser;

  before(async () => {
    t = await startTestApp({
      FEEDLOOP_UPSTREAM_CONNECT_TIMEOUT_MS: '400',
      FEEDLOOP_UPSTREAM_FIRST_TOKEN_TIMEOUT_MS: '800',
    });
    ops = await makeUser(t.app, 'ops');
    user = await makeUser(t.app);
  });
  after(() => t.close());

  for (const [mode, phase] of [
    ['silent', 'connect'],
    ['headers', 'firstToken'],
  ] as const) {
    test(`a peer that ${mode === 'silent' ? 'never answers' : 'sends headers and no token'} is a 504 upstream_timeout (${phase})`, async () => {
      const peer = await startSlowPeer(mode);
      try {
        const res = await register(t, ops, { name: `slow-${mode}`, baseUrl: peer.baseUrl, model: 'm' });
        assert.equal(res.status, 201);
        for (const stream of [false, true]) {
          const answer = await request(t.app.server)
            .post('/v1/chat/completions')
            .set('Authorization', user.auth)
            .send({ model: `slow-${mode}`, stream, messages: [{ role: 'user', content: 'Hello' }] });
          assert.equal(answer.status, 504, answer.text);
          assert.equal(answer.body.error.code, 'upstream_timeout');
          assert.equal(answer.body.error.details.phase, phase);
          assert.equal(typeof answer.body.error.type, 'string');
        }
        assert.ok(peer.connections() >= 2);
        assert.equal(await t.app.db.prisma.message.count(), 0, 'nothing of the exchange is kept');
      } finally {
        await peer.close();
      }
    });
  }
});
