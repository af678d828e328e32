import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import { errorPaths, startExchange } from '../../../helpers/conversations.ts';

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
const rate = (who: TestUser, messageId: string, body: unknown) =>
  api()
    .put(`/v1/messages/${messageId}/rating`)
    .set('authorization', who.auth)
    .send(body as object);
const feedbackOn = async (who: TestUser, messageId: string) => {
  const res = await api().get(`/v1/messages/${messageId}`).set('authorization', who.auth);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.feedback;
};

describe('PUT /v1/messages/:id/rating', () => {
  test('rating again replaces the earlier rating of that kind', async () => {
    const { answerId } = await startExchange(t, alice);
    const up = await rate(alice, answerId, { kind: 'thumbs', value: 'up' });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.deepEqual([up.body.kind, up.body.value, up.body.messageId], ['thumbs', 'up', answerId]);

    const down = await rate(alice, answerId, { kind: 'thumbs', value: 'down' });
    assert.equal(down.status, 200);
    assert.equal(down.body.value, 'down');
    const feedback = await feedbackOn(alice, answerId);
    assert.deepEqual(feedback.thumbs, { up: 0, down: 1 });
    assert.equal(feedback.mine.thumbs, 'down');
  });

  test('thumbs and stars take an optional reason; rating again without one clears it', async () => {
    const { answerId } = await startExchange(t, alice);
    const up = await rate(alice, answerId, { kind: 'thumbs', value: 'up', reason: '  Names the capital.  ' });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.equal(up.body.reason, 'Names the capital.');
    const stars = await rate(alice, answerId, { kind: 'stars', value: 2, reason: 'Too short' });
    assert.equal(stars.body.reason, 'Too short');
    assert.deepEqual((await feedbackOn(alice, answerId)).myReasons, {
      thumbs: 'Names the capital.',
      stars: 'Too short',
    });
    const again = await rate(alice, answerId, { kind: 'thumbs', value: 'down' });
    assert.equal(again.body.reason, null);
    const tooLong = await rate(alice, answerId, { kind: 'stars', value: 3, reason: 'x'.repeat(2001) });
    assert.equal(tooLong.status, 400);
    assert.deepEqual(errorPaths(tooLong.body), ['body.reason']);
    const { rows } = await t.app.db.pool.query(
      'SELECT kind, reason FROM ratings WHERE message_id = $1 ORDER BY kind',
      [answerId],
    );
    assert.deepEqual(
      rows.map((r) => [r.kind, r.reason]),
      [
        ['thumbs', null],
        ['stars', 'Too short'],
      ],
    );
  });

  test('stars and thumbs are separate ratings; stars replace stars', async () => {
    const { answerId } = await startExchange(t, alice);
    assert.equal((await rate(alice, answerId, { kind: 'thumbs', value: 'up' })).status, 200);
    assert.equal((await rate(alice, answerId, { kind: 'stars', value: 4 })).status, 200);
    const two = await rate(alice, answerId, { kind: 'stars', value: 2 });
    assert.deepEqual([two.body.kind, two.body.value], ['stars', 2]);
    const feedback = await feedbackOn(alice, answerId);
    assert.deepEqual(feedback.stars, { count: 1, average: 2 });
    assert.deepEqual(feedback.thumbs, { up: 1, down: 0 });
    assert.deepEqual(feedback.mine, { thumbs: 'up', stars: 2 });
    // A moderator reading the message sees the counts, and no ratings of their own.
    const asModerator = await feedbackOn(moderator, answerId);
    assert.deepEqual(asModerator.stars, { count: 1, average: 2 });
    assert.deepEqual(asModerator.mine, { thumbs: null, stars: null });
  });

  test('bad ratings are 400s naming the field, and change nothing', async () => {
    const { answerId } = await startExchange(t, alice);
    const cases: Array<[unknown, string]> = [
      [{ kind: 'stars', value: 0 }, 'body.value'],
      [{ kind: 'stars', value: 6 }, 'body.value'],
      [{ kind: 'stars', value: 3.5 }, 'body.value'],
      [{ kind: 'stars', value: '5' }, 'body.value'],
      [{ kind: 'stars', value: 'up' }, 'body.value'],
      [{ kind: 'thumbs', value: 'sideways' }, 'body.value'],
      [{ kind: 'thumbs', value: 1 }, 'body.value'],
      [{ kind: 'thumbs' }, 'body.value'],
      [{ kind: 'hearts', value: 3 }, 'body.kind'],
      [{ value: 3 }, 'body.kind'],
      [{ kind: 'stars', value: 3, comment: 'nice' }, 'body.comment'],
      [[{ kind: 'stars', value: 3 }], 'body'],
    ];
    for (const [body, path] of cases) {
      const res = await rate(alice, answerId, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok(
        errorPaths(res.body).includes(path),
        `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`,
      );
    }
    const missing = await api()
      .put(`/v1/messages/${answerId}/rating`)
      .set('authorization', alice.auth)
      .set('content-type', 'application/json');
    assert.equal(missing.status, 400);
    const feedback = await feedbackOn(alice, answerId);
    assert.deepEqual([feedback.thumbs, feedback.stars.count], [{ up: 0, down: 0 }, 0]);
  });

  test("only your own answers: others' messages are not found, prompts cannot be rated", async () => {
    const ex = await startExchange(t, alice);
    for (const who of [bob, moderator]) {
      const res = await rate(who, ex.answerId, { kind: 'thumbs', value: 'down' });
      assert.equal(res.status, 404, who.role);
      assert.equal(res.body.error.code, 'not_found');
    }
    assert.equal((await rate(alice, NO_SUCH_ID, { kind: 'thumbs', value: 'up' })).status, 404);
    const badId = await rate(alice, 'abc', { kind: 'thumbs', value: 'up' });
    assert.equal(badId.status, 400);
    assert.deepEqual(errorPaths(badId.body), ['params.id']);
    const prompt = await rate(alice, ex.promptId, { kind: 'thumbs', value: 'up' });
    assert.equal(prompt.status, 400);
    assert.match(prompt.body.error.message, /assistant/);
    assert.deepEqual((await feedbackOn(alice, ex.answerId)).thumbs, { up: 0, down: 0 });
  });
});

describe('DELETE /v1/messages/:id/rating', () => {
  test('removes one kind, or all of your ratings; nothing to remove is a 404', async () => {
    const { answerId } = await startExchange(t, alice);
    await rate(alice, answerId, { kind: 'thumbs', value: 'up' });
    await rate(alice, answerId, { kind: 'stars', value: 5 });

    const thumbs = await api()
      .delete(`/v1/messages/${answerId}/rating?kind=thumbs`)
      .set('authorization', alice.auth);
    assert.equal(thumbs.status, 204);
    assert.deepEqual((await feedbackOn(alice, answerId)).mine, { thumbs: null, stars: 5 });
    const again = await api()
      .delete(`/v1/messages/${answerId}/rating?kind=thumbs`)
      .set('authorization', alice.auth);
    assert.equal(again.status, 404);

    await rate(alice, answerId, { kind: 'thumbs', value: 'down' });
    const all = await api().delete(`/v1/messages/${answerId}/rating`).set('authorization', alice.auth);
    assert.equal(all.status, 204);
    assert.deepEqual((await feedbackOn(alice, answerId)).mine, { thumbs: null, stars: null });
  });

  test("bad kinds are 400; someone else's rating cannot be removed", async () => {
    const { answerId } = await startExchange(t, alice);
    await rate(alice, answerId, { kind: 'stars', value: 3 });
    const bad = await api()
      .delete(`/v1/messages/${answerId}/rating?kind=hearts`)
      .set('authorization', alice.auth);
    assert.equal(bad.status, 400);
    assert.deepEqual(errorPaths(bad.body), ['querystring.kind']);
    const asBob = await api().delete(`/v1/messages/${answerId}/rating`).set('authorization', bob.auth);
    assert.equal(asBob.status, 404);
    assert.deepEqual((await feedbackOn(alice, answerId)).mine, { thumbs: null, stars: 3 });
  });
});
