// Dataset snapshots end to end: feedback given through the API, builds over HTTP (ops only), the
// idempotent content hash, lineage rows, JSONL downloads, and the rater list for moderators.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { evaluationPrompts } from '../../../src/suites/validation-sets.ts';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { startExchange } from '../../helpers/conversations.ts';

const buildConfig = { hygiene: { validationPercent: 0 } };

describe('dataset snapshots', () => {
  let t: TestApp;
  let dataDir: string;
  let user: TestUser;
  let ops: TestUser;
  let moderator: TestUser;
  const evaluationPrompt = evaluationPrompts()[0]!.find((m) => m.role === 'user')!.content;

  const as = (who: TestUser) => ({
    get: (url: string) => request(t.app.server).get(url).set('authorization', who.auth),
    post: (url: string, body: object = {}) =>
      request(t.app.server).post(url).set('authorization', who.auth).send(body),
    put: (url: string, body: object) =>
      request(t.app.server).put(url).set('authorization', who.auth).send(body),
  });
  const thumbsUp = async (who: TestUser, messageId: string) =>
    assert.equal(
      (await as(who).put(`/v1/messages/${messageId}/rating`, { kind: 'thumbs', value: 'up' })).status,
      200,
    );

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-datasets-'));
    t = await startTestApp({ FEEDLOOP_DATA_DIR: dataDir });
    user = await makeUser(t.app, 'user');
    ops = await makeUser(t.app, 'ops');
    moderator = await makeUser(t.app, 'moderator');

    const cactus = await startExchange(
      t,
      user,
      'How often should I water a cactus?',
      'Only when the soil is fully dry.',
    );
    await thumbsUp(user, cactus.answerId);

    // A user asks an evaluation question; the answer is rated up and a correction approved. None of
    // it may reach a training export.
    const leak = await startExchange(t, user, evaluationPrompt, 'I am not sure.');
    await thumbsUp(user, leak.answerId);
    const correction = await as(user).post(`/v1/messages/${leak.answerId}/corrections`, {
      text: 'A better answer.',
    });
    assert.equal(correction.status, 201, JSON.stringify(correction.body));
    const approved = await as(moderator).post(`/v1/moderation/corrections/${correction.body.id}/approve`, {
      reason: 'fine',
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
  });

  after(async () => {
    await t?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('users and moderators may not build or read datasets; ops may', async () => {
    assert.equal((await as(user).post('/v1/datasets/builds', { config: buildConfig })).status, 403);
    assert.equal((await as(moderator).post('/v1/datasets/builds', { config: buildConfig })).status, 403);
    assert.equal((await as(user).get('/v1/datasets')).status, 403);
    assert.equal((await request(t.app.server).get('/v1/datasets')).status, 401);
    assert.equal((await as(ops).get('/v1/datasets')).status, 200);
  });

  test('a bad build config is a 400 naming the field', async () => {
    const res = await as(ops).post('/v1/datasets/builds', { config: { hygiene: { validationPercent: 90 } } });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(res.body), /validationPercent/);
  });

  test('build, rebuild unchanged (same snapshot), inspect, download; new feedback makes a new snapshot', async () => {
    const first = await as(ops).post('/v1/datasets/builds', { config: buildConfig });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const dataset = first.body.dataset;
    assert.equal(first.body.created, true);
    assert.match(dataset.contentHash, /^[0-9a-f]{64}$/);
    assert.deepEqual(dataset.sizes.sft, { train: 1, validation: 0 });
    assert.deepEqual(dataset.sizesBySource.kto, { thumbs: 1 });
    assert.equal(dataset.stats.dropped.evaluationPrompts > 0, true);

    const again = await as(ops).post('/v1/datasets/builds', { config: buildConfig });
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.created, again.body.dataset.id], [false, dataset.id]);
    assert.equal(await t.app.db.prisma.dataset.count(), 1);

    const detail = await as(ops).get(`/v1/datasets/${dataset.id}`);
    assert.equal(detail.status, 200);
    assert.deepEqual(detail.body.lineage.feedbackCounts, { rating: 1 });
    assert.equal(detail.body.lineage.modelVersionIds.length, 0);
    assert.equal(detail.body.config.hygiene.validationPercent, 0);
    const lineage = await t.app.db.prisma.datasetFeedback.findMany({ where: { datasetId: dataset.id } });
    const rating = await t.app.db.prisma.rating.findFirstOrThrow({
      where: { message: { content: 'Only when the soil is fully dry.' } },
    });
    assert.deepEqual(
      lineage.map((l) => [l.kind, l.feedbackId]),
      [['rating', rating.id]],
    );

    const download = await as(ops).get(`/v1/datasets/${dataset.id}/train.jsonl?format=sft`);
    assert.equal(download.status, 200);
    assert.match(download.headers['content-type']!, /application\/jsonl/);
    const lines = download.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      {
        messages: [
          { role: 'user', content: 'How often should I water a cactus?' },
          { role: 'assistant', content: 'Only when the soil is fully dry.' },
        ],
        source: 'rating',
        weight: 1,
        synthetic: false,
      },
    ]);
    const onDisk = await readFile(path.join(dataDir, dataset.path, 'sft.train.jsonl'), 'utf8');
    assert.equal(download.text, onDisk);

    // The evaluation question is in no export, whichever format or split.
    for (const format of ['sft', 'preference', 'kto']) {
      for (const split of ['train', 'validation']) {
        const res = await as(ops).get(`/v1/datasets/${dataset.id}/${split}.jsonl?format=${format}`);
        assert.equal(res.status, 200);
        assert.equal(res.text.includes(evaluationPrompt), false, `${format} ${split}`);
      }
    }
    assert.equal((await as(user).get(`/v1/datasets/${dataset.id}/train.jsonl?format=sft`)).status, 403);
    assert.equal((await as(ops).get(`/v1/datasets/${dataset.id}/train.jsonl?format=csv`)).status, 400);

    const tea = await startExchange(
      t,
      user,
      'How hot should green tea water be?',
      'About 80 degrees Celsius.',
    );
    await thumbsUp(user, tea.answerId);
    const third = await as(ops).post('/v1/datasets/builds', { config: buildConfig });
    assert.equal(third.status, 201);
    assert.notEqual(third.body.dataset.contentHash, dataset.contentHash);
    assert.deepEqual(third.body.dataset.sizes.sft, { train: 2, validation: 0 });

    const list = await as(ops).get('/v1/datasets');
    assert.deepEqual(
      list.body.items.map((d: { id: string }) => d.id),
      [third.body.dataset.id, dataset.id],
    );
  });

  test('moderators and ops see raters with volume, agreement, trust and reasons; users may not', async () => {
    assert.equal((await as(user).get('/v1/datasets/raters')).status, 403);
    const res = await as(moderator).get('/v1/datasets/raters');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const me = res.body.items.find((r: { userId: string }) => r.userId === user.id);
    assert.equal(me.email, user.email);
    assert.ok(me.ratings >= 2);
    assert.deepEqual([me.status, me.trust], ['trusted', 1]);
    // The user thumbed up an answer a moderator then judged bad (approved correction): one gold miss.
    assert.deepEqual([me.goldAgreement, me.goldComparisons], [0, 1]);
    assert.equal((await as(ops).get('/v1/datasets/raters?status=excluded')).body.items.length, 0);
  });
});
