// Who may call what: every role, and no credentials at all, against one representative route of
// each route family. Anonymous callers get 401, signed-in callers without the role 403.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { placeTinyModel } from '../../helpers/llm.ts';
import { startExchange } from '../../helpers/conversations.ts';
import type { Role } from '../../../src/platform/auth/principal.ts';

type Caller = Role | 'anonymous';
const CALLERS: readonly Caller[] = ['anonymous', 'user', 'moderator', 'ops', 'admin', 'service'];

let t: TestApp;
const users = new Map<Role, TestUser>();
/** One answer owned by each role, so each may rate its own. */
const answers = new Map<Role, string>();
let counter = 0;

before(async () => {
  t = await startTestApp();
  for (const role of ['user', 'moderator', 'ops', 'admin', 'service'] as const) {
    const user = await makeUser(t.app, role);
    users.set(role, user);
    answers.set(role, (await startExchange(t, user)).answerId);
  }
});
after(() => t.close());

interface Family {
  route: string;
  expected: Record<Caller, number>;
  /** Makes the call; `tag` names what it would create. */
  call(caller: Caller, tag: string): PromiseLike<request.Response>;
  /** After a refused call: nothing named `tag` was written. */
  unchanged?(tag: string): Promise<void>;
}

function as(caller: Caller, req: request.Test): request.Test {
  return caller === 'anonymous' ? req : req.set('authorization', users.get(caller)!.auth);
}

const api = () => request(t.app.server);

const FAMILIES: Record<string, Family> = {
  chat: {
    route: 'POST /v1/conversations',
    expected: { anonymous: 401, user: 201, moderator: 201, ops: 201, admin: 201, service: 201 },
    call: (caller, tag) => as(caller, api().post('/v1/conversations').send({ title: tag })),
    unchanged: async (tag) =>
      assert.equal(await t.app.db.prisma.conversation.count({ where: { title: tag } }), 0),
  },
  feedback: {
    route: 'PUT /v1/messages/:id/rating',
    expected: { anonymous: 401, user: 200, moderator: 200, ops: 200, admin: 200, service: 200 },
    call: (caller) =>
      as(
        caller,
        api()
          .put(`/v1/messages/${answers.get(caller === 'anonymous' ? 'user' : caller)}/rating`)
          .send({ kind: 'stars', value: 4 }),
      ),
  },
  // Logging a model's answers under its name is the integration path for services (and ops, admins).
  'log-model-answers': {
    route: 'POST /v1/conversations {model}',
    expected: { anonymous: 401, user: 403, moderator: 403, ops: 201, admin: 201, service: 201 },
    call: (caller, tag) =>
      as(
        caller,
        api()
          .post('/v1/conversations')
          .send({
            title: tag,
            model: 'their-model',
            messages: [
              { role: 'user', content: 'hi' },
              { role: 'assistant', content: 'hello' },
            ],
          }),
      ),
    unchanged: async (tag) =>
      assert.equal(await t.app.db.prisma.conversation.count({ where: { title: tag } }), 0),
  },
  moderation: {
    route: 'GET /v1/moderation/corrections',
    expected: { anonymous: 401, user: 403, moderator: 200, ops: 403, admin: 200, service: 403 },
    call: (caller) => as(caller, api().get('/v1/moderation/corrections')),
  },
  annotation: {
    route: 'POST /v1/annotation/queues',
    expected: { anonymous: 401, user: 403, moderator: 201, ops: 201, admin: 201, service: 403 },
    call: (caller, tag) =>
      as(
        caller,
        api()
          .post('/v1/annotation/queues')
          .send({
            name: tag,
            rubric: { thumbs: true },
            source: { kind: 'sample', limit: 1 },
            annotators: { roles: ['user'] },
          }),
      ),
    unchanged: async (tag) =>
      assert.equal(await t.app.db.prisma.annotationQueue.count({ where: { name: tag } }), 0),
  },
  'models-read': {
    route: 'GET /v1/model-versions',
    expected: { anonymous: 401, user: 200, moderator: 200, ops: 200, admin: 200, service: 200 },
    call: (caller) => as(caller, api().get('/v1/model-versions')),
  },
  'models-write': {
    route: 'POST /v1/model-versions',
    expected: { anonymous: 401, user: 403, moderator: 403, ops: 201, admin: 201, service: 403 },
    call: async (caller, tag) => {
      // Registration reads the folder: a real (tiny) model, removed again from the shared MODEL_DIR.
      const folder = placeTinyModel(t.config.MODEL_DIR, tag);
      try {
        return await as(caller, api().post('/v1/model-versions').send({ name: tag, path: tag }));
      } finally {
        folder.remove();
      }
    },
    unchanged: async (tag) =>
      assert.equal(await t.app.db.prisma.modelVersion.count({ where: { name: tag } }), 0),
  },
  completions: {
    route: 'GET /v1/models',
    expected: { anonymous: 401, user: 200, moderator: 200, ops: 200, admin: 200, service: 200 },
    call: (caller) => as(caller, api().get('/v1/models')),
  },
  datasets: {
    route: 'GET /v1/datasets',
    expected: { anonymous: 401, user: 403, moderator: 403, ops: 200, admin: 200, service: 403 },
    call: (caller) => as(caller, api().get('/v1/datasets')),
  },
  insights: {
    route: 'GET /v1/insights/metrics',
    expected: { anonymous: 401, user: 403, moderator: 403, ops: 200, admin: 200, service: 403 },
    call: (caller) => as(caller, api().get('/v1/insights/metrics')),
  },
  'users-admin': {
    route: 'POST /v1/users',
    expected: { anonymous: 401, user: 403, moderator: 403, ops: 403, admin: 201, service: 403 },
    call: (caller, tag) =>
      as(
        caller,
        api()
          .post('/v1/users')
          .send({ email: `${tag}@example.test` }),
      ),
    unchanged: async (tag) =>
      assert.equal(await t.app.db.prisma.user.count({ where: { email: `${tag}@example.test` } }), 0),
  },
};

for (const [name, family] of Object.entries(FAMILIES)) {
  describe(`${name}: ${family.route}`, () => {
    for (const caller of CALLERS) {
      const expected = family.expected[caller];
      test(`${caller} -> ${expected}`, async () => {
        const tag = `matrix-${++counter}`;
        const res = await family.call(caller, tag);
        assert.equal(res.status, expected, JSON.stringify(res.body));
        if (expected === 401) assert.equal(res.body.error.code, 'unauthorized');
        if (expected === 403) assert.equal(res.body.error.code, 'forbidden');
        if (expected >= 400) await family.unchanged?.(tag);
      });
    }
  });
}
