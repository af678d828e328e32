// Queues fed from flagged, disputed and paired answers; the agreement endpoint (alpha with its
// interval, each rater's agreement and standing); consensus labels in a dataset snapshot with the
// item's agreement in lineage.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../../helpers/app.ts';
import { modelAnswer, startExchange } from '../../../helpers/conversations.ts';
import { krippendorffAlpha } from '../../../../src/stats/krippendorff.ts';

let t: TestApp;
let dataDir: string;
let owner: TestUser;
let moderator: TestUser;
let ops: TestUser;

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-annotation-'));
  t = await startTestApp({ FEEDLOOP_DATA_DIR: dataDir });
  owner = await makeUser(t.app, 'user');
  moderator = await makeUser(t.app, 'moderator');
  ops = await makeUser(t.app, 'ops');
});
after(async () => {
  await t.close();
  await rm(dataDir, { recursive: true, force: true });
});

const as = (who: TestUser) => ({
  get: (url: string) => request(t.app.server).get(url).set('authorization', who.auth),
  post: (url: string, body: object = {}) =>
    request(t.app.server).post(url).set('authorization', who.auth).send(body),
  put: (url: string, body: object) =>
    request(t.app.server).put(url).set('authorization', who.auth).send(body),
});

async function createQueue(body: Record<string, unknown>) {
  const res = await as(moderator).post('/v1/annotation/queues', {
    name: 'queue',
    annotators: { roles: ['user'] },
    rubric: { thumbs: true },
    ...body,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; progress: { items: number } };
}

/** Every item the queue hands `rater`, judged by `decide` (which sees the first answer's text). */
async function judgeAll(
  rater: TestUser,
  queueId: string,
  decide: (item: {
    answer: { content: string };
    answerB: { content: string } | null;
  }) => Record<string, unknown>,
): Promise<number> {
  let judged = 0;
  for (;;) {
    const res = await as(rater).post(`/v1/annotation/queues/${queueId}/next`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    if (!res.body.item) return judged;
    const done = await as(rater).post(
      `/v1/annotation/queues/${queueId}/items/${res.body.item.itemId}/judgement`,
      decide(res.body.item),
    );
    assert.equal(done.status, 201, JSON.stringify(done.body));
    judged++;
  }
}

describe('item sources', () => {
  test('flagged answers (pending or upheld, not dismissed), optionally by category', async () => {
    const user = await makeUser(t.app, 'user');
    const flagged = await startExchange(t, user, 'Flagged question?', 'A flagged answer.');
    const dismissed = await startExchange(t, user, 'Dismissed question?', 'A fine answer.');
    await startExchange(t, user, 'Unflagged question?', 'An unflagged answer.');
    const flag = async (messageId: string, category: string) => {
      const res = await as(user).post(`/v1/messages/${messageId}/flags`, { category });
      assert.equal(res.status, 201);
      return res.body.id as string;
    };
    await flag(flagged.answerId, 'inaccurate');
    const rejected = await flag(dismissed.answerId, 'unsafe');
    assert.equal(
      (await as(moderator).post(`/v1/moderation/flags/${rejected}/reject`, { reason: 'fine' })).status,
      200,
    );
    const queue = await createQueue({ source: { kind: 'flagged' }, annotators: { userIds: [owner.id] } });
    assert.equal(queue.progress.items, 1);
    const { body } = await as(owner).post(`/v1/annotation/queues/${queue.id}/next`);
    assert.equal(body.item.answer.content, 'A flagged answer.');
    const none = await as(moderator).post('/v1/annotation/queues', {
      name: 'unsafe only',
      annotators: { roles: ['user'] },
      rubric: { thumbs: true },
      source: { kind: 'flagged', categories: ['unsafe'] },
    });
    assert.equal(none.status, 400, 'the only unsafe flag was dismissed');
  });

  test('pairs of answers to one prompt are judged pairwise, both answers shown', async () => {
    const user = await makeUser(t.app, 'user');
    const ex = await startExchange(t, user, 'Pair question?', 'The first answer.');
    await modelAnswer(t, ex.conversationId, ex.promptId, 'The second answer.');
    const queue = await createQueue({
      source: { kind: 'sample', pairs: true },
      rubric: { pairwise: true, reason: 'off' },
      annotators: { userIds: [owner.id] },
    });
    assert.equal(queue.progress.items, 1);
    const { body } = await as(owner).post(`/v1/annotation/queues/${queue.id}/next`);
    assert.deepEqual([body.item.answer.content, body.item.answerB.content].sort(), [
      'The first answer.',
      'The second answer.',
    ]);
    assert.deepEqual(body.item.prompt, [{ role: 'user', content: 'Pair question?' }]);
    const itemUrl = `/v1/annotation/queues/${queue.id}/items/${body.item.itemId}/judgement`;
    assert.equal((await as(owner).post(itemUrl, { choice: 'a', reason: 'no' })).status, 400);
    assert.equal((await as(owner).post(itemUrl, { choice: 'a' })).status, 201);
  });
});

describe('agreement and consensus', () => {
  test("alpha per dimension with its interval, each rater's agreement and standing; disputed answers become a queue", async () => {
    const facts: [string, string, boolean][] = [];
    for (let i = 0; i < 8; i++) {
      const right = i % 2 === 0;
      facts.push([`Agreement question ${i}?`, right ? `Right answer ${i}.` : `Wrong answer ${i}.`, right]);
    }
    // Only these answers: the window starts now (message times are UTC without a zone in the database).
    const from = new Date(Date.now() - 5).toISOString();
    const exchanges = [];
    for (const [q, a] of facts) exchanges.push(await startExchange(t, owner, q, a));
    const queue = await createQueue({
      rubric: { thumbs: true, stars: true, labels: ['factual', 'vague'], reason: 'optional' },
      source: { kind: 'sample', limit: 500, from },
      overlap: 3,
    });
    assert.equal(queue.progress.items, 8);
    const raters = [
      await makeUser(t.app, 'user'),
      await makeUser(t.app, 'user'),
      await makeUser(t.app, 'user'),
    ];
    const contrarian = raters[2]!;
    const stars = new Map<string, Map<string, number>>();
    for (const rater of raters) {
      await judgeAll(rater, queue.id, (item) => {
        const right = item.answer.content.startsWith('Right');
        const says = rater === contrarian ? !right : right;
        const value = says ? (rater === raters[0] ? 5 : 4) : 1;
        const byItem = stars.get(item.answer.content) ?? new Map<string, number>();
        byItem.set(rater.id, value);
        stars.set(item.answer.content, byItem);
        return {
          thumbs: says ? 'up' : 'down',
          stars: value,
          label: 'factual',
          reason: says ? 'right' : 'wrong',
        };
      });
    }

    assert.equal((await as(owner).get(`/v1/annotation/queues/${queue.id}/agreement`)).status, 403);
    const res = await as(moderator).get(`/v1/annotation/queues/${queue.id}/agreement`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const byDimension = new Map(res.body.dimensions.map((d: { dimension: string }) => [d.dimension, d]));
    const starsAgreement = byDimension.get('stars') as {
      alpha: number;
      interval: [number, number];
      items: number;
      level: string;
    };
    assert.equal(starsAgreement.level, 'ordinal');
    assert.equal(starsAgreement.items, 8);
    const expected = krippendorffAlpha(
      [...stars.values()].map((m) => [...m.values()]),
      'ordinal',
    ).alpha!;
    assert.ok(Math.abs(starsAgreement.alpha - expected) < 1e-9, `${starsAgreement.alpha} vs ${expected}`);
    assert.ok(
      starsAgreement.interval[0] <= starsAgreement.alpha &&
        starsAgreement.alpha <= starsAgreement.interval[1],
    );
    const thumbs = byDimension.get('thumbs') as { alpha: number; level: string };
    assert.equal(thumbs.level, 'nominal');
    assert.ok(thumbs.alpha < 0, `one of three raters always contradicts: alpha ${thumbs.alpha}`);
    // Every label is 'factual': no variation, alpha undefined.
    assert.deepEqual(
      [
        (byDimension.get('label') as { alpha: null }).alpha,
        (byDimension.get('label') as { interval: null }).interval,
      ],
      [null, null],
    );

    const ratersById = new Map(res.body.raters.map((r: { userId: string }) => [r.userId, r]));
    const c = ratersById.get(contrarian.id) as {
      agreement: number;
      comparisons: number;
      judged: number;
      standing: { status: string; reasons: string[] };
    };
    assert.equal(c.judged, 8);
    assert.equal(c.comparisons, 8);
    // The verdict always against the other two, the label always with them: half of each item.
    assert.equal(c.agreement, 0.5);
    const honest = ratersById.get(raters[0]!.id) as { agreement: number };
    assert.equal(honest.agreement, 1);
    assert.equal(res.body.raters[0].userId, contrarian.id, 'the least trusted rater comes first');
    assert.notEqual(c.standing.status, 'trusted', JSON.stringify(c.standing));

    // The owner's own chat thumbs up on a wrong answer, against the queue's verdict: a disputed answer.
    const wrong = exchanges[1]!;
    assert.equal(
      (await as(owner).put(`/v1/messages/${wrong.answerId}/rating`, { kind: 'thumbs', value: 'up' })).status,
      200,
    );
    const disputed = await createQueue({ source: { kind: 'disagreement' } });
    // Every answer the contrarian judged is disputed in the queue itself; the owner's rating adds nothing new.
    assert.equal(disputed.progress.items, 8);
    const detail = await as(moderator).get(`/v1/annotation/queues/${disputed.id}`);
    assert.deepEqual(detail.body.source, { kind: 'disagreement', limit: 200 });

    // Consensus labels in a snapshot: the two honest raters outvote the contrarian.
    const build = await as(ops).post('/v1/datasets/builds', {
      config: { hygiene: { validationPercent: 0 } },
    });
    assert.equal(build.status, 201, JSON.stringify(build.body));
    const dataset = await as(ops).get(`/v1/datasets/${build.body.dataset.id}`);
    // These 8 answers and the pair judged in the test before (a preference pair from one rater).
    assert.equal(dataset.body.lineage.feedbackCounts.annotation_item, 9);
    const { rows } = await t.app.db.pool.query(
      `SELECT d.consensus, d.weight, d.agreement, d.raters, m.content
         FROM dataset_annotations d JOIN annotation_items i ON i.id = d.item_id JOIN messages m ON m.id = i.message_id
        WHERE d.dataset_id = $1 AND i.message_b_id IS NULL ORDER BY m.content`,
      [build.body.dataset.id],
    );
    assert.equal(rows.length, 8);
    for (const row of rows) {
      const right = row.content.startsWith('Right');
      assert.equal(row.consensus.verdict, right ? 'good' : 'bad', JSON.stringify(row));
      assert.equal(row.consensus.label, 'factual');
      assert.equal(row.raters, 3);
      // Verdicts 2 against 1: one agreeing pair of three; labels all agree: (1/3 + 1) / 2.
      assert.ok(Math.abs(row.agreement - 2 / 3) < 1e-3, JSON.stringify(row));
    }
    const kto = await as(ops).get(`/v1/datasets/${build.body.dataset.id}/train.jsonl?format=kto`);
    assert.equal(kto.status, 200);
    const consensusRows = kto.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .filter((r) => r.source === 'consensus');
    assert.equal(consensusRows.length, 8);
    for (const r of consensusRows) {
      assert.equal(r.label, r.completion[0].content.startsWith('Right'));
      assert.ok(r.weight > 0 && r.weight < 1, `the contrarian is not ignored, only outvoted: ${r.weight}`);
    }
  });
});
