import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestApp, makeUser, type TestApp } from '../../helpers/app.ts';
import { ensureAdminKey } from '../../../src/platform/users/users.ts';
import { createDatabase } from '../../../src/platform/db/client.ts';

describe('browser sign-in', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  test('sign-up creates a user who then signs in and gets a session cookie that is httpOnly', async () => {
    const res = await request(t.app.server)
      .post('/v1/auth/signup')
      .send({ email: 'Ada@Example.test', password: 'correct horse' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.headers['set-cookie'], undefined, 'sign-up answers alike for taken emails: no session');
    const user = await t.app.db.prisma.user.findUniqueOrThrow({ where: { email: 'ada@example.test' } });
    assert.equal(user.role, 'user');
    const login = await request(t.app.server)
      .post('/v1/auth/login')
      .send({ email: 'ada@example.test', password: 'correct horse' });
    assert.equal(login.status, 200);
    assert.equal(login.body.user.email, 'ada@example.test');
    assert.equal(login.body.user.passwordHash, undefined, 'the hash never leaves the server');
    const cookie = String(login.headers['set-cookie']);
    assert.match(cookie, /feedloop_session=/);
    assert.match(cookie, /HttpOnly/);
    const me = await request(t.app.server).get('/v1/auth/me').set('Cookie', cookie.split(';')[0]!);
    assert.equal(me.status, 200);
    assert.equal(me.body.user.email, 'ada@example.test');
  });

  test('sign-up with a taken email answers as for a free one; bad fields name their path', async () => {
    const again = await request(t.app.server)
      .post('/v1/auth/signup')
      .send({ email: 'ada@example.test', password: 'another long one' });
    assert.equal(again.status, 202);
    assert.equal(await t.app.db.prisma.user.count({ where: { email: 'ada@example.test' } }), 1);

    const bad = await request(t.app.server)
      .post('/v1/auth/signup')
      .send({ email: 'not-an-email', password: 'x' });
    assert.equal(bad.status, 400);
    const paths = bad.body.error.details.map((d: { path: string }) => d.path);
    assert.ok(paths.includes('body.email'), paths.join());
    assert.ok(paths.includes('body.password'), paths.join());

    const extra = await request(t.app.server)
      .post('/v1/auth/signup')
      .send({ email: 'x@example.test', password: 'long enough phrase', role: 'admin' });
    assert.equal(extra.status, 400, 'nobody signs themselves up as admin');
    assert.match(JSON.stringify(extra.body.error.details), /role/);
  });

  test('login with the right password works, the wrong one is 401, logout ends the session', async () => {
    const wrong = await request(t.app.server)
      .post('/v1/auth/login')
      .send({ email: 'ada@example.test', password: 'wrong horse' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, 'unauthorized');

    const ok = await request(t.app.server)
      .post('/v1/auth/login')
      .send({ email: 'ada@example.test', password: 'correct horse' });
    assert.equal(ok.status, 200);
    const cookie = String(ok.headers['set-cookie']).split(';')[0]!;
    assert.equal((await request(t.app.server).get('/v1/auth/me').set('Cookie', cookie)).status, 200);

    const session = await request(t.app.server).get('/v1/auth/session').set('Cookie', cookie);
    assert.equal(session.status, 200);
    assert.equal(session.body.user.email, 'ada@example.test');

    const out = await request(t.app.server).post('/v1/auth/logout').set('Cookie', cookie);
    assert.equal(out.status, 204);
    assert.equal((await request(t.app.server).get('/v1/auth/me').set('Cookie', cookie)).status, 401);
    const after = await request(t.app.server).get('/v1/auth/session').set('Cookie', cookie);
    assert.equal(after.status, 200, 'signed out is an answer, not a 401');
    assert.deepEqual(after.body, { user: null });
  });

  test('anonymous and badly authenticated requests are refused', async () => {
    assert.equal((await request(t.app.server).get('/v1/auth/me')).status, 401);
    const bogus = await request(t.app.server).get('/v1/auth/me').set('Authorization', 'Bearer fl_nope');
    assert.equal(bogus.status, 401);
    assert.match(bogus.body.error.message, /Unknown or revoked/);
    const malformed = await request(t.app.server).get('/v1/auth/me').set('Authorization', 'Basic abc');
    assert.equal(malformed.status, 401);
  });
});

test('sign-up can be turned off', async () => {
  const t = await startTestApp({ FEEDLOOP_SIGNUP: 'false' });
  try {
    const res = await request(t.app.server)
      .post('/v1/auth/signup')
      .send({ email: 'a@b.test', password: 'a long enough phrase' });
    assert.equal(res.status, 403);
    assert.match(res.body.error.message, /turned off/);
  } finally {
    await t.close();
  }
});

test('API processes booting at once with one FEEDLOOP_ADMIN_KEY all start, with one admin and one key', async () => {
  const t = await startTestApp();
  // Separate clients, as separate processes have: each boot's reads and inserts interleave.
  const clients = Array.from({ length: 6 }, () => createDatabase(t.database.url, { poolSize: 1 }));
  try {
    const key = 'fl_admin_key_for_concurrent_boots_0123';
    const boots = await Promise.all(clients.map((c) => ensureAdminKey(c.prisma, key)));
    assert.equal(new Set(boots.map((b) => b.userId)).size, 1, 'one admin');
    assert.equal(await t.app.db.prisma.apiKey.count(), 1, 'one key');
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await t.close();
  }
});

test('FEEDLOOP_ADMIN_KEY makes an admin that can create users and keys', async () => {
  const t = await startTestApp();
  try {
    const key = 'fl_admin_key_for_tests_0123456789';
    const first = await ensureAdminKey(t.app.db.prisma, key);
    assert.equal(first.created, true);
    const second = await ensureAdminKey(t.app.db.prisma, key);
    assert.deepEqual(second, { userId: first.userId, created: false, outcome: 'present' });
    assert.equal(await t.app.db.prisma.apiKey.count(), 1, 'a second boot adds no key');

    // Someone demotes the admin; the next boot restores the role.
    await t.app.db.prisma.user.update({ where: { id: first.userId }, data: { role: 'user' } });
    await ensureAdminKey(t.app.db.prisma, key);
    assert.equal(
      (await t.app.db.prisma.user.findUniqueOrThrow({ where: { id: first.userId } })).role,
      'admin',
    );

    const created = await request(t.app.server)
      .post('/v1/users')
      .set('Authorization', `Bearer ${key}`)
      .send({ email: 'rater@example.test', role: 'user' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const issued = await request(t.app.server)
      .post(`/v1/users/${created.body.id}/api-keys`)
      .set('Authorization', `Bearer ${key}`)
      .send({ name: 'laptop' });
    assert.equal(issued.status, 201);
    assert.match(issued.body.key, /^fl_/);
    const me = await request(t.app.server)
      .get('/v1/auth/me')
      .set('Authorization', `Bearer ${issued.body.key}`);
    assert.equal(me.status, 200);
    assert.equal(me.body.user.email, 'rater@example.test');
  } finally {
    await t.close();
  }
});

test('API keys are stored hashed', async () => {
  const t = await startTestApp();
  try {
    const user = await makeUser(t.app);
    const row = await t.app.db.prisma.apiKey.findFirstOrThrow({ where: { userId: user.id } });
    assert.notEqual(row.keyHash, user.key);
    assert.ok(!row.keyHash.includes(user.key.slice(3)));
    assert.match(row.keyHash, /^[0-9a-f]{64}$/);
  } finally {
    await t.close();
  }
});
