// Limits an attacker meets (issue 13, defect 7 and the argon2 CPU DoS): requests are limited per
// user across all their keys, failed authentication per address, keys per user; login and sign-up
// have tight limits of their own, login a lockout per account; neither reveals which emails have
// accounts; new passwords are long and not common. Each app gets a queue prefix of its own, which
// its Redis counters live under, so tests running side by side never share a counter.
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestApp, makeUser, type TestApp } from '../../helpers/app.ts';
import { issueApiKey } from '../../../src/platform/users/users.ts';
import { deleteQueueKeys } from '../../helpers/loop.ts';

const withOwnCounters = async (env: Record<string, string>): Promise<TestApp> => {
  const prefix = `fllimits-${randomBytes(5).toString('hex')}`;
  const t = await startTestApp({ FEEDLOOP_QUEUE_PREFIX: prefix, ...env });
  return {
    ...t,
    async close() {
      await t.close();
      await deleteQueueKeys(t.config.REDIS_URL, prefix);
    },
  };
};

describe('request and key limits', () => {
  let t: TestApp;
  before(async () => {
    t = await withOwnCounters({
      FEEDLOOP_RATE_LIMIT_PER_MINUTE: '8',
      FEEDLOOP_AUTH_FAILURES_PER_MINUTE: '20',
      FEEDLOOP_API_KEYS_PER_USER: '3',
    });
  });
  after(() => t.close());

  test('the request limit is per user, across all of their keys', async () => {
    const user = await makeUser(t.app);
    const keys = [user.key];
    for (let i = 0; i < 2; i++) keys.push((await issueApiKey(t.app.db.prisma, user.id, `extra ${i}`)).key);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/auth/me',
        headers: { authorization: `Bearer ${keys[i % keys.length]}` },
      });
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 429, 429, 429]);
    // Another user is not affected.
    const other = await makeUser(t.app);
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: { authorization: other.auth },
    });
    assert.equal(res.statusCode, 200);
  });

  test('1,300 guessed keys from one address meet 429s; other addresses are unaffected', async () => {
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 26; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 50 }, () =>
          t.app.inject({
            method: 'GET',
            url: '/v1/auth/me',
            remoteAddress: '203.0.113.7',
            headers: { authorization: `Bearer fl_${randomBytes(32).toString('base64url')}` },
          }),
        ),
      );
      for (const r of replies) statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    }
    assert.equal((statuses.get(401) ?? 0) + (statuses.get(429) ?? 0), 1300, JSON.stringify([...statuses]));
    assert.ok((statuses.get(429) ?? 0) >= 1300 - 20 - 50, `429s: ${JSON.stringify([...statuses])}`);
    const refused = await t.app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      remoteAddress: '203.0.113.7',
      headers: { authorization: 'Bearer fl_another_guess' },
    });
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().error.code, 'rate_limited');
    assert.ok(Number(refused.headers['retry-after']) >= 1);

    const user = await makeUser(t.app);
    const elsewhere = await t.app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      remoteAddress: '198.51.100.20',
      headers: { authorization: user.auth },
    });
    assert.equal(elsewhere.statusCode, 200);
    // A valid key this process holds (its check of the address runs beside the request) is refused
    // from that address too, and nothing it asks for is done.
    const keysBefore = await t.app.db.prisma.apiKey.count({ where: { userId: user.id } });
    const blocked = await t.app.inject({
      method: 'POST',
      url: '/v1/me/api-keys',
      remoteAddress: '203.0.113.7',
      headers: { authorization: user.auth },
      payload: { name: 'second' },
    });
    assert.equal(blocked.statusCode, 429, blocked.body);
    assert.equal(blocked.json().error.code, 'rate_limited');
    assert.equal(await t.app.db.prisma.apiKey.count({ where: { userId: user.id } }), keysBefore);
  });

  test('a user holds at most FEEDLOOP_API_KEYS_PER_USER active keys', async () => {
    // Holds one key; the requests below stay within the 8 a minute of this app.
    const user = await makeUser(t.app);
    const create = (name: string) =>
      request(t.app.server).post('/v1/me/api-keys').set('authorization', user.auth).send({ name });
    assert.equal((await create('two')).status, 201);
    const third = await create('three');
    assert.equal(third.status, 201);
    const fourth = await create('four');
    assert.equal(fourth.status, 409, JSON.stringify(fourth.body));
    assert.match(fourth.body.error.message, /FEEDLOOP_API_KEYS_PER_USER/);
    // Concurrent requests cannot pass the cap together.
    const burst = await Promise.all([create('a'), create('b')]);
    assert.deepEqual(
      burst.map((r) => r.status),
      [409, 409],
    );
    const revoked = await request(t.app.server)
      .delete(`/v1/api-keys/${third.body.id}`)
      .set('authorization', user.auth);
    assert.equal(revoked.status, 204);
    assert.equal((await create('five')).status, 201);
    assert.equal(await t.app.db.prisma.apiKey.count({ where: { userId: user.id, revokedAt: null } }), 3);
  });
});

