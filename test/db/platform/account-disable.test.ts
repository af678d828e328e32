// Ending access for good (issue 13, defect 15): an admin disables an account, which ends its
// sessions and keys at once; the bootstrap admin key (FEEDLOOP_ADMIN_KEY), restored at every boot,
// stays revoked once an admin revokes it, and its account stays disabled once disabled.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestApp, makeUser, type TestApp, type TestUser } from '../../helpers/app.ts';
import { ensureAdminKey } from '../../../src/platform/users/users.ts';

describe('disabling accounts', () => {
  let t: TestApp;
  let admin: TestUser;
  before(async () => {
    t = await startTestApp();
    admin = await makeUser(t.app, 'admin');
  });
  after(() => t.close());

  const patch = (id: string, body: object, who: TestUser = admin) =>
    request(t.app.server).patch(`/v1/users/${id}`).set('authorization', who.auth).send(body);
  const me = (auth: { header?: string; cookie?: string }) => {
    const req = request(t.app.server).get('/v1/auth/me');
    if (auth.header) req.set('authorization', auth.header);
    if (auth.cookie) req.set('cookie', auth.cookie);
    return req;
  };

  test('a disabled account loses its sessions and keys at once and cannot sign in', async () => {
    const password = 'a long enough phrase';
    const user = await makeUser(t.app, 'user', password);
    const login = await request(t.app.server).post('/v1/auth/login').send({ email: user.email, password });
    assert.equal(login.status, 200);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    // Warm the credential cache: disabling must not wait for it to expire.
    assert.equal((await me({ header: user.auth })).status, 200);
    assert.equal((await me({ cookie })).status, 200);

    const disabled = await patch(user.id, { disabled: true });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.ok(disabled.body.disabledAt);
    assert.equal((await me({ header: user.auth })).status, 401);
    assert.equal((await me({ cookie })).status, 401);
    assert.equal(await t.app.db.prisma.session.count({ where: { userId: user.id } }), 0);
    assert.equal(await t.app.db.prisma.apiKey.count({ where: { userId: user.id, revokedAt: null } }), 0);
    const again = await request(t.app.server).post('/v1/auth/login').send({ email: user.email, password });
    assert.equal(again.status, 401);
    assert.equal(again.body.error.message, 'Wrong email or password');
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({ where: { action: 'user.disable' } });
    assert.equal(audit?.target, `user:${user.id}`);
    assert.equal(audit?.actorId, admin.id);

    // Enabled again: the password works; the ended keys stay ended.
    const enabled = await patch(user.id, { disabled: false });
    assert.equal(enabled.status, 200);
    assert.equal(enabled.body.disabledAt, null);
    const back = await request(t.app.server).post('/v1/auth/login').send({ email: user.email, password });
    assert.equal(back.status, 200);
    assert.equal((await me({ header: user.auth })).status, 401);
  });

  test('only admins disable, and not their own account', async () => {
    const user = await makeUser(t.app, 'user');
    const ops = await makeUser(t.app, 'ops');
    assert.equal((await patch(user.id, { disabled: true }, ops)).status, 403);
    const self = await patch(admin.id, { disabled: true });
    assert.equal(self.status, 409);
    const empty = await patch(user.id, {});
    assert.equal(empty.status, 400);
    assert.equal((await me({ header: user.auth })).status, 200);
  });

  test('the bootstrap admin key, once revoked or disabled, stays so at the next boots', async () => {
    const key = 'fl_bootstrap_key_for_tests_0123456789';
    const first = await ensureAdminKey(t.app.db.prisma, key);
    assert.equal(first.outcome, 'created');
    assert.equal((await me({ header: `Bearer ${key}` })).status, 200);
    const row = await t.app.db.prisma.apiKey.findFirstOrThrow({ where: { userId: first.userId } });
    const revoked = await request(t.app.server)
      .delete(`/v1/api-keys/${row.id}`)
      .set('authorization', admin.auth);
    assert.equal(revoked.status, 204);

    // The next boot finds the revocation and keeps it.
    assert.equal((await ensureAdminKey(t.app.db.prisma, key)).outcome, 'revoked');
    t.app.credentials.invalidate();
    assert.equal((await me({ header: `Bearer ${key}` })).status, 401);

    // A new value is a deliberate act: it makes a bootstrap admin again.
    const second = 'fl_second_bootstrap_key_0123456789';
    assert.equal((await ensureAdminKey(t.app.db.prisma, second)).outcome, 'created');
    assert.equal((await me({ header: `Bearer ${second}` })).status, 200);

    // Disabling the bootstrap account ends that key too, and the boot does not enable it again.
    assert.equal((await patch(first.userId, { disabled: true })).status, 200);
    assert.equal((await ensureAdminKey(t.app.db.prisma, second)).outcome, 'disabled');
    t.app.credentials.invalidate();
    assert.equal((await me({ header: `Bearer ${second}` })).status, 401);
  });
});
