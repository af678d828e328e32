// The moderation queues carry the submitter's trust, as the rater assessment computes it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import { startExchange } from '../../../helpers/conversations.ts';

let t: TestApp;
let spammer: TestUser;
let newcomer: TestUser;
let moderator: TestUser;

before(async () => {
  t = await startTestApp();
  spammer = await makeUser(t.app, 'user');
  newcomer = await makeUser(t.app, 'user');
  moderator = await makeUser(t.app, 'moderator');
});
after(() => t.close());

const api = () => request(t.app.server);

test('queue items name the submitter trust and why it is reduced; unassessed users are trusted', async () => {
  // Eight thumbs-up in a row, seconds apart at most: the spam check excludes this rater.
  let lastAnswer = '';
  for (let i = 0; i < 8; i++) {
    const ex = await startExchange(t, spammer, `Question ${i}?`, `Answer ${i}.`);
    const rated = await api()
      .put(`/v1/messages/${ex.answerId}/rating`)
      .set('authorization', spammer.auth)
      .send({ kind: 'thumbs', value: 'up' });
    assert.equal(rated.status, 200);
    lastAnswer = ex.answerId;
  }
  const sent = await api()
    .post(`/v1/messages/${lastAnswer}/corrections`)
    .set('authorization', spammer.auth)
    .send({ text: 'A better answer.' });
  assert.equal(sent.status, 201);
  const fresh = await startExchange(t, newcomer);
  const flagged = await api()
    .post(`/v1/messages/${fresh.answerId}/flags`)
    .set('authorization', newcomer.auth)
    .send({ category: 'inaccurate' });
  assert.equal(flagged.status, 201);

  const corrections = await api().get('/v1/moderation/corrections').set('authorization', moderator.auth);
  assert.equal(corrections.status, 200, JSON.stringify(corrections.body));
  const item = corrections.body.corrections.find((c: { id: string }) => c.id === sent.body.id);
  assert.equal(item.submitterTrust.status, 'excluded');
  assert.equal(item.submitterTrust.trust, 0);
  assert.ok(
    item.submitterTrust.reasons.some((r: string) => r.includes('same rating')),
    JSON.stringify(item.submitterTrust),
  );
  const raters = await api().get('/v1/datasets/raters').set('authorization', moderator.auth);
  const listed = raters.body.items.find((r: { userId: string }) => r.userId === spammer.id);
  assert.deepEqual(item.submitterTrust.reasons, listed.reasons);

  const flags = await api().get('/v1/moderation/flags').set('authorization', moderator.auth);
  assert.equal(flags.status, 200, JSON.stringify(flags.body));
  assert.deepEqual(flags.body.flags[0].submitterTrust, { trust: 1, status: 'trusted', reasons: [] });
});
