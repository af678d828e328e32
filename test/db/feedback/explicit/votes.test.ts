import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import {
  addMessage,
  errorPaths,
  modelAnswer,
  startExchange,
  type Exchange,
} from '../../../helpers/conversations.ts';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

before(async () => {
  t = await startTestApp();
  alice = await makeUser(t.app, 'user');
  bob = await makeUser(t.app, 'user');
});
after(() => t.close());

const api = () => request(t.app.server);
const vote = (who: TestUser, body: unknown) =>
  api()
    .post('/v1/votes')
    .set('authorization', who.auth)
    .send(body as object);

/** A prompt with two answers (the second a regeneration). */
async function twoAnswers(who = alice): Promise<Exchange & { retryId: string }> {
  const ex = await startExchange(t, who);
  const retry = await modelAnswer(t, ex.conversationId, ex.promptId, 'The capital is Paris.');
  return { ...ex, retryId: retry.id };
}

const votesOn = async (messageId: string) =>
  (await api().get(`/v1/messages/${messageId}`).set('authorization', alice.auth)).body.feedback.votes;

describe('POST /v1/votes', () => {
  test('records a preference between two answers to the same prompt', async () => {
    const ex = await twoAnswers();
    const res = await vote(alice, { messageAId: ex.answerId, messageBId: ex.retryId, choice: 'b' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(
      [res.body.messageAId, res.body.messageBId, res.body.choice],
      [ex.answerId, ex.retryId, 'b'],
    );
    assert.deepEqual(await votesOn(ex.retryId), { won: 1, lost: 0, tie: 0, bothBad: 0 });
    assert.deepEqual(await votesOn(ex.answerId), { won: 0, lost: 1, tie: 0, bothBad: 0 });
  });

  test('voting again on the pair, in either order, replaces the vote (200)', async () => {
    const ex = await twoAnswers();
    assert.equal(
      (await vote(alice, { messageAId: ex.answerId, messageBId: ex.retryId, choice: 'a' })).status,
      201,
    );
    const tie = await vote(alice, { messageAId: ex.answerId, messageBId: ex.retryId, choice: 'tie' });
    assert.equal(tie.status, 200, JSON.stringify(tie.body));
    assert.deepEqual(await votesOn(ex.answerId), { won: 0, lost: 0, tie: 1, bothBad: 0 });

    // Shown the other way round, the user now prefers the regeneration.
    const swapped = await vote(alice, { messageAId: ex.retryId, messageBId: ex.answerId, choice: 'a' });
    assert.equal(swapped.status, 200);
    assert.equal(swapped.body.id, tie.body.id);
    assert.deepEqual(await votesOn(ex.retryId), { won: 1, lost: 0, tie: 0, bothBad: 0 });
    assert.deepEqual(await votesOn(ex.answerId), { won: 0, lost: 1, tie: 0, bothBad: 0 });
    const pairVotes = await t.app.db.prisma.pairwiseVote.count({
      where: { OR: [{ messageAId: ex.answerId }, { messageBId: ex.answerId }] },
    });
    assert.equal(pairVotes, 1);
  });

  test('answers that are not siblings cannot be compared (400)', async () => {
    const ex = await twoAnswers();
    // An answer to a follow-up prompt in the same conversation.
    const followUp = await addMessage(t, alice, ex.conversationId, {
      role: 'user',
      content: 'And Germany?',
      parentId: ex.answerId,
    });
    const later = await modelAnswer(t, ex.conversationId, followUp.id, 'Berlin.');
    assert.equal(later.parentId, followUp.id);
    const other = await twoAnswers();
    // Two root answers (no prompt) answer nothing in common either.
    const roots = await api().post('/v1/conversations').set('authorization', alice.auth).send({});
    const firstRoot = await modelAnswer(t, roots.body.id, null, 'Hello, how can I help?');
    const secondRoot = await modelAnswer(t, roots.body.id, null, 'Hi there!');
    // A sibling answer the user typed: a person's text, not a model's answer.
    const typed = await addMessage(t, alice, ex.conversationId, {
      role: 'assistant',
      content: 'Paris, obviously.',
      parentId: ex.promptId,
    });

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ messageAId: ex.answerId, messageBId: later.id, choice: 'a' }, 'body.messageBId'],
      [{ messageAId: ex.answerId, messageBId: other.answerId, choice: 'a' }, 'body.messageBId'],
      [{ messageAId: firstRoot.id, messageBId: secondRoot.id, choice: 'a' }, 'body.messageBId'],
      [{ messageAId: ex.answerId, messageBId: typed.id, choice: 'a' }, 'body.messageBId'],
      [{ messageAId: ex.promptId, messageBId: ex.answerId, choice: 'b' }, 'body.messageAId'],
      [{ messageAId: ex.answerId, messageBId: ex.answerId, choice: 'tie' }, 'body.messageBId'],
    ];
    for (const [body, path] of cases) {
      const res = await vote(alice, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok(
        errorPaths(res.body).includes(path),
        `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`,
      );
    }
    assert.equal(await t.app.db.prisma.pairwiseVote.count({ where: { messageAId: ex.answerId } }), 0);
  });

  test('malformed votes are 400s naming the field', async () => {
    const ex = await twoAnswers();
    const cases: Array<[unknown, string]> = [
      [{ messageAId: ex.answerId, messageBId: ex.retryId, choice: 'c' }, 'body.choice'],
      [{ messageAId: ex.answerId, messageBId: ex.retryId }, 'body.choice'],
      [{ messageAId: 'x', messageBId: ex.retryId, choice: 'a' }, 'body.messageAId'],
      [{ messageBId: ex.retryId, choice: 'a' }, 'body.messageAId'],
      [{ messageAId: ex.answerId, messageBId: ex.retryId, choice: 'a', weight: 2 }, 'body.weight'],
    ];
    for (const [body, path] of cases) {
      const res = await vote(alice, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok(
        errorPaths(res.body).includes(path),
        `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`,
      );
    }
    const missing = await api().post('/v1/votes').set('authorization', alice.auth);
    assert.equal(missing.status, 400);
  });

  test("someone else's answers, or unknown ones, are not found", async () => {
    const ex = await twoAnswers(alice);
    const res = await vote(bob, { messageAId: ex.answerId, messageBId: ex.retryId, choice: 'a' });
    assert.equal(res.status, 404);
    const mixed = await twoAnswers(bob);
    assert.equal(
      (await vote(bob, { messageAId: mixed.answerId, messageBId: ex.retryId, choice: 'a' })).status,
      404,
    );
    assert.equal(
      (await vote(alice, { messageAId: ex.answerId, messageBId: NO_SUCH_ID, choice: 'a' })).status,
      404,
    );
    assert.equal(await t.app.db.prisma.pairwiseVote.count({ where: { userId: bob.id } }), 0);
  });
});
