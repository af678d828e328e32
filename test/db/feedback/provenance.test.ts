// Who wrote a message (issue 13, defect 1). An assistant turn a person posts (chat import, append)
// is their own text: stored as human-authored, never a model's answer in feedback, insights, flag
// rates, rater statistics or datasets. Nobody sets a model version through the API. Service
// credentials (and ops, admins) may log the answers of their own model, named, marked logged.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { errorPaths, modelAnswer } from '../../helpers/conversations.ts';
import { activateModelVersion, registerModelVersion } from '../../../src/promotion/model-versions.ts';
import { buildDatasets } from '../../../src/datasets/snapshots.ts';
import { harmfulFlagRate } from '../../../src/loop/jobs/report.handler.ts';
import { versionMetrics } from '../../../src/feedback/insights/queries.ts';
import { loadFeedbackRows } from '../../../src/feedback/feedback-rows.ts';

let t: TestApp;
let dataDir: string;
let mallory: TestUser;
let service: TestUser;
let ops: TestUser;
let activeId: string;

const FORGED = 'The capital of Australia is Sydney, trust me.';

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-provenance-'));
  t = await startTestApp({ FEEDLOOP_DATA_DIR: dataDir });
  mallory = await makeUser(t.app, 'user');
  service = await makeUser(t.app, 'service');
  ops = await makeUser(t.app, 'ops');
  const version = await registerModelVersion(t.app.db.prisma, {
    name: 'prov-v1',
    path: 'prov-v1',
    actorId: null,
  });
  await activateModelVersion(t.app.db.prisma, { id: version.id, actorId: null, reason: 'test' });
  activeId = version.id;
});
after(async () => {
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const api = () => request(t.app.server);
const as = (who: TestUser) => ({
  post: (url: string, body: object) => api().post(url).set('authorization', who.auth).send(body),
  put: (url: string, body: object) => api().put(url).set('authorization', who.auth).send(body),
});

describe('assistant turns a person writes', () => {
  test('an imported exchange stores the assistant turn as human-authored, and it takes no feedback', async () => {
    const res = await as(mallory).post('/v1/conversations', {
      messages: [
        { role: 'user', content: 'What is the capital of Australia?' },
        { role: 'assistant', content: FORGED },
      ],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const answer = res.body.messages[1];
    assert.deepEqual([answer.author, answer.loggedModel, answer.modelVersionId], ['human', null, null]);
    const stored = await t.app.db.prisma.message.findUniqueOrThrow({ where: { id: answer.id } });
    assert.equal(stored.author, 'human');

    for (const [url, body] of [
      [`/v1/messages/${answer.id}/rating`, { kind: 'thumbs', value: 'up' }],
      [`/v1/messages/${answer.id}/rating`, { kind: 'stars', value: 5 }],
    ] as const) {
      const rated = await as(mallory).put(url, body);
      assert.equal(rated.status, 400, JSON.stringify(rated.body));
    }
    const flagged = await as(mallory).post(`/v1/messages/${answer.id}/flags`, {
      category: 'harmful_or_biased',
    });
    assert.equal(flagged.status, 400, JSON.stringify(flagged.body));
    assert.equal(await t.app.db.prisma.rating.count({ where: { messageId: answer.id } }), 0);
  });

  test('appending an assistant turn tagged with the active version is refused; without the tag it is human', async () => {
    const conv = await as(mallory).post('/v1/conversations', {
      messages: [{ role: 'user', content: 'Capital of Australia?' }],
    });
    const promptId = conv.body.messages[0].id;
    const tagged = await as(mallory).post(`/v1/conversations/${conv.body.id}/messages`, {
      role: 'assistant',
      content: FORGED,
      parentId: promptId,
      modelVersionId: activeId,
    });
    assert.equal(tagged.status, 400, JSON.stringify(tagged.body));
    assert.ok(errorPaths(tagged.body).includes('body.modelVersionId'));

    const named = await as(mallory).post(`/v1/conversations/${conv.body.id}/messages`, {
      role: 'assistant',
      content: FORGED,
      parentId: promptId,
      model: 'prov-v1',
    });
    assert.equal(named.status, 403, JSON.stringify(named.body));
    assert.ok(errorPaths(named.body).includes('body.model'));
    const importNamed = await as(mallory).post('/v1/conversations', {
      model: 'gpt-x',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(importNamed.status, 403, JSON.stringify(importNamed.body));

    const plain = await as(mallory).post(`/v1/conversations/${conv.body.id}/messages`, {
      role: 'assistant',
      content: FORGED,
      parentId: promptId,
    });
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
    assert.deepEqual([plain.body.author, plain.body.modelVersionId], ['human', null]);
  });

  test('human-authored turns already rated (from before this fix) reach no dataset, insight, flag rate or rater', async () => {
    // Rows as the audit left them: a forged answer tagged with the active version, rated up and
    // flagged by its author. The migration keeps tagged rows as served, so write them as a person's
    // text directly, as the migration does for untagged ones, and prove nothing counts them.
    const conv = await as(mallory).post('/v1/conversations', {
      messages: [
        { role: 'user', content: 'Where is Uluru?' },
        { role: 'assistant', content: FORGED },
      ],
    });
    const forgedId = conv.body.messages[1].id;
    const { prisma } = t.app.db;
    await prisma.rating.create({
      data: { messageId: forgedId, userId: mallory.id, kind: 'thumbs', value: 1 },
    });
    await prisma.rating.create({
      data: { messageId: forgedId, userId: mallory.id, kind: 'stars', value: 5 },
    });
    await prisma.flag.create({
      data: { messageId: forgedId, userId: mallory.id, category: 'harmful_or_biased', status: 'approved' },
    });

    const rows = await loadFeedbackRows(prisma, { window: { to: new Date() } });
    assert.equal(
      rows.answers.some((a) => a.id === forgedId),
      false,
    );
    assert.equal(
      rows.ratings.some((r) => r.messageId === forgedId),
      false,
    );

    const { build } = await buildDatasets(prisma, { hygiene: { validationPercent: 0 } }, { dataDir });
    assert.equal(Object.values(build.files).join('\n').includes(FORGED), false);

    const flagRate = await harmfulFlagRate(prisma, activeId);
    const window = { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) };
    const metrics = (await versionMetrics(t.app.db.pool, window)).find((v) => v.modelVersionId === activeId);
    assert.equal(flagRate.answers, 0);
    assert.equal(metrics?.answers ?? 0, 0);

    const raters = await api().get('/v1/datasets/raters').set('authorization', ops.auth);
    assert.equal(raters.status, 200);
    assert.equal(
      raters.body.items.some((r: { userId: string }) => r.userId === mallory.id),
      false,
    );
  });

  test('a served answer counts for its version; the same check constraint refuses a served user turn', async () => {
    const conv = await as(mallory).post('/v1/conversations', {
      messages: [{ role: 'user', content: 'Capital of Peru?' }],
    });
    const served = await modelAnswer(t, conv.body.id, conv.body.messages[0].id, 'Lima.', activeId);
    assert.equal(served.author, 'served');
    assert.equal((await harmfulFlagRate(t.app.db.prisma, activeId)).answers, 1);
    await assert.rejects(
      t.app.db.pool.query(
        `INSERT INTO messages (id, conversation_id, role, content, author, model_version_id)
         VALUES (gen_random_uuid(), $1, 'user', 'x', 'served', $2)`,
        [conv.body.id, activeId],
      ),
      /messages_author_check/,
    );
  });
});

describe('the integration path: a service logs its own model', () => {
  test('a service credential logs an exchange with the model name; the answer is logged and takes feedback', async () => {
    const res = await as(service).post('/v1/conversations', {
      model: 'acme-support-bot-7',
      messages: [
        { role: 'user', content: 'How do I reset my router?' },
        { role: 'assistant', content: 'Hold the reset button for ten seconds.' },
      ],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const [prompt, answer] = res.body.messages;
    assert.deepEqual([prompt.author, prompt.loggedModel], ['human', null]);
    assert.deepEqual(
      [answer.author, answer.loggedModel, answer.modelVersionId],
      ['logged', 'acme-support-bot-7', null],
    );

    const appended = await as(service).post(`/v1/conversations/${res.body.id}/messages`, {
      role: 'assistant',
      content: 'Or unplug it for a minute.',
      parentId: prompt.id,
      model: 'acme-support-bot-8',
      latencyMs: 300,
    });
    assert.equal(appended.status, 201, JSON.stringify(appended.body));
    assert.deepEqual([appended.body.author, appended.body.loggedModel], ['logged', 'acme-support-bot-8']);

    const rated = await as(service).put(`/v1/messages/${answer.id}/rating`, { kind: 'thumbs', value: 'up' });
    assert.equal(rated.status, 200, JSON.stringify(rated.body));
    const rows = await loadFeedbackRows(t.app.db.prisma, { window: { to: new Date() } });
    assert.ok(rows.answers.some((a) => a.id === answer.id));
  });

  test('ops may log too; a service cannot read conversations that are not its own', async () => {
    const logged = await as(ops).post('/v1/conversations', {
      model: 'in-house',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
    });
    assert.equal(logged.status, 201);
    assert.equal(logged.body.messages[1].author, 'logged');
    const other = await api().get(`/v1/conversations/${logged.body.id}`).set('authorization', service.auth);
    assert.equal(other.status, 404);
  });
});
