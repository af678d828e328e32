// The feedback threshold that starts runs counts what the dataset builds would use: feedback from
// raters the builders trust (src/feedback/raters), each answer once per rater (thumbs and stars on
// one answer, or a rating changed again, are one item). One user cannot start runs alone by
// hammering the rating route.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { countNewFeedback } from '../../../src/loop/new-feedback.ts';
import { getSchedule, scheduleDefaults } from '../../../src/loop/schedule.ts';
import { registerModelVersion } from '../../../src/promotion/model-versions.ts';
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
    // The scheduler's check skips the assessment when even the untrusted count is below its threshold:
    // 100 answers before trust, 0 after.
    assert.equal(await countNewFeedback(t.app.db.prisma, schedule, { below: 101 }), 100);
    assert.equal(await countNewFeedback(t.app.db.prisma, schedule, { below: 100 }), 0);
  });

  test('a pair voted on both ways counts once, an approved correction counts, and a version override counts only its answers', async () => {
    await resetCursor();
    const as = (who: TestUser) => ({
      post: (url: string, body: object) =>
        request(t.app.server).post(url).set('authorization', who.auth).send(body),
    });
    const version = await registerModelVersion(t.app.db.prisma, {
      name: `threshold-${Date.now()}`,
      path: 'threshold',
      actorId: null,
    });
    const voter = await makeUser(t.app, 'user');
    const moderator = await makeUser(t.app, 'moderator');
    const { conversationId, promptId, answerId } = await startExchange(
      t,
      voter,
      'What is the capital of Peru?',
      'Lima.',
      version.id,
    );
    const other = await modelAnswer(t, conversationId, promptId, 'Cusco.', version.id);
    for (const [a, b] of [
      [answerId, other.id],
      [other.id, answerId],
    ]) {
      const res = await as(voter).post('/v1/votes', { messageAId: a, messageBId: b, choice: 'a' });
      assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
    }
    assert.equal(await counted(), 1);

    // A correction counts once a moderator approves it, on an answer logged by another model.
    const logged = await startExchange(t, voter, 'And of Bolivia?', 'La Paz is the only capital.');
    const correction = await as(voter).post(`/v1/messages/${logged.answerId}/corrections`, {
      text: 'Sucre is the constitutional capital; La Paz is the seat of government.',
    });
    assert.equal(correction.status, 201, JSON.stringify(correction.body));
    assert.equal(await counted(), 1);
    const approved = await as(moderator).post(`/v1/moderation/corrections/${correction.body.id}/approve`, {
      reason: 'right',
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(await counted(), 2);

    // Datasets limited to the version: the vote counts, the correction on the logged answer does not.
    const schedule = await getSchedule(t.app.db.prisma, scheduleDefaults(t.config));
    const onlyVersion = { ...schedule, datasets: { modelVersionIds: [version.id] } };
    assert.equal(await countNewFeedback(t.app.db.prisma, onlyVersion), 1);
  });
});