describe('login and sign-up', () => {
  let t: TestApp;
  before(async () => {
    t = await withOwnCounters({
      FEEDLOOP_LOGIN_PER_MINUTE: '8',
      FEEDLOOP_LOGIN_FAILURES_PER_ACCOUNT: '3',
      FEEDLOOP_SIGNUPS_PER_HOUR: '3',
    });
  });
  after(() => t.close());

  let address = 0;
  /** A fresh client address, so the per-address limits of one test do not spill into the next. */
  const newAddress = () => `192.0.2.${++address}`;
  const post = (url: string, payload: object, remoteAddress: string) =>
    t.app.inject({ method: 'POST', url, payload, remoteAddress });

  test('known and unknown emails get the same answers, and both lock after 3 failures', async () => {
    const password = 'a long and private phrase';
    const known = await makeUser(t.app, 'user', password);
    const unknown = `nobody-${Date.now()}@example.test`;
    const passwordless = await makeUser(t.app, 'user'); // an API-only account
    const answers = async (email: string) => {
      const from = newAddress();
      const out: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await post('/v1/auth/login', { email, password: 'not the password' }, from);
        out.push(`${res.statusCode} ${res.json().error.message.replace(/\d+ s$/, 'N s')}`);
      }
      return out;
    };
    const expected = [
      '401 Wrong email or password',
      '401 Wrong email or password',
      '401 Wrong email or password',
      '429 Too many failed sign-ins for this account; retry in N s',
    ];
    assert.deepEqual(await answers(known.email), expected);
    assert.deepEqual(await answers(unknown), expected);
    assert.deepEqual(await answers(passwordless.email), expected);
    // Locked: even the right password waits, from any address.
    const locked = await post('/v1/auth/login', { email: known.email, password }, newAddress());
    assert.equal(locked.statusCode, 429);
    assert.ok(Number(locked.headers['retry-after']) > 60);

    // A success clears the count of earlier failures.
    const other = await makeUser(t.app, 'user', password);
    const from = newAddress();
    assert.equal(
      (await post('/v1/auth/login', { email: other.email, password: 'wrong one' }, from)).statusCode,
      401,
    );
    assert.equal(
      (await post('/v1/auth/login', { email: other.email, password: 'wrong two' }, from)).statusCode,
      401,
    );
    assert.equal((await post('/v1/auth/login', { email: other.email, password }, from)).statusCode, 200);
    assert.equal(
      (await post('/v1/auth/login', { email: other.email, password: 'wrong 3' }, from)).statusCode,
      401,
    );
    assert.equal((await post('/v1/auth/login', { email: other.email, password }, from)).statusCode, 200);
  });

  test('login attempts are limited per address, whatever the emails', async () => {
    const from = newAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await post('/v1/auth/login', { email: `guess-${i}@example.test`, password: 'guess' }, from);
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 401, 401, 429, 429]);
    const elsewhere = await post(
      '/v1/auth/login',
      { email: 'guess-x@example.test', password: 'guess' },
      newAddress(),
    );
    assert.equal(elsewhere.statusCode, 401);
  });

  test('sign-up answers the same for a taken email and leaves its account alone', async () => {
    const password = 'the owner phrase is long';
    const owner = await makeUser(t.app, 'user', password);
    const from = newAddress();
    const taken = await post('/v1/auth/signup', { email: owner.email, password: 'an attacker phrase' }, from);
    const fresh = await post(
      '/v1/auth/signup',
      { email: `fresh-${Date.now()}@example.test`, password: 'a fresh long phrase' },
      from,
    );
    assert.equal(taken.statusCode, 202, taken.body);
    assert.equal(fresh.statusCode, 202, fresh.body);
    assert.deepEqual(taken.json(), fresh.json());
    assert.equal(taken.headers['set-cookie'], undefined);
    assert.equal(fresh.headers['set-cookie'], undefined);
    // The owner still signs in with their password; the attacker's does not work.
    assert.equal(
      (await post('/v1/auth/login', { email: owner.email, password }, newAddress())).statusCode,
      200,
    );
    assert.equal(
      (await post('/v1/auth/login', { email: owner.email, password: 'an attacker phrase' }, newAddress()))
        .statusCode,
      401,
    );
    // Sign-ups are limited per address: the third works, the fourth is a 429.
    assert.equal(
      (
        await post(
          '/v1/auth/signup',
          { email: `third-${Date.now()}@example.test`, password: 'yet another phrase' },
          from,
        )
      ).statusCode,
      202,
    );
    const fourth = await post(
      '/v1/auth/signup',
      { email: `fourth-${Date.now()}@example.test`, password: 'yet another phrase' },
      from,
    );
    assert.equal(fourth.statusCode, 429);
    assert.equal(fourth.json().error.code, 'rate_limited');
  });

  test('new passwords: at least 12 characters and not a common password', async () => {
    const from = newAddress();
    const refused = async (password: string, pattern: RegExp) => {
      const res = await post('/v1/auth/signup', { email: `p-${Date.now()}@example.test`, password }, from);
      assert.equal(res.statusCode, 400, `${password}: ${res.body}`);
      const details = res.json().error.details as { path: string; message: string }[];
      assert.deepEqual(
        details.map((d) => d.path),
        ['body.password'],
      );
      assert.match(details[0]!.message, pattern);
    };
    await refused('short pass', /at least 12 characters/);
    await refused('qwerty123456', /most common passwords/);
    await refused('Password12345!', /most common passwords/);
    await refused('1q2w3e4r5t6y', /most common passwords/);

    const admin = await makeUser(t.app, 'admin');
    const made = await request(t.app.server)
      .post('/v1/users')
      .set('authorization', admin.auth)
      .send({ email: `by-admin-${Date.now()}@example.test`, password: 'password1234' });
    assert.equal(made.status, 400);
    assert.equal(made.body.error.details[0].path, 'body.password');
  });
});
