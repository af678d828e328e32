import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { appendMessage, createConversation } from '../../../src/feedback/conversations/conversations.ts';
import { registerModelVersion } from '../../../src/promotion/model-versions.ts';
import { addMessage, errorPaths, startExchange } from '../../helpers/conversations.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let moderator: TestUser;
let ops: TestUser;
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

before(async () => {
  t = await startTestApp();
  alice = await makeUser(t.app, 'user');
  bob = await makeUser(t.app, 'user');
  moderator = await makeUser(t.app, 'moderator');
  ops = await makeUser(t.app, 'ops');
});
after(() => t.close());

const api = () => request(t.app.server);

describe('POST /v1/conversations', () => {
  test('creates an empty conversation', async () => {
    const res = await api().post('/v1/conversations').set('authorization', alice.auth).send({});
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.userId, alice.id);
    assert.equal(res.body.title, '');
    assert.deepEqual(res.body.messages, []);
    assert.ok(!Number.isNaN(Date.parse(res.body.createdAt)));
  });

  test('logs an exchange as a chain: each message answers the one before', async () => {
    const res = await api()
      .post('/v1/conversations')
      .set('authorization', alice.auth)
      .send({
        title: '  Imported from another model ',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
        ],
      });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.title, 'Imported from another model');
    const [system, user, assistant] = res.body.messages;
    assert.deepEqual(
      res.body.messages.map((m: { role: string; content: string }) => [m.role, m.content]),
      [
        ['system', 'Be brief.'],
        ['user', 'Hi'],
        ['assistant', 'Hello!'],
      ],
    );
    assert.equal(system.parentId, null);
    assert.equal(user.parentId, system.id);
    assert.equal(assistant.parentId, user.id);
    assert.equal(assistant.conversationId, res.body.id);
    assert.equal(assistant.siblingCount, 1);
  });

  test('a missing body is a 400', async () => {
    const res = await api()
      .post('/v1/conversations')
      .set('authorization', alice.auth)
      .set('content-type', 'application/json');
    assert.equal(res.status, 400);
  });

  test('unknown fields, wrong types and bad messages are 400s naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ title: 'x', colour: 'blue' }, 'body.colour'],
      [{ title: 42 }, 'body.title'],
      [{ title: 'x'.repeat(201) }, 'body.title'],
      [{ messages: 'hello' }, 'body.messages'],
      [{ messages: [{ role: 'robot', content: 'beep' }] }, 'body.messages.0.role'],
      [{ messages: [{ role: 'user', content: '   ' }] }, 'body.messages.0.content'],
      [
        { messages: [{ role: 'user', content: 'hi', modelVersionId: NO_SUCH_ID }] },
        'body.messages.0.modelVersionId',
      ],
    ];
    for (const [body, path] of cases) {
      const res = await api().post('/v1/conversations').set('authorization', alice.auth).send(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'validation_failed');
      assert.ok(
        errorPaths(res.body).includes(path),
        `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`,
      );
    }
    const unknown = await api()
      .post('/v1/conversations')
      .set('authorization', alice.auth)
      .send({ title: 'x', colour: 'blue' });
    assert.match(unknown.body.error.message, /colour/);
  });
});

describe('GET /v1/conversations', () => {
  test('lists only your own conversations, most recently active first, a page at a time', async () => {
    const carol = await makeUser(t.app, 'user');
    const first = await startExchange(t, carol, 'first?');
    const second = await startExchange(t, carol, 'second?');
    const third = await startExchange(t, carol, 'third?');
    await startExchange(t, bob, 'not carol');

    // A new message in the oldest conversation brings it to the top.
    await addMessage(t, carol, first.conversationId, { role: 'user', content: 'and more?' });

    const page1 = await api().get('/v1/conversations?limit=2').set('authorization', carol.auth);
    assert.equal(page1.status, 200, JSON.stringify(page1.body));
    assert.deepEqual(
      page1.body.conversations.map((c: { id: string }) => c.id),
      [first.conversationId, third.conversationId],
    );
    assert.equal(page1.body.conversations[0].messageCount, 3);
    assert.equal(page1.body.nextBefore, third.conversationId);

    const page2 = await api()
      .get(`/v1/conversations?limit=2&before=${page1.body.nextBefore}`)
      .set('authorization', carol.auth);
    assert.equal(page2.status, 200);
    assert.deepEqual(
      page2.body.conversations.map((c: { id: string }) => c.id),
      [second.conversationId],
    );
    assert.equal(page2.body.nextBefore, null);
  });

  test('bad paging parameters are 400s', async () => {
    const other = await startExchange(t, bob);
    for (const [query, path] of [
      ['limit=0', 'querystring.limit'],
      ['limit=201', 'querystring.limit'],
      ['limit=ten', 'querystring.limit'],
      ['before=nope', 'querystring.before'],
      [`before=${NO_SUCH_ID}`, 'querystring.before'],
      // Someone else's conversation is no cursor of yours.
      [`before=${other.conversationId}`, 'querystring.before'],
      ['sort=asc', 'querystring.sort'],
    ]) {
      const res = await api().get(`/v1/conversations?${query}`).set('authorization', alice.auth);
      assert.equal(res.status, 400, query);
      assert.ok(errorPaths(res.body).includes(path!), `${query} -> ${JSON.stringify(res.body)}`);
    }
  });
});

