// Annotation queues against the real API and Postgres: creating a queue from a source, who may
// annotate, leases (never beyond the overlap, even for raters asking at the same moment; an expired
// lease returns the item), never one's own prompt, skips, progress, closing, and rubric checks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import pg from 'pg';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import { errorPaths, startExchange } from '../../../helpers/conversations.ts';

let t: TestApp;
let owner: TestUser;
let moderator: TestUser;
let db: pg.Client;
/** Answers in `owner`'s conversations. */
const answers: string[] = [];

before(async () => {
  t = await startTestApp();
  owner = await makeUser(t.app, 'user');
  moderator = await makeUser(t.app, 'moderator');
  for (let i = 0; i < 6; i++) {
    answers.push((await startExchange(t, owner, `Question ${i}?`, `Answer ${i}.`)).answerId);
  }
  // An imported exchange: its assistant turn is the person's own text, never a queue item.
  const imported = await request(t.app.server)
    .post('/v1/conversations')
    .set('authorization', owner.auth)
    .send({
      messages: [
        { role: 'user', content: 'Imported question?' },
        { role: 'assistant', content: 'Typed by a person.' },
      ],
    });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  db = new pg.Client({ connectionString: t.database.url });
  await db.connect();
});
after(async () => {
  await db.end();
  await t.close();
});

const api = () => request(t.app.server);

interface QueueOptions {
  overlap?: number;
  rubric?: Record<string, unknown>;
  source?: Record<string, unknown>;
  annotators?: Record<string, unknown>;
  leaseSeconds?: number;
}

async function createQueue(options: QueueOptions = {}) {
  const res = await api()
    .post('/v1/annotation/queues')
    .set('authorization', moderator.auth)
    .send({
      name: 'Answers this week',
      guidelines: '# Judge the answer\n\nIs it **right**?',
      rubric: options.rubric ?? { thumbs: true, reason: 'optional' },
      source: options.source ?? { kind: 'sample', limit: 50 },
      overlap: options.overlap ?? 3,
      leaseSeconds: options.leaseSeconds ?? 600,
      annotators: options.annotators ?? { roles: ['user'] },
    });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; progress: { items: number; target: number } };
}

const next = (who: TestUser, queueId: string) =>
  api().post(`/v1/annotation/queues/${queueId}/next`).set('authorization', who.auth).send({});
const judge = (who: TestUser, queueId: string, itemId: string, body: Record<string, unknown>) =>
  api()
    .post(`/v1/annotation/queues/${queueId}/items/${itemId}/judgement`)
    .set('authorization', who.auth)
    .send(body);
const skip = (who: TestUser, queueId: string, itemId: string) =>
  api().post(`/v1/annotation/queues/${queueId}/items/${itemId}/skip`).set('authorization', who.auth).send({});

/** How many raters hold or judged each item of the queue, in the database. */
async function claimsPerItem(queueId: string): Promise<Map<string, number>> {
  const { rows } = await db.query(
    `SELECT i.id, count(a.id) FILTER (WHERE a.status = 'done' OR (a.status = 'leased' AND a.expires_at > now()))::int AS claims
       FROM annotation_items i LEFT JOIN annotation_assignments a ON a.item_id = i.id
      WHERE i.queue_id = $1 GROUP BY i.id`,
    [queueId],
  );
  return new Map(rows.map((r) => [r.id, r.claims]));
}

