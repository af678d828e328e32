// Redis down, on a server of this test's own killed mid-test: ingestion (implicit events, ratings)
// fails open onto a limit counted in the API process, so feedback keeps being stored and a flood
// still meets 429s; every other limited route answers 503 as before; when Redis is back (empty),
// everything works again without restarting the app.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startExchange } from '../../helpers/conversations.ts';
import { countRows, event, startEventsApp, type EventsTestApp } from '../../helpers/events.ts';
import { startScratchRedis, type ScratchRedis } from '../../helpers/scratch-services.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const LIMIT = 40;

describe('the rate limiter while Redis is down', () => {
  let redis: ScratchRedis;
  let t: EventsTestApp;
  let user: TestUser;

  before(async () => {
    redis = await startScratchRedis();
    t = await startEventsApp({
      REDIS_URL: redis.url,
      FEEDLOOP_RATE_LIMIT_PER_MINUTE: String(LIMIT),
      FEEDLOOP_QUEUE_PREFIX: `flredis-${randomBytes(4).toString('hex')}`,
    });
    user = await makeUser(t.app, 'user');
  });
  after(async () => {
    await t?.close();
    await redis?.close();
  });

  const postEvents = (messageId: string) => {
    const sent = event(messageId);
    return request(t.url)
      .post('/v1/events')
      .set('authorization', user.auth)
      .send({ events: [sent] })
      .then((res) => ({ res, id: sent.id as string }));
  };
  const me = () => request(t.url).get('/v1/auth/me').set('authorization', user.auth);

  test('ingestion fails open with a local limit, the rest answers 503, and all recovers', async () => {
    const { answerId } = await startExchange(t, user, 'What is the capital of Peru?', 'Lima.');
    const before = await postEvents(answerId);
    assert.equal(before.res.status, 202, JSON.stringify(before.res.body));
    assert.equal((await me()).status, 200);

    await redis.kill();
    await waitFor('a non-ingestion route to answer 503', async () => (await me()).status === 503, 60_000);
    const down = await me();
    assert.equal(down.body.error.code, 'unavailable');
    assert.equal((await request(t.url).get('/readyz')).status, 503);

    // Ingestion goes on: events and ratings are stored.
    const rated = await request(t.url)
      .put(`/v1/messages/${answerId}/rating`)
      .set('authorization', user.auth)
      .send({ kind: 'thumbs', value: 'up' });
    assert.equal(rated.status, 200, JSON.stringify(rated.body));
    const acknowledged: string[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 10; i++) {
      const { res, id } = await postEvents(answerId);
      statuses.push(res.status);
      if (res.status === 202) acknowledged.push(id);
      else assert.equal(res.body.error.code, 'rate_limited', JSON.stringify(res.body));
    }
    // The local limit counts from the outage on (the rating and these events): a flood meets 429s.
    assert.ok(
      acknowledged.length >= LIMIT - 5 && acknowledged.length < LIMIT,
      `202s: ${acknowledged.length}`,
    );
    assert.equal(statuses.at(-1), 429);
    assert.equal(await countRows(t.app, acknowledged), acknowledged.length, 'every 202 is stored');
    const rating = await t.app.db.prisma.rating.findFirst({
      where: { messageId: answerId, userId: user.id },
    });
    assert.equal(rating?.value, 1);

    // Redis comes back empty: the rest works again without restarting the app.
    await redis.start();
    await waitFor('the API to answer again', async () => (await me()).status === 200, 60_000);
    assert.equal((await request(t.url).get('/readyz')).status, 200);
    const afterwards = await postEvents(answerId);
    assert.equal(afterwards.res.status, 202);
  });
});
