import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import { errorPaths, startExchange } from '../../../helpers/conversations.ts';
import { MAX_CORRECTION_CHARS } from '../../../../src/contract/feedback.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let moderator: TestUser;
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

before(async () => {
  t = await startTestApp();
  alice = await makeUser(t.app, 'user');
  bob = await makeUser(t.app, 'user');
  moderator = await makeUser(t.app, 'moderator');
});
after(() => t.close());

const api = () => request(t.app.server);
const feedbackOn = async (messageId: string) =>
  (await api().get(`/v1/messages/${messageId}`).set('authorization', alice.auth)).body.feedback;

describe('POST /v1/messages/:id/flags', () => {
  test('flags an answer for review', async () => {
    const { answerId } = await startExchange(t, alice);
    const res = await api()
      .post(`/v1/messages/${answerId}/flags`)
      .set('authorization', alice.auth)
      .send({ category: 'inaccurate', comment: '  It is Lyon, surely?  ' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(
      [res.body.messageId, res.body.category, res.body.comment, res.body.status],
      [answerId, 'inaccurate', 'It is Lyon, surely?', 'pending'],
    );
    const bare = await api()
      .post(`/v1/messages/${answerId}/flags`)
      .set('authorization', alice.auth)
      .send({ category: 'unsafe' });
    assert.equal(bare.status, 201);
    assert.equal(bare.body.comment, null);
    assert.deepEqual((await feedbackOn(answerId)).flags, { pending: 2, approved: 0, rejected: 0 });
  });

  test("bad flags are 400s; prompts and other people's answers cannot be flagged", async () => {
    const ex = await startExchange(t, alice);
    const cases: Array<[unknown, string]> = [
      [{ category: 'rude' }, 'body.category'],
      [{}, 'body.category'],
      [{ category: 'other', comment: 'x'.repeat(2001) }, 'body.comment'],
      [{ category: 'other', comment: 5 }, 'body.comment'],
      [{ category: 'other', severity: 'high' }, 'body.severity'],
    ];
    for (const [body, path] of cases) {
      const res = await api()
        .post(`/v1/messages/${ex.answerId}/flags`)
        .set('authorization', alice.auth)
        .send(body as object);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok(
        errorPaths(res.body).includes(path),
        `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`,
      );
    }
    const flag = (who: TestUser, id: string) =>
      api().post(`/v1/messages/${id}/flags`).set('authorization', who.auth).send({ category: 'other' });
    assert.equal((await flag(alice, ex.promptId)).status, 400);
    assert.equal((await flag(bob, ex.answerId)).status, 404);
    assert.equal((await flag(moderator, ex.answerId)).status, 404);
    assert.equal((await flag(alice, NO_SUCH_ID)).status, 404);
    assert.equal((await flag(alice, 'nope')).status, 400);
    assert.deepEqual((await feedbackOn(ex.answerId)).flags, { pending: 0, approved: 0, rejected: 0 });
  });
});

describe('POST /v1/messages/:id/corrections', () => {
  test('submits a pending correction of an answer', async () => {
    const { answerId } = await startExchange(t, alice, 'Capital of Australia?', 'Sydney.');
    const res = await api()
      .post(`/v1/messages/${answerId}/corrections`)
      .set('authorization', alice.auth)
      .send({ text: 'Canberra is the capital of Australia.' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'pending');
    assert.equal(res.body.submittedText, 'Canberra is the capital of Australia.');
    assert.equal(res.body.correctedText, 'Canberra is the capital of Australia.');
    assert.deepEqual((await feedbackOn(answerId)).corrections, { pending: 1, approved: 0, rejected: 0 });
  });

  test(`the text must change the answer and fit in ${MAX_CORRECTION_CHARS} characters`, async () => {
    const ex = await startExchange(t, alice, 'Capital of Australia?', 'Sydney.');
    const cases: Array<[unknown, string]> = [
      [{ text: 'Sydney.' }, 'body.text'],
      [{ text: '  Sydney.\n' }, 'body.text'],
      [{ text: '' }, 'body.text'],
      [{ text: '   ' }, 'body.text'],
      [{ text: 'x'.repeat(MAX_CORRECTION_CHARS + 1) }, 'body.text'],
      [{ text: 42 }, 'body.text'],
      [{}, 'body.text'],
      [{ text: 'Canberra.', why: 'geography' }, 'body.why'],
    ];
    for (const [body, path] of cases) {
      const res = await api()
        .post(`/v1/messages/${ex.answerId}/corrections`)
        .set('authorization', alice.auth)
        .send(body as object);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.ok(errorPaths(res.body).includes(path), `${JSON.stringify(body).slice(0, 80)} -> ${path}`);
    }
    const longest = await api()
      .post(`/v1/messages/${ex.answerId}/corrections`)
      .set('authorization', alice.auth)
      .send({ text: 'x'.repeat(MAX_CORRECTION_CHARS) });
    assert.equal(longest.status, 201);
    assert.deepEqual((await feedbackOn(ex.answerId)).corrections, { pending: 1, approved: 0, rejected: 0 });
  });

  test('only your own answers can be corrected', async () => {
    const ex = await startExchange(t, alice);
    const correct = (who: TestUser, id: string) =>
      api().post(`/v1/messages/${id}/corrections`).set('authorization', who.auth).send({ text: 'Better.' });
    const prompt = await correct(alice, ex.promptId);
    assert.equal(prompt.status, 400);
    assert.match(prompt.body.error.message, /assistant/);
    assert.equal((await correct(bob, ex.answerId)).status, 404);
    assert.equal((await correct(moderator, ex.answerId)).status, 404);
    assert.equal((await correct(alice, NO_SUCH_ID)).status, 404);
    assert.equal(await t.app.db.prisma.correction.count({ where: { messageId: ex.answerId } }), 0);
  });
});