describe('creating queues', () => {
  test("moderators create a queue from a sample of a model's answers; its items, guidelines and rubric come back", async () => {
    const queue = await createQueue();
    assert.equal(queue.progress.items, 6, 'the six answers of a model, not the imported one');
    assert.equal(queue.progress.target, 18);
    const detail = await api().get(`/v1/annotation/queues/${queue.id}`).set('authorization', moderator.auth);
    assert.equal(detail.status, 200, JSON.stringify(detail.body));
    assert.equal(detail.body.guidelines, '# Judge the answer\n\nIs it **right**?');
    assert.deepEqual(detail.body.rubric, {
      thumbs: true,
      stars: false,
      pairwise: false,
      labels: [],
      reason: 'optional',
    });
    assert.deepEqual(detail.body.raters, []);
    // The moderator is not among the annotators (role user): no progress of their own.
    assert.equal(detail.body.mine, null);
    const audit = await api()
      .get('/v1/audit?limit=5')
      .set('authorization', (await makeUser(t.app, 'admin')).auth);
    assert.ok(
      audit.body.entries?.some?.((e: { action: string }) => e.action === 'annotation_queue.create') ??
        JSON.stringify(audit.body).includes('annotation_queue.create'),
      JSON.stringify(audit.body),
    );
  });

  test('users may not create queues; bad rubrics, sources and annotators are 400s naming the field', async () => {
    const user = await makeUser(t.app, 'user');
    const denied = await api()
      .post('/v1/annotation/queues')
      .set('authorization', user.auth)
      .send({
        name: 'x',
        rubric: { thumbs: true },
        source: { kind: 'sample' },
        annotators: { roles: ['user'] },
      });
    assert.equal(denied.status, 403);

    const cases: [Record<string, unknown>, string][] = [
      [{ rubric: { thumbs: true, pairwise: true } }, 'body.rubric.pairwise'],
      [{ rubric: {} }, 'body.rubric'],
      [{ annotators: { roles: [] } }, 'body.annotators'],
      [
        { source: { kind: 'sample', pairs: true }, rubric: { pairwise: true, stars: true } },
        'body.rubric.stars',
      ],
      [{ source: { kind: 'battles' } }, 'body.source.kind'],
      // Arena battles are pairs: judged pairwise.
      [{ source: { kind: 'arena' } }, 'body.rubric.pairwise'],
      [
        { source: { kind: 'sample', from: '2030-01-01T00:00:00Z', to: '2020-01-01T00:00:00Z' } },
        'body.source.to',
      ],
      [{ overlap: 0 }, 'body.overlap'],
    ];
    for (const [change, path] of cases) {
      const res = await api()
        .post('/v1/annotation/queues')
        .set('authorization', moderator.auth)
        .send({
          name: 'bad',
          rubric: { thumbs: true },
          source: { kind: 'sample' },
          annotators: { roles: ['user'] },
          ...change,
        });
      assert.equal(res.status, 400, `${JSON.stringify(change)}: ${JSON.stringify(res.body)}`);
      assert.ok(errorPaths(res.body).includes(path), `${path} in ${JSON.stringify(res.body)}`);
    }
    const empty = await api()
      .post('/v1/annotation/queues')
      .set('authorization', moderator.auth)
      .send({
        name: 'nothing',
        rubric: { thumbs: true },
        source: { kind: 'sample', from: '2001-01-01T00:00:00Z', to: '2001-01-02T00:00:00Z' },
        annotators: { roles: ['user'] },
      });
    assert.equal(empty.status, 400);
    assert.deepEqual(errorPaths(empty.body), ['body.source']);
  });
});

