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

/** Alice asks, gets a wrong answer and corrects it. */
async function submitted(text = 'Canberra is the capital of Australia.', modelVersionId?: string) {
  const ex = await startExchange(t, alice, 'What is the capital of Australia?', 'Sydney.');
  let answerId = ex.answerId;
  if (modelVersionId) {
    answerId = (await modelAnswer(t, ex.conversationId, ex.promptId, 'Melbourne.', modelVersionId)).id;
  }
  const res = await api()
    .post(`/v1/messages/${answerId}/corrections`)
    .set('authorization', alice.auth)
    .send({ text });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { ...ex, answerId, correctionId: res.body.id as string };
}

const queue = (query = '', who = moderator) =>
  api().get(`/v1/moderation/corrections${query}`).set('authorization', who.auth);
const decide = (id: string, decision: 'approve' | 'reject', body: unknown, who = moderator) =>
  api()
    .post(`/v1/moderation/corrections/${id}/${decision}`)
    .set('authorization', who.auth)
    .send(body as object);
const ids = (body: { corrections: Array<{ id: string }> }) => body.corrections.map((c) => c.id);

describe('correction lifecycle', () => {
  test('submit, review in the queue, edit and approve; deciding twice is a 409', async () => {
    const { correctionId, answerId, promptId } = await submitted();

    const pending = await queue('?status=pending');
    assert.equal(pending.status, 200, JSON.stringify(pending.body));
    const item = pending.body.corrections.find((c: { id: string }) => c.id === correctionId);
    assert.ok(item, 'the new correction is in the pending queue');
    assert.equal(item.status, 'pending');
    assert.equal(item.message.id, answerId);
    assert.equal(item.message.content, 'Sydney.');
    assert.deepEqual(item.prompt, {
      id: promptId,
      role: 'user',
      content: 'What is the capital of Australia?',
    });
    assert.deepEqual(item.submitter, { id: alice.id, email: alice.email });
    assert.equal(item.reviewer, null);

    const approved = await decide(correctionId, 'approve', {
      reason: 'Right, with a clearer sentence',
      text: 'The capital of Australia is Canberra.',
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.status, 'approved');
    assert.equal(approved.body.correctedText, 'The capital of Australia is Canberra.');
    assert.equal(approved.body.submittedText, 'Canberra is the capital of Australia.');
    assert.deepEqual(approved.body.reviewer, { id: moderator.id, email: moderator.email });
    assert.equal(approved.body.reviewReason, 'Right, with a clearer sentence');
    assert.ok(approved.body.reviewedAt);

    assert.ok(!ids((await queue()).body).includes(correctionId), 'gone from the pending queue');
    const done = await queue('?status=approved');
    const listed = done.body.corrections.find((c: { id: string }) => c.id === correctionId);
    assert.equal(listed.status, 'approved');
    assert.equal(listed.reviewer.id, moderator.id);
    assert.equal(listed.reviewReason, 'Right, with a clearer sentence');

    const twice = await decide(correctionId, 'approve', { reason: 'again' }, admin);
    assert.equal(twice.status, 409);
    assert.equal(twice.body.error.code, 'conflict');
    assert.equal((await decide(correctionId, 'reject', { reason: 'changed my mind' })).status, 409);

    const row = await t.app.db.prisma.correction.findUniqueOrThrow({ where: { id: correctionId } });
    assert.deepEqual([row.status, row.reviewerId], ['approved', moderator.id]);
    const audit = await t.app.db.prisma.auditLogEntry.findMany({
      where: { target: `correction:${correctionId}` },
    });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.action, 'correction.approve');
    assert.equal(audit[0]!.actorId, moderator.id);
    assert.deepEqual(
      [(audit[0]!.details as { reason: string }).reason, (audit[0]!.details as { edited: boolean }).edited],
      ['Right, with a clearer sentence', true],
    );

    const summary = await api().get(`/v1/messages/${answerId}`).set('authorization', alice.auth);
    assert.deepEqual(summary.body.feedback.corrections, { pending: 0, approved: 1, rejected: 0 });
  });

  test('approving as sent keeps the text; rejecting records the reason', async () => {
    const kept = await submitted('Canberra.');
    const approve = await decide(kept.correctionId, 'approve', { reason: 'correct' }, admin);
    assert.equal(approve.status, 200);
    assert.equal(approve.body.correctedText, 'Canberra.');

    const wrong = await submitted('Perth.');
    const reject = await decide(wrong.correctionId, 'reject', { reason: 'Also wrong' });
    assert.equal(reject.status, 200, JSON.stringify(reject.body));
    assert.deepEqual([reject.body.status, reject.body.reviewReason], ['rejected', 'Also wrong']);
    assert.equal(reject.body.correctedText, 'Perth.');
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({
      where: { target: `correction:${wrong.correctionId}` },
    });
    assert.equal(audit?.action, 'correction.reject');
    assert.equal((await decide(wrong.correctionId, 'approve', { reason: 'oops' })).status, 409);
  });

  test('nobody decides their own correction or flag (four eyes), not even an admin', async () => {
    for (const who of [moderator, admin]) {
      const ex = await startExchange(t, who, 'What is the capital of Peru?', 'Quito.');
      const correction = await api()
        .post(`/v1/messages/${ex.answerId}/corrections`)
        .set('authorization', who.auth)
        .send({ text: 'Lima is the capital of Peru.' });
      assert.equal(correction.status, 201, JSON.stringify(correction.body));
      const own = await decide(correction.body.id, 'approve', { reason: 'looks right to me' }, who);
      assert.equal(own.status, 403);
      assert.match(own.body.error.message, /another moderator must review it/);
      const flag = await api()
        .post(`/v1/messages/${ex.answerId}/flags`)
        .set('authorization', who.auth)
        .send({ category: 'inaccurate' });
      assert.equal(flag.status, 201, JSON.stringify(flag.body));
      const ownFlag = await api()
        .post(`/v1/moderation/flags/${flag.body.id}/approve`)
        .set('authorization', who.auth)
        .send({ reason: 'agreed' });
      assert.equal(ownFlag.status, 403);
      // Both stay pending for someone else, who may decide them.
      const other = who === moderator ? admin : moderator;
      assert.equal((await decide(correction.body.id, 'approve', { reason: 'correct' }, other)).status, 200);
      const otherFlag = await api()
        .post(`/v1/moderation/flags/${flag.body.id}/reject`)
        .set('authorization', other.auth)
        .send({ reason: 'not wrong enough' });
      assert.equal(otherFlag.status, 200, JSON.stringify(otherFlag.body));
    }
  });

  test('two moderators deciding at once: one wins, the other gets 409', async () => {
    const { correctionId } = await submitted('Canberra!');
    const results = await Promise.all([
      decide(correctionId, 'approve', { reason: 'yes' }, moderator),
      decide(correctionId, 'reject', { reason: 'no' }, admin),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409]);
    assert.equal(
      await t.app.db.prisma.auditLogEntry.count({ where: { target: `correction:${correctionId}` } }),
      1,
    );
  });

  test('bad decisions are 400s and 404s and leave the correction pending', async () => {
    const { correctionId } = await submitted('Canberra, of course.');
    const cases: Array<['approve' | 'reject', unknown, string]> = [
      ['approve', {}, 'body.reason'],
      ['approve', { reason: '  ' }, 'body.reason'],
      ['approve', { reason: 'x'.repeat(2001) }, 'body.reason'],
      ['approve', { reason: 'ok', text: '' }, 'body.text'],
      // Edited back to what the model said is no correction.
      ['approve', { reason: 'ok', text: 'Sydney.' }, 'body.text'],
      ['approve', { reason: 'ok', score: 3 }, 'body.score'],
      ['reject', { reason: 'no', text: 'Canberra.' }, 'body.text'],
      ['reject', { reason: 12 }, 'body.reason'],
    ];
    for (const [decision, body, path] of cases) {
      const res = await decide(correctionId, decision, body);
      assert.equal(res.status, 400, `${decision} ${JSON.stringify(body).slice(0, 60)}`);
      assert.ok(errorPaths(res.body).includes(path), `${JSON.stringify(body).slice(0, 60)} -> ${path}`);
    }
    assert.equal((await decide(NO_SUCH_ID, 'approve', { reason: 'ok' })).status, 404);
    assert.equal((await decide(NO_SUCH_ID, 'reject', { reason: 'ok' })).status, 404);
    const badId = await decide('nope', 'approve', { reason: 'ok' });
    assert.equal(badId.status, 400);
    assert.deepEqual(errorPaths(badId.body), ['params.id']);
    const row = await t.app.db.prisma.correction.findUniqueOrThrow({ where: { id: correctionId } });
    assert.deepEqual([row.status, row.correctedText], ['pending', 'Canberra, of course.']);
  });
});

