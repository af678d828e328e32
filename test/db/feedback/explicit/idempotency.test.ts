// Flags and corrections are idempotent: the same one sent twice (a double click, a retry after a
// lost answer) is one pending row, and the repeat gets the first one's answer. With an
// Idempotency-Key header, a retry gets the first answer, and the key reused for another request is
// refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import { startExchange } from '../../../helpers/conversations.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;

before(async () => {
  t = await startTestApp();
  alice = await makeUser(t.app, 'user');
  bob = await makeUser(t.app, 'user');
});
after(() => t.close());

const api = () => request(t.app.server);
const flag = (user: TestUser, messageId: string, body: object, key?: string) => {
  const req = api().post(`/v1/messages/${messageId}/flags`).set('authorization', user.auth);
  if (key) req.set('idempotency-key', key);
  return req.send(body);
};
const correct = (user: TestUser, messageId: string, text: string, key?: string) => {
  const req = api().post(`/v1/messages/${messageId}/corrections`).set('authorization', user.auth);
  if (key) req.set('idempotency-key', key);
  return req.send({ text });
};

describe('the same flag or correction twice', () => {
  test('a repeated flag returns the first one (same id), not a second pending row', async () => {
    const { answerId } = await startExchange(t, alice);
    const body = { category: 'inaccurate', comment: 'It is Lyon' };
    const first = await flag(alice, answerId, body);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const again = await flag(alice, answerId, { ...body, comment: '  It is Lyon ' });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(await t.app.db.prisma.flag.count({ where: { messageId: answerId } }), 1);

    // Another category or comment is another flag.
    const other = await flag(alice, answerId, { category: 'inaccurate', comment: 'Or Paris?' });
    assert.notEqual(other.body.id, first.body.id);
    assert.equal(await t.app.db.prisma.flag.count({ where: { messageId: answerId } }), 2);
  });

  test('concurrent repeats of one flag store one row', async () => {
    const { answerId } = await startExchange(t, alice);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => flag(alice, answerId, { category: 'unsafe' })),
    );
    assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([201]));
    assert.equal(new Set(answers.map((r) => r.body.id)).size, 1);
    assert.equal(await t.app.db.prisma.flag.count({ where: { messageId: answerId } }), 1);
  });

  test('a repeated correction returns the first one; another text is another correction', async () => {
    const { answerId } = await startExchange(t, alice);
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => correct(alice, answerId, 'The capital of France is Paris.')),
    );
    assert.equal(new Set(answers.map((r) => r.body.id)).size, 1, JSON.stringify(answers.map((r) => r.body)));
    assert.equal(await t.app.db.prisma.correction.count({ where: { messageId: answerId } }), 1);
    const other = await correct(alice, answerId, 'Paris.');
    assert.equal(other.status, 201);
    assert.equal(await t.app.db.prisma.correction.count({ where: { messageId: answerId } }), 2);
  });
});

describe('Idempotency-Key', () => {
  test('a retry with the same key gets the first answer; the key reused for another request is a 409', async () => {
    const { answerId } = await startExchange(t, alice);
    const key = `flag-${Date.now()}`;
    const first = await flag(alice, answerId, { category: 'other', comment: 'one' }, key);
    assert.equal(first.status, 201);
    const retry = await flag(alice, answerId, { category: 'other', comment: 'one' }, key);
    assert.equal(retry.status, 201);
    assert.deepEqual(retry.body, first.body);
    assert.equal(retry.headers['idempotent-replayed'], 'true');

    const reused = await flag(alice, answerId, { category: 'other', comment: 'two' }, key);
    assert.equal(reused.status, 409, JSON.stringify(reused.body));
    assert.equal(reused.body.error.code, 'conflict');
    const onCorrection = await correct(alice, answerId, 'Something else entirely.', key);
    assert.equal(onCorrection.status, 409);
    assert.equal(await t.app.db.prisma.flag.count({ where: { messageId: answerId } }), 1);
    assert.equal(await t.app.db.prisma.correction.count({ where: { messageId: answerId } }), 0);
  });

  test('keys are per user: the same key from another user is their own', async () => {
    const a = await startExchange(t, alice);
    const b = await startExchange(t, bob);
    const key = `shared-${Date.now()}`;
    const fromAlice = await correct(alice, a.answerId, 'Alice has a better answer.', key);
    const fromBob = await correct(bob, b.answerId, 'Bob has a better answer.', key);
    assert.equal(fromAlice.status, 201);
    assert.equal(fromBob.status, 201, JSON.stringify(fromBob.body));
    assert.notEqual(fromBob.body.id, fromAlice.body.id);
    assert.equal(fromBob.headers['idempotent-replayed'], undefined);
  });

  test('a malformed key is a 400 naming the header', async () => {
    const { answerId } = await startExchange(t, alice);
    for (const key of ['x'.repeat(256), 'bad key\t']) {
      const res = await flag(alice, answerId, { category: 'other' }, key);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.details[0].path, 'headers.idempotency-key');
    }
  });
});