describe('assignment', () => {
  test('a rater is never handed an answer to their own prompt', async () => {
    const queue = await createQueue({ overlap: 2 });
    const res = await next(owner, queue.id);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.item, null);
    assert.equal(res.body.progress.mine.available, 0);
  });

  test('items are handed out until each has `overlap` judgements; progress per queue and rater', async () => {
    const queue = await createQueue({ overlap: 2 });
    const raters = [
      await makeUser(t.app, 'user'),
      await makeUser(t.app, 'user'),
      await makeUser(t.app, 'user'),
    ];
    const judged = new Map<string, string[]>();
    for (let round = 0; round < 20; round++) {
      let handed = 0;
      for (const rater of raters) {
        const res = await next(rater, queue.id);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        if (!res.body.item) continue;
        handed++;
        const { item } = res.body;
        assert.deepEqual(item.prompt.at(-1), {
          role: 'user',
          content: `Question ${answers.indexOf(item.answer.id)}?`,
        });
        assert.equal(item.answerB, null);
        // Asking again before judging hands back the same lease.
        assert.equal((await next(rater, queue.id)).body.item.itemId, item.itemId);
        const done = await judge(rater, queue.id, item.itemId, { thumbs: 'up', reason: 'states the fact' });
        assert.equal(done.status, 201, JSON.stringify(done.body));
        assert.equal(done.body.judgement.reason, 'states the fact');
        judged.set(item.itemId, [...(judged.get(item.itemId) ?? []), rater.id]);
        const again = await judge(rater, queue.id, item.itemId, { thumbs: 'down' });
        assert.equal(again.status, 409);
      }
      if (handed === 0) break;
    }
    assert.equal(judged.size, 6);
    for (const [, who] of judged) {
      assert.equal(who.length, 2);
      assert.equal(new Set(who).size, 2, 'no rater judges an item twice');
    }
    const detail = await api().get(`/v1/annotation/queues/${queue.id}`).set('authorization', moderator.auth);
    assert.deepEqual(detail.body.progress, {
      items: 6,
      completeItems: 6,
      judgements: 12,
      target: 12,
      activeLeases: 0,
      skips: 0,
    });
    assert.equal(detail.body.raters.length, 3);
    assert.equal(
      detail.body.raters.reduce((s: number, r: { judged: number }) => s + r.judged, 0),
      12,
    );
    for (const r of detail.body.raters) assert.equal(r.available, 0);
    const mine = await api().get(`/v1/annotation/queues/${queue.id}`).set('authorization', raters[0]!.auth);
    assert.deepEqual(mine.body.raters, [], 'raters do not see each other');
    assert.equal(mine.body.mine.judged, judged.size === 6 ? mine.body.mine.judged : -1);
  });

  test('two raters asking at the same moment never claim an item beyond its overlap', async () => {
    const overlap = 3;
    const queue = await createQueue({ overlap, source: { kind: 'sample', limit: 2 } });
    const raters = await Promise.all(Array.from({ length: 10 }, () => makeUser(t.app, 'user')));
    const responses = await Promise.all(raters.map((r) => next(r, queue.id)));
    for (const res of responses) assert.equal(res.status, 200, JSON.stringify(res.body));
    const granted = responses.filter((r) => r.body.item).map((r) => r.body.item.itemId as string);
    assert.equal(granted.length, 2 * overlap, `granted ${granted.length}`);
    const perItem = new Map<string, number>();
    for (const id of granted) perItem.set(id, (perItem.get(id) ?? 0) + 1);
    assert.deepEqual([...perItem.values()], [overlap, overlap]);
    for (const claims of (await claimsPerItem(queue.id)).values()) assert.equal(claims, overlap);

    // Again while the first leases are judged and new raters ask, all at once.
    const more = await Promise.all(Array.from({ length: 6 }, () => makeUser(t.app, 'user')));
    const holders = raters.filter((_, i) => responses[i]!.body.item);
    const mixed = await Promise.all([
      ...holders.map((r, i) =>
        judge(r, queue.id, responses[raters.indexOf(r)]!.body.item.itemId, { thumbs: i % 2 ? 'up' : 'down' }),
      ),
      ...more.map((r) => next(r, queue.id)),
    ]);
    for (const res of mixed.slice(holders.length)) {
      assert.equal(res.status, 200);
      assert.equal(res.body.item, null, 'the queue is full');
    }
    for (const claims of (await claimsPerItem(queue.id)).values()) assert.equal(claims, overlap);
  });

  test('concurrent raters over a larger queue: every item ends with exactly `overlap` judgements', async () => {
    const overlap = 3;
    const queue = await createQueue({ overlap, source: { kind: 'sample', limit: 6 } });
    const raters = await Promise.all(Array.from({ length: 8 }, () => makeUser(t.app, 'user')));
    const work = async (rater: TestUser) => {
      for (;;) {
        const res = await next(rater, queue.id);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        if (!res.body.item) return;
        const done = await judge(rater, queue.id, res.body.item.itemId, { thumbs: 'up' });
        assert.equal(done.status, 201, JSON.stringify(done.body));
      }
    };
    await Promise.all(raters.map(work));
    const { rows } = await db.query(
      `SELECT item_id, count(*)::int AS n, count(DISTINCT rater_id)::int AS raters
         FROM annotation_assignments WHERE queue_id = $1 AND status = 'done' GROUP BY item_id`,
      [queue.id],
    );
    assert.equal(rows.length, 6);
    for (const row of rows) assert.deepEqual([row.n, row.raters], [overlap, overlap]);
  });

  test('an expired lease returns the item to the queue; a late judgement counts only while there is room', async () => {
    const queue = await createQueue({ overlap: 1, source: { kind: 'sample', limit: 1 } });
    const [slow, quick, third] = [
      await makeUser(t.app, 'user'),
      await makeUser(t.app, 'user'),
      await makeUser(t.app, 'user'),
    ];
    const first = await next(slow, queue.id);
    const itemId = first.body.item.itemId;
    assert.equal((await next(quick, queue.id)).body.item, null, 'the only place is leased');
    // The lease runs out.
    await db.query(
      `UPDATE annotation_assignments SET expires_at = now() - interval '1 second' WHERE rater_id = $1`,
      [slow.id],
    );
    const detail = await api().get(`/v1/annotation/queues/${queue.id}`).set('authorization', moderator.auth);
    assert.equal(detail.body.progress.activeLeases, 0);
    // Nobody took it yet: the late judgement still counts.
    const late = await judge(slow, queue.id, itemId, { thumbs: 'down' });
    assert.equal(late.status, 201, JSON.stringify(late.body));

    const queue2 = await createQueue({ overlap: 1, source: { kind: 'sample', limit: 1 } });
    const leased = await next(slow, queue2.id);
    await db.query(
      `UPDATE annotation_assignments SET expires_at = now() - interval '1 second' WHERE queue_id = $1 AND rater_id = $2`,
      [queue2.id, slow.id],
    );
    const taken = await next(quick, queue2.id);
    assert.equal(taken.body.item.itemId, leased.body.item.itemId, 'the expired item went to another rater');
    const tooLate = await judge(slow, queue2.id, leased.body.item.itemId, { thumbs: 'up' });
    assert.equal(tooLate.status, 409);
    assert.match(tooLate.body.error.message, /expired/);
    assert.equal((await judge(quick, queue2.id, taken.body.item.itemId, { thumbs: 'up' })).status, 201);
    assert.equal((await next(third, queue2.id)).body.item, null);
  });

  test('a skipped item goes to someone else and never comes back to the rater who skipped it', async () => {
    const queue = await createQueue({ overlap: 1, source: { kind: 'sample', limit: 1 } });
    const [a, b] = [await makeUser(t.app, 'user'), await makeUser(t.app, 'user')];
    const first = await next(a, queue.id);
    const skipped = await skip(a, queue.id, first.body.item.itemId);
    assert.equal(skipped.status, 200, JSON.stringify(skipped.body));
    assert.equal(skipped.body.progress.mine.skipped, 1);
    assert.equal((await next(a, queue.id)).body.item, null);
    assert.equal((await next(b, queue.id)).body.item.itemId, first.body.item.itemId);
    assert.equal((await judge(a, queue.id, first.body.item.itemId, { thumbs: 'up' })).status, 409);
  });

  test('only the named annotators may annotate; others do not even see the queue', async () => {
    const chosen = await makeUser(t.app, 'user');
    const other = await makeUser(t.app, 'user');
    const queue = await createQueue({ annotators: { userIds: [chosen.id] } });
    assert.equal((await next(chosen, queue.id)).status, 200);
    assert.equal((await next(other, queue.id)).status, 404);
    assert.equal(
      (await api().get(`/v1/annotation/queues/${queue.id}`).set('authorization', other.auth)).status,
      404,
    );
    const list = await api().get('/v1/annotation/queues').set('authorization', other.auth);
    assert.ok(!list.body.queues.some((q: { id: string }) => q.id === queue.id));
    const listed = await api().get('/v1/annotation/queues').set('authorization', chosen.auth);
    assert.ok(listed.body.queues.some((q: { id: string }) => q.id === queue.id));
    // A moderator sees it but is not an annotator.
    assert.equal((await next(moderator, queue.id)).status, 403);
    const byRole = await createQueue({ annotators: { roles: ['moderator'] } });
    assert.equal((await next(chosen, byRole.id)).status, 404);
    assert.equal((await next(moderator, byRole.id)).status, 200);
  });

  test('judgements are checked against the rubric, naming the field', async () => {
    const queue = await createQueue({
      overlap: 1,
      rubric: { stars: true, labels: ['factual', 'off-topic'], reason: 'required' },
    });
    const rater = await makeUser(t.app, 'user');
    const { item } = (await next(rater, queue.id)).body;
    const cases: [Record<string, unknown>, string][] = [
      [{ label: 'factual', reason: 'ok' }, 'body.stars'],
      [{ stars: 4, reason: 'ok' }, 'body.label'],
      [{ stars: 4, label: 'nonsense', reason: 'ok' }, 'body.label'],
      [{ stars: 4, label: 'factual' }, 'body.reason'],
      [{ stars: 4, label: 'factual', reason: 'ok', thumbs: 'up' }, 'body.thumbs'],
      [{ stars: 4, label: 'factual', reason: 'ok', choice: 'a' }, 'body.choice'],
      [{ stars: 6, label: 'factual', reason: 'ok' }, 'body.stars'],
    ];
    for (const [body, path] of cases) {
      const res = await judge(rater, queue.id, item.itemId, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(errorPaths(res.body), [path]);
    }
    const ok = await judge(rater, queue.id, item.itemId, { stars: 4, label: 'factual', reason: 'ok' });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.deepEqual(
      [ok.body.judgement.stars, ok.body.judgement.label, ok.body.judgement.thumbs],
      [4, 'factual', null],
    );
  });

  test('a closed queue hands out nothing; closing twice is a conflict', async () => {
    const queue = await createQueue();
    const rater = await makeUser(t.app, 'user');
    const closed = await api()
      .post(`/v1/annotation/queues/${queue.id}/close`)
      .set('authorization', moderator.auth);
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.status, 'closed');
    assert.ok(closed.body.closedAt);
    assert.equal((await next(rater, queue.id)).status, 409);
    assert.equal(
      (await api().post(`/v1/annotation/queues/${queue.id}/close`).set('authorization', moderator.auth))
        .status,
      409,
    );
    const user = await makeUser(t.app, 'user');
    assert.equal(
      (await api().post(`/v1/annotation/queues/${queue.id}/close`).set('authorization', user.auth)).status,
      403,
    );
    const open = await api().get('/v1/annotation/queues').set('authorization', rater.auth);
    assert.ok(
      !open.body.queues.some((q: { id: string }) => q.id === queue.id),
      'closed queues are not listed as open',
    );
  });
});

