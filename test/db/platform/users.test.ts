import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestApp, makeUser, type TestApp, type TestUser } from '../../helpers/app.ts';

describe('user and key administration', () => {
  let t: TestApp;
  let admin: TestUser;
  let user: TestUser;
  before(async () => {
    t = await startTestApp();
    admin = await makeUser(t.app, 'admin');
    user = await makeUser(t.app, 'user');
  });
  after(() => t.close());

  test('only admins create and list users', async () => {
    for (const role of ['user', 'moderator', 'ops'] as const) {
      const someone = await makeUser(t.app, role);
      const res = await request(t.app.server)
        .post('/v1/users')
        .set('Authorization', someone.auth)
        .send({ email: `new-${role}@example.test` });
      assert.equal(res.status, 403, role);
      assert.equal(
        (await request(t.app.server).get('/v1/users').set('Authorization', someone.auth)).status,
        403,
      );
    }
    assert.equal((await request(t.app.server).post('/v1/users').send({ email: 'a@b.test' })).status, 401);

    const made = await request(t.app.server)
      .post('/v1/users')
      .set('Authorization', admin.auth)
      .send({ email: 'mod@example.test', password: 'moderator phrase', role: 'moderator' });
    assert.equal(made.status, 201);
    assert.equal(made.body.role, 'moderator');
    const dup = await request(t.app.server)
      .post('/v1/users')
      .set('Authorization', admin.auth)
      .send({ email: 'mod@example.test' });
    assert.equal(dup.status, 409);
    const list = await request(t.app.server).get('/v1/users?role=moderator').set('Authorization', admin.auth);
    assert.equal(list.status, 200);
    assert.ok(list.body.users.some((u: { email: string }) => u.email === 'mod@example.test'));
    assert.ok(list.body.users.every((u: { role: string }) => u.role === 'moderator'));
    const badRole = await request(t.app.server)
      .post('/v1/users')
      .set('Authorization', admin.auth)
      .send({ email: 'x@example.test', role: 'root' });
    assert.equal(badRole.status, 400);
    assert.equal(badRole.body.error.details[0].path, 'body.role');
  });

  test('a role change takes effect at once and is audited', async () => {
    const target = await makeUser(t.app, 'user');
    assert.equal(
      (await request(t.app.server).get('/v1/users').set('Authorization', target.auth)).status,
      403,
    );
    const res = await request(t.app.server)
      .patch(`/v1/users/${target.id}`)
      .set('Authorization', admin.auth)
      .send({ role: 'admin' });
    assert.equal(res.status, 200);
    assert.equal(
      (await request(t.app.server).get('/v1/users').set('Authorization', target.auth)).status,
      200,
    );
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({
      where: { action: 'user.role', target: `user:${target.id}` },
    });
    assert.deepEqual(audit?.details, { from: 'user', to: 'admin' });
    assert.equal(audit?.actorId, admin.id);

    const missing = await request(t.app.server)
      .patch('/v1/users/00000000-0000-4000-8000-000000000000')
      .set('Authorization', admin.auth)
      .send({ role: 'ops' });
    assert.equal(missing.status, 404);
    const badId = await request(t.app.server)
      .patch('/v1/users/42')
      .set('Authorization', admin.auth)
      .send({ role: 'ops' });
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error.details[0].path, 'params.id');
  });

  test('users manage their own keys; a revoked key stops working; others cannot revoke it', async () => {
    const made = await request(t.app.server)
      .post('/v1/me/api-keys')
      .set('Authorization', user.auth)
      .send({ name: 'ci' });
    assert.equal(made.status, 201);
    const auth = `Bearer ${made.body.key}`;
    assert.equal((await request(t.app.server).get('/v1/auth/me').set('Authorization', auth)).status, 200);

    const list = await request(t.app.server).get('/v1/me/api-keys').set('Authorization', user.auth);
    assert.equal(list.body.keys.length, 2);
    assert.ok(list.body.keys.every((k: Record<string, unknown>) => !('key' in k) && !('keyHash' in k)));

    const stranger = await makeUser(t.app, 'user');
    const denied = await request(t.app.server)
      .delete(`/v1/api-keys/${made.body.id}`)
      .set('Authorization', stranger.auth);
    assert.equal(denied.status, 404);

    const revoked = await request(t.app.server)
      .delete(`/v1/api-keys/${made.body.id}`)
      .set('Authorization', user.auth);
    assert.equal(revoked.status, 204);
    assert.equal((await request(t.app.server).get('/v1/auth/me').set('Authorization', auth)).status, 401);
    const twice = await request(t.app.server)
      .delete(`/v1/api-keys/${made.body.id}`)
      .set('Authorization', user.auth);
    assert.equal(twice.status, 409);
  });
});
