// A snapshot exported for the Hugging Face tools: the .tar.gz route, the per-configuration files,
// the prompt/completion form of SFT, and a card whose `configs:` block (read by PyYAML, as
// datasets.load_dataset reads it) names files that exist.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { binary, untar, writeUnpacked } from '../../helpers/archive.ts';
import { modelAnswer } from '../../helpers/conversations.ts';

const CARD_CHECK = fileURLToPath(new URL('../../helpers/hf_dataset_card_check.py', import.meta.url));

describe('dataset export for Hugging Face tools', () => {
  let t: TestApp;
  let dataDir: string;
  let user: TestUser;
  let ops: TestUser;
  let moderator: TestUser;
  let datasetId: string;
  let contentHash: string;

  const as = (who: TestUser) => ({
    get: (url: string) => request(t.app.server).get(url).set('authorization', who.auth),
    post: (url: string, body: object = {}) =>
      request(t.app.server).post(url).set('authorization', who.auth).send(body),
    put: (url: string, body: object) =>
      request(t.app.server).put(url).set('authorization', who.auth).send(body),
  });

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-hf-datasets-'));
    t = await startTestApp({ FEEDLOOP_DATA_DIR: dataDir });
    user = await makeUser(t.app, 'user');
    ops = await makeUser(t.app, 'ops');
    moderator = await makeUser(t.app, 'moderator');
    // One answer rated up (SFT, KTO) in a conversation with a system message; one corrected
    // (SFT from the correction, a preference pair, KTO both ways).
    // The prompt through the API, the answer as a model writes one (users cannot post a model's).
    const conversation = async (prompt: { role: string; content: string }[], answer: string) => {
      const res = await as(user).post('/v1/conversations', { title: 't', messages: prompt });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return (await modelAnswer(t, res.body.id, res.body.messages.at(-1).id, answer)).id;
    };
    const liked = await conversation(
      [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'How often should I water a cactus?' },
      ],
      'Only when the soil is fully dry.',
    );
    assert.equal(
      (await as(user).put(`/v1/messages/${liked}/rating`, { kind: 'thumbs', value: 'up' })).status,
      200,
    );
    const wrong = await conversation([{ role: 'user', content: 'What colour is a ripe banana?' }], 'Blue.');
    const correction = await as(user).post(`/v1/messages/${wrong}/corrections`, {
      text: 'A ripe banana is yellow.',
    });
    assert.equal(correction.status, 201, JSON.stringify(correction.body));
    const approved = await as(moderator).post(`/v1/moderation/corrections/${correction.body.id}/approve`, {
      reason: 'right',
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const built = await as(ops).post('/v1/datasets/builds', {
      config: { hygiene: { validationPercent: 0 } },
    });
    assert.equal(built.status, 201, JSON.stringify(built.body));
    datasetId = built.body.dataset.id;
    contentHash = built.body.dataset.contentHash;
  });

  after(async () => {
    await t?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('the export is a .tar.gz whose card maps every configuration to files that exist', async () => {
    const res = await as(ops).get(`/v1/datasets/${datasetId}/export`).buffer(true).parse(binary);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/gzip');
    assert.equal(Number(res.headers['content-length']), (res.body as Buffer).length);
    const root = `feedloop-dataset-${contentHash.slice(0, 12)}`;
    const files = await untar(res.body as Buffer);
    const dir = await mkdtemp(path.join(tmpdir(), 'feedloop-hf-dataset-'));
    writeUnpacked(files, root, dir);

    const check = spawnSync('python3', [CARD_CHECK, dir], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    const { configs, default: defaults } = JSON.parse(check.stdout) as {
      configs: Record<string, Record<string, number>>;
      default: string[];
    };
    assert.deepEqual(configs, {
      sft: { train: 2 },
      sft_prompt_completion: { train: 2 },
      preference: { train: 1 },
      kto: { train: 3 },
    });
    assert.deepEqual(defaults, ['sft']);

    const rows = (name: string) =>
      files
        .get(`${root}/${name}`)!
        .toString()
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    // SFT as prompt/completion: the prompt ends with the user turn, the completion is the answer.
    const pc = rows('sft_prompt_completion/train.jsonl');
    const withSystem = pc.find((r) => (r.prompt as { role: string }[])[0]!.role === 'system')!;
    assert.deepEqual(withSystem, {
      prompt: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'How often should I water a cactus?' },
      ],
      completion: [{ role: 'assistant', content: 'Only when the soil is fully dry.' }],
      source: 'rating',
      weight: 1,
      synthetic: false,
    });
    const corrected = pc.find((r) => r.source === 'correction')!;
    assert.deepEqual(corrected.completion, [{ role: 'assistant', content: 'A ripe banana is yellow.' }]);
    // The messages form is the snapshot's own file, byte for byte.
    const download = await as(ops).get(`/v1/datasets/${datasetId}/train.jsonl?format=sft`);
    assert.equal(files.get(`${root}/sft/train.jsonl`)!.toString(), download.text);
    const pair = rows('preference/train.jsonl')[0]!;
    assert.deepEqual(Object.keys(pair).sort(), [
      'chosen',
      'prompt',
      'rejected',
      'source',
      'synthetic',
      'weight',
    ]);

    const card = files.get(`${root}/README.md`)!.toString();
    for (const column of ['`weight`', '`source`', '`synthetic`', '`label`', '`completion`', '`messages`'])
      assert.ok(card.includes(column), column);
    assert.ok(card.includes(contentHash));
    assert.match(card, /Feedback window:/);
    assert.match(card, /Rater filtering:/);
    assert.match(card, /PII scrubbing:\*\* on/);
    assert.match(card, /## License/);
    assert.match(card, /`sft\/validation`/, 'empty splits are named');
    const record = JSON.parse(files.get(`${root}/feedloop.json`)!.toString());
    assert.equal(record.contentHash, contentHash);
    await rm(dir, { recursive: true, force: true });
  });

  test('only ops and admins may export; an unknown snapshot is a 404', async () => {
    assert.equal((await as(user).get(`/v1/datasets/${datasetId}/export`)).status, 403);
    assert.equal((await as(moderator).get(`/v1/datasets/${datasetId}/export`)).status, 403);
    const missing = await as(ops).get('/v1/datasets/00000000-0000-4000-8000-000000000000/export');
    assert.equal(missing.status, 404);
  });
});