describe('GET /v1/conversations/:id', () => {
  test('returns the tree depth-first with each message placed among its siblings', async () => {
    const ex = await startExchange(t, alice, 'Tell me a joke', 'Knock knock.');
    // Regenerate the answer, then continue the first answer's branch.
    const retry = await addMessage(t, alice, ex.conversationId, {
      role: 'assistant',
      content: 'Why did the chicken cross the road?',
      parentId: ex.promptId,
    });
    const followUp = await addMessage(t, alice, ex.conversationId, {
      role: 'user',
      content: "Who's there?",
      parentId: ex.answerId,
    });

    const res = await api().get(`/v1/conversations/${ex.conversationId}`).set('authorization', alice.auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const order = res.body.messages.map((m: { id: string }) => m.id);
    assert.deepEqual(order, [ex.promptId, ex.answerId, followUp.id, retry.id]);
    const byId = new Map(
      res.body.messages.map((m: { id: string; siblingIndex: number; siblingCount: number }) => [m.id, m]),
    );
    assert.deepEqual(
      [ex.answerId, retry.id].map((id) => {
        const m = byId.get(id) as { siblingIndex: number; siblingCount: number; parentId: string };
        return [m.parentId, m.siblingIndex, m.siblingCount];
      }),
      [
        [ex.promptId, 0, 2],
        [ex.promptId, 1, 2],
      ],
    );
  });

  test("another user's conversation is not found; reviewers may read it", async () => {
    const ex = await startExchange(t, alice);
    const asBob = await api().get(`/v1/conversations/${ex.conversationId}`).set('authorization', bob.auth);
    assert.equal(asBob.status, 404);
    assert.equal(asBob.body.error.code, 'not_found');
    for (const reviewer of [moderator, ops]) {
      const res = await api()
        .get(`/v1/conversations/${ex.conversationId}`)
        .set('authorization', reviewer.auth);
      assert.equal(res.status, 200, reviewer.role);
      assert.equal(res.body.messages.length, 2);
    }
  });

  test('unknown and malformed ids', async () => {
    const missing = await api().get(`/v1/conversations/${NO_SUCH_ID}`).set('authorization', alice.auth);
    assert.equal(missing.status, 404);
    const bad = await api().get('/v1/conversations/123').set('authorization', alice.auth);
    assert.equal(bad.status, 400);
    assert.deepEqual(errorPaths(bad.body), ['params.id']);
  });
});

describe('POST /v1/conversations/:id/messages', () => {
  test('without parentId a message continues the branch that grew last; null starts a new root', async () => {
    const ex = await startExchange(t, alice);
    const regenerated = await addMessage(t, alice, ex.conversationId, {
      role: 'assistant',
      content: 'It is Paris.',
      parentId: ex.promptId,
    });
    const next = await addMessage(t, alice, ex.conversationId, { role: 'user', content: 'And Spain?' });
    assert.equal(next.parentId, regenerated.id);
    const root = await addMessage(t, alice, ex.conversationId, {
      role: 'user',
      content: 'Start over',
      parentId: null,
    });
    assert.equal(root.parentId, null);
  });

  test('an answer keeps its model version, sampling parameters, latency and token counts', async () => {
    const version = await registerModelVersion(t.app.db.prisma, {
      name: `chat-test-${Date.now()}`,
      path: 'chat-test',
      actorId: null,
    });
    const ex = await startExchange(t, alice);
    const answer = await appendMessage(t.app.db, {
      conversationId: ex.conversationId,
      role: 'assistant',
      content: 'Paris.',
      parentId: ex.promptId,
      author: 'served',
      modelVersionId: version.id,
      params: { temperature: 0.7, top_k: 40, seed: 7, stop: ['\n\n'], presence_penalty: 0.1 },
      latencyMs: 120,
      promptTokens: 9,
      completionTokens: 2,
    });
    const res = await api().get(`/v1/messages/${answer.id}`).set('authorization', alice.auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.modelVersionId, version.id);
    assert.equal(res.body.author, 'served');
    assert.deepEqual(res.body.params, {
      temperature: 0.7,
      top_k: 40,
      seed: 7,
      stop: ['\n\n'],
      presence_penalty: 0.1,
    });
    assert.deepEqual([res.body.latencyMs, res.body.promptTokens, res.body.completionTokens], [120, 9, 2]);
  });

  test('bad messages are 400s naming the field', async () => {
    const ex = await startExchange(t, alice);
    const elsewhere = await startExchange(t, alice);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ role: 'robot', content: 'x' }, 'body.role'],
      [{ content: 'x' }, 'body.role'],
      [{ role: 'user' }, 'body.content'],
      [{ role: 'user', content: '' }, 'body.content'],
      [{ role: 'user', content: 'x'.repeat(100_001) }, 'body.content'],
      [{ role: 'user', content: 'x', parentId: 'nope' }, 'body.parentId'],
      [{ role: 'user', content: 'x', parentId: elsewhere.answerId }, 'body.parentId'],
      [{ role: 'user', content: 'x', parentId: NO_SUCH_ID }, 'body.parentId'],
      // Generation details belong to answers only.
      [{ role: 'user', content: 'x', latencyMs: 3 }, 'body.latencyMs'],
      [{ role: 'assistant', content: 'x', latencyMs: -1 }, 'body.latencyMs'],
      [{ role: 'assistant', content: 'x', promptTokens: 1.5 }, 'body.promptTokens'],
      [{ role: 'assistant', content: 'x', params: { temperature: 'hot' } }, 'body.params.temperature'],
      [{ role: 'assistant', content: 'x', params: { top_p: 2 } }, 'body.params.top_p'],
      // Nobody sets a model version through the API: only the serving path does.
      [{ role: 'assistant', content: 'x', modelVersionId: NO_SUCH_ID }, 'body.modelVersionId'],
      [{ role: 'assistant', content: 'x', model: '' }, 'body.model'],
      [{ role: 'assistant', content: 'x', tone: 'cheerful' }, 'body.tone'],
    ];
    for (const [body, path] of cases) {
      const res = await api()
        .post(`/v1/conversations/${ex.conversationId}/messages`)
        .set('authorization', alice.auth)
        .send(body);
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 100)} -> ${JSON.stringify(res.body)}`);
      assert.ok(errorPaths(res.body).includes(path), `${JSON.stringify(body).slice(0, 100)} -> ${path}`);
    }
    // None of them was stored.
    const after = await api().get(`/v1/conversations/${ex.conversationId}`).set('authorization', alice.auth);
    assert.equal(after.body.messages.length, 2);
  });

  test('only the owner may add messages', async () => {
    const ex = await startExchange(t, alice);
    const body = { role: 'user', content: 'sneaky' };
    const asBob = await api()
      .post(`/v1/conversations/${ex.conversationId}/messages`)
      .set('authorization', bob.auth)
      .send(body);
    assert.equal(asBob.status, 404);
    // A moderator can see the conversation exists, so is told it is forbidden rather than missing.
    const asModerator = await api()
      .post(`/v1/conversations/${ex.conversationId}/messages`)
      .set('authorization', moderator.auth)
      .send(body);
    assert.equal(asModerator.status, 403);
    const missing = await api()
      .post(`/v1/conversations/${NO_SUCH_ID}/messages`)
      .set('authorization', alice.auth)
      .send(body);
    assert.equal(missing.status, 404);
    const after = await api().get(`/v1/conversations/${ex.conversationId}`).set('authorization', alice.auth);
    assert.equal(after.body.messages.length, 2);
  });
});

describe('GET /v1/messages/:id', () => {
  test('the owner and reviewers see the message with its feedback summary; others get 404', async () => {
    const ex = await startExchange(t, alice);
    const own = await api().get(`/v1/messages/${ex.answerId}`).set('authorization', alice.auth);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.content, 'Paris is the capital of France.');
    assert.equal(own.body.parentId, ex.promptId);
    assert.deepEqual(own.body.feedback.thumbs, { up: 0, down: 0 });
    assert.deepEqual(own.body.feedback.mine, { thumbs: null, stars: null });

    assert.equal((await api().get(`/v1/messages/${ex.answerId}`).set('authorization', bob.auth)).status, 404);
    const asModerator = await api().get(`/v1/messages/${ex.answerId}`).set('authorization', moderator.auth);
    assert.equal(asModerator.status, 200);
    assert.equal(asModerator.body.id, ex.answerId);
    assert.equal(
      (await api().get(`/v1/messages/${NO_SUCH_ID}`).set('authorization', alice.auth)).status,
      404,
    );
    assert.equal((await api().get('/v1/messages/xyz').set('authorization', alice.auth)).status, 400);
  });
});

describe('appendMessage (for the completions code)', () => {
  test('stores an answer and refuses an unknown conversation', async () => {
    const ex = await startExchange(t, alice);
    const message = await appendMessage(t.app.db, {
      conversationId: ex.conversationId,
      role: 'assistant',
      content: 'Paris, again.',
      parentId: ex.promptId,
      params: { temperature: 0 },
      latencyMs: 5,
    });
    assert.equal(message.parentId, ex.promptId);
    const res = await api().get(`/v1/conversations/${ex.conversationId}`).set('authorization', alice.auth);
    assert.ok(res.body.messages.some((m: { id: string }) => m.id === message.id));
    await assert.rejects(
      appendMessage(t.app.db, { conversationId: NO_SUCH_ID, role: 'user', content: 'hi' }),
      { code: 'not_found' },
    );
  });
});

describe('the pg message writers', () => {
  test('what they return is what Prisma reads back, awkward text and times included', async () => {
    const awkward = 'quotes " \' and \\ backslashes, {braces}, NULL, commas, , émoji 🙂\nnew line';
    const created = await createConversation(t.app.db, {
      userId: alice.id,
      title: 'awk"ward',
      messages: [
        { role: 'system', content: 'NULL' },
        { role: 'user', content: awkward },
      ],
    });
    const answer = await appendMessage(t.app.db, {
      conversationId: created.id,
      role: 'assistant',
      content: awkward,
      parentId: created.messages[1]!.id,
      params: { temperature: 0.7, stop: ['"', '\\'] },
      latencyMs: 12,
      promptTokens: 3,
      completionTokens: 4,
    });
    const stored = await t.app.db.prisma.conversation.findUniqueOrThrow({
      where: { id: created.id },
      include: { messages: { orderBy: { createdAt: 'asc' } } },
    });
    const { messages: storedMessages, ...storedConversation } = stored;
    const { messages: createdMessages, ...createdConversation } = created;
    assert.deepEqual(
      { ...storedConversation, updatedAt: undefined },
      { ...createdConversation, updatedAt: undefined },
    );
    assert.ok(
      stored.updatedAt.getTime() >= answer.createdAt.getTime(),
      'the answer touched the conversation',
    );
    const byId = new Map(storedMessages.map((m) => [m.id, m]));
    for (const m of [
      ...createdMessages.map(({ siblingIndex: _i, siblingCount: _c, ...rest }) => rest),
      answer,
    ]) {
      assert.deepEqual(byId.get(m.id), m);
    }
    assert.equal(byId.get(answer.id)!.content, awkward);
  });

  test('concurrent appends without a parent take turns: each continues the one before', async () => {
    const { id } = await createConversation(t.app.db, {
      userId: alice.id,
      messages: [{ role: 'user', content: 'start' }],
    });
    const appended = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        appendMessage(t.app.db, { conversationId: id, role: 'user', content: `turn ${i}` }),
      ),
    );
    const rows = await t.app.db.prisma.message.findMany({ where: { conversationId: id } });
    const childless = rows.filter((m) => !rows.some((c) => c.parentId === m.id));
    assert.equal(childless.length, 1, 'one chain, no siblings');
    assert.equal(new Set(appended.map((m) => m.parentId)).size, 8, 'every append has its own parent');
  });

  test('an unknown model version or a parent from another conversation is refused and changes nothing', async () => {
    const a = await createConversation(t.app.db, {
      userId: alice.id,
      messages: [{ role: 'user', content: 'a' }],
    });
    const b = await createConversation(t.app.db, {
      userId: alice.id,
      messages: [{ role: 'user', content: 'b' }],
    });
    const before = await t.app.db.prisma.conversation.findUniqueOrThrow({ where: { id: a.id } });
    await assert.rejects(
      appendMessage(t.app.db, {
        conversationId: a.id,
        role: 'assistant',
        content: 'x',
        parentId: a.messages[0]!.id,
        author: 'served',
        modelVersionId: NO_SUCH_ID,
      }),
      (err: { code?: string; details?: { path: string }[] }) =>
        err.code === 'validation_failed' && err.details?.[0]?.path === 'modelVersionId',
    );
    await assert.rejects(
      appendMessage(t.app.db, {
        conversationId: a.id,
        role: 'user',
        content: 'x',
        parentId: b.messages[0]!.id,
      }),
      (err: { code?: string; details?: { path: string }[] }) =>
        err.code === 'validation_failed' && err.details?.[0]?.path === 'body.parentId',
    );
    assert.equal(await t.app.db.prisma.message.count({ where: { conversationId: a.id } }), 1);
    const after = await t.app.db.prisma.conversation.findUniqueOrThrow({ where: { id: a.id } });
    assert.deepEqual(after.updatedAt, before.updatedAt, 'a refused append does not touch the conversation');
  });
});
