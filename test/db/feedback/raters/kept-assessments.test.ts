// Moderation pages do not reassess every rater on every request: the assessment is kept until a
// rating, vote, correction, flag or judgement changes it (implicit events do not), and then the
// next page shows the change.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import { startExchange } from '../../../helpers/conversations.ts';
import { currentRaterAssessments } from '../../../../src/feedback/raters/submitter-trust.ts';

let t: TestApp;
let rater: TestUser;

before(async () => {
  t = await startTestApp();
  rater = await makeUser(t.app, 'user');
});
after(() => t.close());

const api = () => request(t.app.server);

test('the assessment is computed again only when its inputs change', async () => {
  const db = t.app.db.prisma;
  const ex = await startExchange(t, rater);
  const first = await currentRaterAssessments(db);
  assert.equal(await currentRaterAssessments(db), first, 'nothing changed: the same assessment');

  const events = await api()
    .post('/v1/events')
    .set('authorization', rater.auth)
    .send({ events: [{ id: 'kept-1', type: 'copy', messageId: ex.answerId, ts: Date.now() }] });
  assert.equal(events.body.accepted, 1, JSON.stringify(events.body));
  assert.equal(await currentRaterAssessments(db), first, 'implicit events are not rater inputs');

  const rated = await api()
    .put(`/v1/messages/${ex.answerId}/rating`)
    .set('authorization', rater.auth)
    .send({ kind: 'thumbs', value: 'up' });
  assert.equal(rated.status, 200);
  const second = await currentRaterAssessments(db);
  assert.notEqual(second, first);
  assert.equal(second.find((a) => a.userId === rater.id)?.ratings, 1);
  assert.equal(
    first.find((a) => a.userId === rater.id),
    undefined,
  );
});
