// The "arena battles" item source: each battle's two answers as one pairwise item, on the sides the
// battle showed them, filtered by vote and by version, never handed to the user who asked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import { modelAnswer, startExchange } from '../../../helpers/conversations.ts';
import { registerModelVersion } from '../../../../src/promotion/model-versions.ts';

let t: TestApp;
let asker: TestUser;
let rater: TestUser;
let moderator: TestUser;

before(async () => {
  t = await startTestApp();
  asker = await makeUser(t.app, 'user');
  rater = await makeUser(t.app, 'user');
  moderator = await makeUser(t.app, 'moderator');
});
after(() => t.close());

const as = (who: TestUser) => ({
  post: (url: string, body: object = {}) =>
    request(t.app.server).post(url).set('authorization', who.auth).send(body),
});

describe('arena battles as a queue source', () => {
  test('yields each battle as a pair, by vote and version, never to the asker', async () => {
    const db = t.app.db.prisma;
    const [alpha, beta, gamma] = await Promise.all(
      ['alpha', 'beta', 'gamma'].map((name) => registerModelVersion(db, { name, path: name, actorId: null })),
    );
    /** A battle of `x` (side A) and `y` (side B), voted `choice` or not. */
    const battle = async (prompt: string, x: string, y: string, choice?: 'a' | 'b') => {
      const exchange = await startExchange(t, asker, prompt, `${prompt} first`, x);
      const second = await modelAnswer(t, exchange.conversationId, exchange.promptId, `${prompt} second`, y);
      const vote = choice
        ? await db.pairwiseVote.create({
            data: { userId: asker.id, messageAId: exchange.answerId, messageBId: second.id, choice },
          })
        : null;
      return db.arenaBattle.create({
        data: {
          userId: asker.id,
          prompt,
          messageAId: exchange.answerId,
          messageBId: second.id,
          versionAId: x,
          versionBId: y,
          voteId: vote?.id ?? null,
          votedAt: vote ? new Date() : null,
        },
      });
    };
    const one = await battle('Battle one?', alpha!.id, beta!.id, 'a');
    await battle('Battle two?', beta!.id, alpha!.id, 'b');
    await battle('Battle three?', gamma!.id, alpha!.id);
    // A plain pair of answers that was no battle is not an arena item.
    const plain = await startExchange(t, asker, 'Not a battle?', 'one', alpha!.id);
    await modelAnswer(t, plain.conversationId, plain.promptId, 'two', beta!.id);

    const create = async (source: object, rubric: object = { pairwise: true, reason: 'off' }) =>
      as(moderator).post('/v1/annotation/queues', {
        name: 'arena',
        rubric,
        source,
        overlap: 1,
        annotators: { userIds: [asker.id, rater.id] },
      });
    const thumbs = await create({ kind: 'arena' }, { thumbs: true });
    assert.equal(thumbs.status, 400);
    assert.ok(JSON.stringify(thumbs.body.error.details).includes('rubric.pairwise'));

    const all = await create({ kind: 'arena' });
    assert.equal(all.status, 201, JSON.stringify(all.body));
    assert.equal(all.body.progress.items, 3);
    const voted = await create({ kind: 'arena', voted: 'voted' });
    assert.equal(voted.body.progress.items, 2);
    const unvoted = await create({ kind: 'arena', voted: 'unvoted' });
    assert.equal(unvoted.body.progress.items, 1);
    const withGamma = await create({ kind: 'arena', modelVersionIds: [gamma!.id] });
    assert.equal(withGamma.body.progress.items, 1);
    const future = await create({ kind: 'arena', from: new Date(Date.now() + 3_600_000).toISOString() });
    // No battle since then: a queue with nothing in it is refused, naming the source.
    assert.equal(future.status, 400);
    assert.ok(JSON.stringify(future.body.error.details).includes('body.source'));

    // The asker is never handed their own battles.
    const mine = await as(asker).post(`/v1/annotation/queues/${all.body.id}/next`);
    assert.equal(mine.status, 200);
    assert.equal(mine.body.item, null);

    // Another rater judges them: each item is the battle's A and B as shown.
    const seen: string[] = [];
    for (;;) {
      const next = await as(rater).post(`/v1/annotation/queues/${all.body.id}/next`);
      assert.equal(next.status, 200, JSON.stringify(next.body));
      if (!next.body.item) break;
      const { answer, answerB, prompt } = next.body.item;
      const row = await db.arenaBattle.findFirstOrThrow({ where: { messageAId: answer.id } });
      assert.equal(answerB.id, row.messageBId);
      assert.deepEqual(prompt, [{ role: 'user', content: row.prompt }]);
      seen.push(row.prompt);
      const judged = await as(rater).post(
        `/v1/annotation/queues/${all.body.id}/items/${next.body.item.itemId}/judgement`,
        { choice: row.id === one.id ? 'a' : 'tie' },
      );
      assert.equal(judged.status, 201, JSON.stringify(judged.body));
    }
    assert.deepEqual(seen.sort(), ['Battle one?', 'Battle three?', 'Battle two?']);
  });
});
