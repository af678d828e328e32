import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import { errorPaths, modelAnswer, startExchange } from '../../../helpers/conversations.ts';
import { registerModelVersion } from '../../../../src/promotion/model-versions.ts';

let t: TestApp;
let alice: TestUser;
let moderator: TestUser;
let admin: TestUser;
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

before(async () => {
  t = await startTestApp();
  alice = await makeUser(t.app, 'user');
  moderator = await makeUser(t.app, 'moderator');
  admin = await makeUser(t.app, 'admin');
});
after(() => t.close());

const api = () => request(t.app.server);

async function flagged(category: string, modelVersionId?: string) {
  const ex = await startExchange(t, alice, 'Is it safe to eat raw chicken?', 'Yes, totally.');
  let answerId = ex.answerId;
  if (modelVersionId) {
    answerId = (await modelAnswer(t, ex.conversationId, ex.promptId, 'Sure, why not.', modelVersionId)).id;
  }
  const res = await api()
    .post(`/v1/messages/${answerId}/flags`)
    .set('authorization', alice.auth)
    .send({ category, comment: 'dangerous advice' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { ...ex, answerId, flagId: res.body.id as string };
}

const queue = (query = '') => api().get(`/v1/moderation/flags${query}`).set('authorization', moderator.auth);
const decide = (id: string, decision: 'approve' | 'reject', body: unknown, who = moderator) =>
  api()
    .post(`/v1/moderation/flags/${id}/${decision}`)
    .set('authorization', who.auth)
    .send(body as object);
const ids = (body: { flags: Array<{ id: string }> }) => body.flags.map((f) => f.id);

describe('GET /v1/moderation/flags', () => {
  test('the pending queue shows the answer, its prompt and who flagged it, filtered by category and model', async () => {
    const version = await registerModelVersion(t.app.db.prisma, {
      name: 'flag-test',
      path: 'flag-test',
      actorId: null,
    });
    const unsafe = await flagged('unsafe', version.id);
    const irrelevant = await flagged('irrelevant', version.id);
    const otherModel = await flagged('unsafe');

    const all = await queue();
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const item = all.body.flags.find((f: { id: string }) => f.id === unsafe.flagId);
    assert.deepEqual(
      [item.category, item.comment, item.status, item.message.content, item.prompt.content],
      ['unsafe', 'dangerous advice', 'pending', 'Sure, why not.', 'Is it safe to eat raw chicken?'],
    );
    assert.deepEqual(item.submitter, { id: alice.id, email: alice.email });

    assert.deepEqual(ids((await queue(`?modelVersionId=${version.id}`)).body), [
      irrelevant.flagId,
      unsafe.flagId,
    ]);
    assert.deepEqual(ids((await queue(`?modelVersionId=${version.id}&category=unsafe`)).body), [
      unsafe.flagId,
    ]);
    const unsafeAnywhere = ids((await queue('?category=unsafe')).body);
    assert.ok(unsafeAnywhere.includes(otherModel.flagId) && !unsafeAnywhere.includes(irrelevant.flagId));
  });

  test('bad filters are 400s', async () => {
    for (const [query, path] of [
      ['?category=rude', 'querystring.category'],
      ['?status=open', 'querystring.status'],
      ['?modelVersionId=1', 'querystring.modelVersionId'],
      ['?page=2', 'querystring.page'],
    ]) {
      const res = await queue(query);
      assert.equal(res.status, 400, query);
      assert.ok(errorPaths(res.body).includes(path!), `${query} -> ${JSON.stringify(res.body)}`);
    }
  });
});

describe('flag decisions', () => {
  test('approve and reject pending flags, once each, audited', async () => {
    const upheld = await flagged('unsafe');
    const dismissed = await flagged('other');

    const approve = await decide(upheld.flagId, 'approve', { reason: 'Food-safety risk' });
    assert.equal(approve.status, 200, JSON.stringify(approve.body));
    assert.deepEqual(
      [approve.body.status, approve.body.reviewReason, approve.body.reviewer.id],
      ['approved', 'Food-safety risk', moderator.id],
    );
    const reject = await decide(dismissed.flagId, 'reject', { reason: 'Not a problem' }, admin);
    assert.equal(reject.status, 200);
    assert.deepEqual([reject.body.status, reject.body.reviewer.id], ['rejected', admin.id]);

    assert.equal((await decide(upheld.flagId, 'reject', { reason: 'hmm' })).status, 409);
    assert.equal((await decide(dismissed.flagId, 'reject', { reason: 'hmm' })).status, 409);
    assert.ok(!ids((await queue()).body).includes(upheld.flagId));
    assert.ok(ids((await queue('?status=approved')).body).includes(upheld.flagId));

    const audit = await t.app.db.prisma.auditLogEntry.findMany({
      where: { target: { in: [`flag:${upheld.flagId}`, `flag:${dismissed.flagId}`] } },
      orderBy: { createdAt: 'asc' },
    });
    assert.deepEqual(
      audit.map((a) => [a.action, a.actorId, (a.details as { reason: string }).reason]),
      [
        ['flag.approve', moderator.id, 'Food-safety risk'],
        ['flag.reject', admin.id, 'Not a problem'],
      ],
    );
  });

  test('unknown flags are 404; a reason is required', async () => {
    const { flagId } = await flagged('inaccurate');
    assert.equal((await decide(NO_SUCH_ID, 'approve', { reason: 'x' })).status, 404);
    for (const body of [{}, { reason: '' }, { reason: 'x', text: 'y' }]) {
      const res = await decide(flagId, 'approve', body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    const row = await t.app.db.prisma.flag.findUniqueOrThrow({ where: { id: flagId } });
    assert.equal(row.status, 'pending');
  });
});
