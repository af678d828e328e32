// Text Postgres cannot store (a NUL byte anywhere, a lone UTF-16 surrogate in a JSON column) and
// JSON nested absurdly deep are client mistakes: a 400 naming the field, never a 500 or a leaked
// stack-overflow message. One rule for bodies, query strings and path parameters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { toErrorBody } from '../../../src/platform/errors/error-handler.ts';

let t: TestApp;
let user: TestUser;
let admin: TestUser;

before(async () => {
  t = await startTestApp();
  user = await makeUser(t.app, 'user');
  admin = await makeUser(t.app, 'admin');
});
after(() => t.close());

function assertBadField(res: request.Response, path: string): void {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'validation_failed', JSON.stringify(res.body));
  assert.ok(
    res.body.error.details.some((d: { path: string }) => d.path === path),
    `expected a detail at ${path}: ${JSON.stringify(res.body)}`,
  );
}

describe('NUL bytes and lone surrogates', () => {
  test('a NUL byte in a text field is a 400 naming the field', async () => {
    const res = await request(t.app.server)
      .post('/v1/me/api-keys')
      .set('authorization', user.auth)
      .send({ name: 'laptop\u0000key' });
    assertBadField(res, 'body.name');
    assert.equal(await t.app.db.prisma.apiKey.count({ where: { name: { startsWith: 'laptop' } } }), 0);
  });

  test('a lone surrogate in a field stored as JSON is a 400 naming the field', async () => {
    const res = await request(t.app.server)
      .post('/v1/annotation/queues')
      .set('authorization', admin.auth)
      .send({
        name: 'surrogates',
        rubric: { labels: ['good', 'bad\ud800'] },
        source: { kind: 'sample' },
        annotators: { roles: ['moderator'] },
      });
    assertBadField(res, 'body.rubric.labels.1');
  });

  test('a NUL byte in a query string or a path parameter is a 400 naming it', async () => {
    const query = await request(t.app.server)
      .get('/v1/audit?action=login%00')
      .set('authorization', admin.auth);
    assertBadField(query, 'querystring.action');
    const job = await request(t.app.server)
      .post('/v1/jobs/loop-datasets/ab%00cd/retry')
      .set('authorization', admin.auth);
    assertBadField(job, 'params.jobId');
  });

  test('a NUL byte in an object key is refused too', async () => {
    const res = await request(t.app.server)
      .post('/v1/me/api-keys')
      .set('authorization', user.auth)
      .set('content-type', 'application/json')
      .send('{"name":"k","x\\u0000":1}');
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(res.body.error.message, /body/);
  });
});

describe('deeply nested JSON', () => {
  test('a body nested deeper than 64 levels is a 400 that leaks nothing', async () => {
    for (const depth of [65, 100_000]) {
      const body = `{"name":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const res = await request(t.app.server)
        .post('/v1/me/api-keys')
        .set('authorization', user.auth)
        .set('content-type', 'application/json')
        .send(body);
      assert.equal(res.status, 400, `depth ${depth}: ${res.text.slice(0, 300)}`);
      assert.equal(res.body.error.code, 'invalid_json');
      assert.match(res.body.error.message, /64/);
      assert.doesNotMatch(res.text, /call stack|RangeError|at \w+ \(/);
    }
  });

  test('64 levels are still parsed (then judged by the route schema)', async () => {
    const body = `{"name":${'['.repeat(63)}${']'.repeat(63)}}`;
    const res = await request(t.app.server)
      .post('/v1/me/api-keys')
      .set('authorization', user.auth)
      .set('content-type', 'application/json')
      .send(body);
    assertBadField(res, 'body.name');
  });
});

describe('database text errors', () => {
  test('Postgres refusing a NUL byte or a lone surrogate maps to 400, never 500', async () => {
    const { prisma, pool } = t.app.db;
    const failures: unknown[] = [];
    // Straight to the database, past validation: the errors as Prisma and pg raise them.
    await prisma.user.create({ data: { email: 'nul\u0000@example.test' } }).catch((e) => failures.push(e));
    await prisma.auditLogEntry
      .create({ data: { action: 'test', target: 'x', details: { text: 'lone \ud800' } } })
      .catch((e) => failures.push(e));
    await pool.query('SELECT $1::text', ['a\u0000b']).catch((e) => failures.push(e));
    await pool.query(`SELECT '"\\ud800"'::jsonb`).catch((e) => failures.push(e));
    assert.equal(failures.length, 4);
    for (const err of failures) {
      const { status, body } = toErrorBody(err);
      assert.equal(status, 400, String(err));
      assert.equal(body.error.code, 'bad_request');
      assert.doesNotMatch(body.error.message, /byte sequence|invocation/);
    }
  });
});