describe("a queue's raters", () => {
  test("each rater's row in the detail is the progress they see themselves, midway through", async () => {
    const [a, b, c] = [
      await makeUser(t.app, 'user'),
      await makeUser(t.app, 'user'),
      await makeUser(t.app, 'user'),
    ];
    // One item answers a's own prompt: a may never take it.
    await startExchange(t, a, 'A question of my own?', 'An answer to it.');
    const queue = await createQueue({ overlap: 2 });
    const take = async (who: TestUser) => {
      const res = await next(who, queue.id);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.item.itemId as string;
    };
    // a judges one, skips one and holds a lease on a third; b judges two; c holds a lease.
    assert.equal((await judge(a, queue.id, await take(a), { thumbs: 'up' })).status, 201);
    assert.equal((await skip(a, queue.id, await take(a))).status, 200);
    await take(a);
    for (let i = 0; i < 2; i++)
      assert.equal((await judge(b, queue.id, await take(b), { thumbs: 'down' })).status, 201);
    await take(c);

    const detail = await api().get(`/v1/annotation/queues/${queue.id}`).set('authorization', moderator.auth);
    assert.equal(detail.status, 200, JSON.stringify(detail.body));
    assert.deepEqual(
      detail.body.raters.map((r: { userId: string }) => r.userId),
      [b.id, a.id, c.id],
      'most judgements first',
    );
    for (const who of [a, b, c]) {
      const own = await api().get(`/v1/annotation/queues/${queue.id}`).set('authorization', who.auth);
      const row = detail.body.raters.find((r: { userId: string }) => r.userId === who.id);
      assert.deepEqual(
        { judged: row.judged, skipped: row.skipped, available: row.available },
        own.body.mine,
        who === a ? 'a' : who === b ? 'b' : 'c',
      );
    }
  });
});