describe('GET /v1/moderation/corrections', () => {
  test('filters by model version and status, newest first, a page at a time', async () => {
    const version = await registerModelVersion(t.app.db.prisma, {
      name: 'mod-test',
      path: 'mod-test',
      actorId: null,
    });
    const first = await submitted('Canberra (1).', version.id);
    const second = await submitted('Canberra (2).', version.id);
    const third = await submitted('Canberra (3).', version.id);
    await submitted('Canberra, from another model.');
    await decide(second.correctionId, 'reject', { reason: 'no' });

    const mine = await queue(`?modelVersionId=${version.id}&status=all`);
    assert.deepEqual(ids(mine.body), [third.correctionId, second.correctionId, first.correctionId]);
    const pendingOnly = await queue(`?modelVersionId=${version.id}`);
    assert.deepEqual(ids(pendingOnly.body), [third.correctionId, first.correctionId]);
    assert.equal(pendingOnly.body.corrections[0].message.modelVersionId, version.id);

    const page1 = await queue(`?modelVersionId=${version.id}&status=all&limit=2`);
    assert.deepEqual(ids(page1.body), [third.correctionId, second.correctionId]);
    assert.equal(page1.body.nextBefore, second.correctionId);
    const page2 = await queue(
      `?modelVersionId=${version.id}&status=all&limit=2&before=${page1.body.nextBefore}`,
    );
    assert.deepEqual(ids(page2.body), [first.correctionId]);
    assert.equal(page2.body.nextBefore, null);
  });

  test('bad filters are 400s naming the parameter', async () => {
    for (const [query, path] of [
      ['?status=maybe', 'querystring.status'],
      ['?modelVersionId=v1', 'querystring.modelVersionId'],
      ['?limit=0', 'querystring.limit'],
      [`?before=${NO_SUCH_ID}`, 'querystring.before'],
      ['?category=unsafe', 'querystring.category'],
    ]) {
      const res = await queue(query);
      assert.equal(res.status, 400, query);
      assert.ok(errorPaths(res.body).includes(path!), `${query} -> ${JSON.stringify(res.body)}`);
    }
  });
});
