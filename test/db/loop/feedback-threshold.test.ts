// The feedback threshold that starts runs counts what the dataset builds would use: feedback from
// raters the builders trust (src/feedback/raters), each answer once per rater (thumbs and stars on
// one answer, or a rating changed again, are one item). One user cannot start runs alone by
// hammering the rating route.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { countNewFeedback, getSchedule, scheduleDefaults } from '../../../src/loop/schedule.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startExchange, modelAnswer } from '../../helpers/conversations.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';

describe('the feedback threshold counts feedback the datasets would use', () => {
  let t: LoopTest;
  let ops: TestUser;

  before(async () => {
    t = await startLoopTest();
    ops = await makeUser(t.app, 'ops');
  });
  after(() => t.close());

  const put = (who: TestUser, messageId: string, body: object) =>
    request(t.app.server).put(`/v1/messages/${messageId}/rating`).set('authorization', who.auth).send(body);
  const counted = async () => {
    const res = await request(t.app.server).get('/v1/loop/schedule').set('authorization', ops.auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.newApprovedFeedbackSinceLastRun as number;
  };
  const resetCursor = () =>
    t.app.db.prisma.loopSchedule.update({ where: { id: 1 }, data: { lastRunCursor: new Date() } });

  test('one answer rated with thumbs and stars, then changed, counts once for its rater', async () => {
    await getSchedule(t.app.db.prisma, scheduleDefaults(t.config));
    await resetCursor();
    const rater = await makeUser(t.app, 'user');
    const { answerId } = await startExchange(t, rater, 'What is the capital of Peru?', 'Lima.');
    for (const body of [
      { kind: 'thumbs', value: 'up' },
      { kind: 'stars', value: 5 },
      { kind: 'stars', value: 4 },
    ]) {
      const res = await put(rater, answerId, body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    assert.equal(await counted(), 1);

    // A second rater on the same answer is a second item.
    const other = await makeUser(t.app, 'user');
    const { conversationId, promptId } = await startExchange(t, other, 'And of Chile?', 'Santiago.');
    const second = await modelAnswer(t, conversationId, promptId, 'Santiago de Chile.');
    assert.equal((await put(other, second.id, { kind: 'thumbs', value: 'up' })).status, 200);
    assert.equal(await counted(), 2);
  });

  test('200 rating PUTs from one user in a burst do not move the counter by 200', async () => {
    await resetCursor();
    const spammer = await makeUser(t.app, 'user');
    let puts = 0;
    for (let i = 0; i < 100; i++) {
      const { answerId } = await startExchange(t, spammer, `Spam question ${i}?`, `Spam answer ${i}.`);
      for (const body of [
        { kind: 'thumbs', value: 'up' },
        { kind: 'stars', value: 5 },
      ]) {
        const res = await put(spammer, answerId, body);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        puts++;
      }
    }
    assert.equal(puts, 200);
    // The builders exclude this rater (every rating the same, all of them seconds apart), so none counts.
    assert.equal(await counted(), 0);
    const schedule = await getSchedule(t.app.db.prisma, scheduleDefaults(t.config));
    assert.equal(await countNewFeedback(t.app.db.prisma, schedule), 0);
  });
});
