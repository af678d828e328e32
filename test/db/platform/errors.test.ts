import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestApp, makeUser } from '../../helpers/app.ts';
import { buildApp } from '../../../src/platform/app.ts';
import { loadConfig } from '../../../src/platform/config.ts';

const shape = (body: { error?: { code?: unknown; message?: unknown } }) =>
  typeof body.error?.code === 'string' && typeof body.error?.message === 'string';

test('malformed requests are 4xx in the one error shape, never 500', async () => {
  const t = await startTestApp({ FEEDLOOP_BODY_LIMIT: '2048' });
  try {
    const user = await makeUser(t.app);
    const server = t.app.server;
    const badJson = await request(server)
      .post('/v1/me/api-keys')
      .set('Authorization', user.auth)
      .set('Content-Type', 'application/json')
      .send('{"name": ');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.error.code, 'invalid_json');

    const big = await request(server)
      .post('/v1/me/api-keys')
      .set('Authorization', user.auth)
      .send({ name: 'x'.repeat(5000) });
    assert.equal(big.status, 413);
    assert.ok(shape(big.body));

    const text = await request(server)
      .post('/v1/me/api-keys')
      .set('Authorization', user.auth)
      .set('Content-Type', 'text/csv')
      .send('name\nx');
    assert.equal(text.status, 415);
    assert.ok(shape(text.body));

    const wrongType = await request(server)
      .post('/v1/me/api-keys')
      .set('Authorization', user.auth)
      .send({ name: 7 });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.error.details[0].path, 'body.name');

    const missing = await request(server).get('/v1/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'not_found');
  } finally {
    await t.close();
  }
});

test('requests over the rate limit get 429 in the error shape', async () => {
  const t = await startTestApp({ FEEDLOOP_RATE_LIMIT_PER_MINUTE: '3' });
  try {
    const user = await makeUser(t.app);
    const statuses: number[] = [];
    let last: request.Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await request(t.app.server).get('/v1/auth/me').set('Authorization', user.auth);
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal(last!.body.error.code, 'rate_limited');
    // Health checks are not rate limited.
    assert.equal((await request(t.app.server).get('/healthz')).status, 200);
  } finally {
    await t.close();
  }
});

test('Redis down: readiness fails and limited routes answer 503, not 500', async () => {
  const t = await startTestApp({ REDIS_URL: 'redis://127.0.0.1:1' });
  try {
    const user = await makeUser(t.app);
    const res = await request(t.app.server).get('/v1/auth/me').set('Authorization', user.auth);
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'unavailable');
    const ready = await request(t.app.server).get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.redis.ok, false);
    assert.equal(ready.body.postgres.ok, true);
  } finally {
    await t.close();
  }
});

test('Postgres down: 503 and readiness says so', async () => {
  const t = await startTestApp();
  const user = await makeUser(t.app);
  // A second app whose database is a port where nothing listens; the key is checked against it.
  const dead = await buildApp({
    config: loadConfig({ LOG_LEVEL: 'silent', DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/feedloop' }),
  });
  await dead.ready();
  try {
    const res = await request(dead.server).get('/v1/auth/me').set('Authorization', user.auth);
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'unavailable');
    assert.doesNotMatch(JSON.stringify(res.body), /ECONNREFUSED|127\.0\.0\.1/, 'internals stay in the log');
    const ready = await request(dead.server).get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.postgres.ok, false);
  } finally {
    await dead.close();
    await t.close();
  }
});

test('/metrics exposes request counts in Prometheus format', async () => {
  const t = await startTestApp();
  try {
    await request(t.app.server).get('/healthz');
    const res = await request(t.app.server).get('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.text, /feedloop_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
    assert.match(res.text, /feedloop_http_request_duration_seconds_bucket/);
  } finally {
    await t.close();
  }
});
