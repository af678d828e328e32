import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { errorPaths } from '../../helpers/conversations.ts';
import { HUB_VOCAB, writeHubStyleFolder } from '../../helpers/hf.ts';
import { binary, untar, writeUnpacked } from '../../helpers/archive.ts';

let t: TestApp;
let ops: TestUser;
let user: TestUser;
let modelDir: string;
const incoming = () => join(modelDir, 'incoming');

before(async () => {
  modelDir = mkdtempSync(join(tmpdir(), 'feedloop-models-'));
  mkdirSync(join(modelDir, 'incoming'));
  t = await startTestApp({ MODEL_DIR: modelDir });
  ops = await makeUser(t.app, 'ops');
  user = await makeUser(t.app, 'user');
});
after(() => t.close());

const api = () => request(t.app.server);

/** A hub-style folder placed in MODEL_DIR/incoming/<name>. */
function incomingFolder(name: string, options: Parameters<typeof writeHubStyleFolder>[0] = {}): string {
  mkdirSync(join(incoming(), name));
  writeHubStyleFolder(options, join(incoming(), name));
  return name;
}

const importModel = (body: Record<string, unknown>, who = ops) =>
  api().post('/v1/model-versions/import').set('authorization', who.auth).send(body);

/** Versions and folders: a failed import must change neither. */
async function snapshot() {
  return {
    versions: await t.app.db.prisma.modelVersion.count(),
    folders: readdirSync(modelDir).sort(),
  };
}

describe('POST /v1/model-versions/import', () => {
  test('a hub-style folder imports as a candidate with its provenance, and serves by name', async () => {
    const from = incomingFolder('hub-gpt2', { seed: 21 });
    const res = await importModel({ from, name: 'hub-gpt2', reason: 'trained on the GPU cluster' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'candidate');
    assert.equal(res.body.path, 'hub-gpt2');
    assert.equal(res.body.provenance.kind, 'hf-import');
    assert.equal(res.body.provenance.from, 'hub-gpt2');
    assert.match(res.body.provenance.sourceSha256, /^[0-9a-f]{64}$/);
    assert.equal(res.body.provenance.sourceConfig.activation_function, 'gelu_new');
    assert.deepEqual(res.body.provenance.addedTokens, ['<|system|>', '<|user|>', '<|assistant|>', '<|end|>']);
    assert.ok(existsSync(join(modelDir, 'hub-gpt2', 'model.safetensors')));
    const config = JSON.parse(readFileSync(join(modelDir, 'hub-gpt2', 'config.json'), 'utf8'));
    assert.equal(config.vocab_size, HUB_VOCAB() + 4);

    const listed = await api().get('/v1/model-versions').set('authorization', user.auth);
    const row = listed.body.modelVersions.find((v: { name: string }) => v.name === 'hub-gpt2');
    assert.equal(row.provenance.sourceSha256, res.body.provenance.sourceSha256);
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({
      where: { action: 'model_version.import', target: `model_version:${res.body.id}` },
    });
    assert.equal(audit?.actorId, ops.id);
    assert.equal((audit?.details as { reason: string }).reason, 'trained on the GPU cluster');

    // A candidate is named by ops, or by users once ops open it to them.
    const opened = await api()
      .put(`/v1/model-versions/${res.body.id}/access`)
      .set('authorization', ops.auth)
      .send({ openToUsers: true, reason: 'users try the import' });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    const completion = await api()
      .post('/v1/chat/completions')
      .set('authorization', user.auth)
      .send({ model: 'hub-gpt2', messages: [{ role: 'user', content: 'Hello?' }], max_tokens: 5, seed: 1 });
    assert.equal(completion.status, 200, JSON.stringify(completion.body));
    assert.equal(completion.body.model, 'hub-gpt2');
    assert.ok(completion.body.usage.completion_tokens >= 1 && completion.body.usage.completion_tokens <= 5);
  });

  test('configs feedloop cannot reproduce are 400s naming the field, and nothing is half-registered', async () => {
    const cases: [Parameters<typeof writeHubStyleFolder>[0], string][] = [
      [{ config: { activation_function: 'relu' } }, 'config.json activation_function'],
      [{ config: { scale_attn_by_inverse_layer_idx: true } }, 'config.json scale_attn_by_inverse_layer_idx'],
      [{ config: { add_cross_attention: true } }, 'config.json add_cross_attention'],
      [{ config: { reorder_and_upcast_attn: true } }, 'config.json reorder_and_upcast_attn'],
      [{ config: { model_type: 'llama' } }, 'config.json model_type'],
      [{ config: { n_inner: 96 } }, 'model.safetensors h.0.mlp.c_fc.weight'],
      [{ lmHead: 'different' }, 'model.safetensors lm_head.weight'],
    ];
    let i = 0;
    for (const [options, field] of cases) {
      const from = incomingFolder(`refused-${++i}`, options);
      const before = await snapshot();
      const res = await importModel({ from, name: `refused-${i}`, reason: 'try' });
      assert.equal(res.status, 400, `${field}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(errorPaths(res.body), [field]);
      assert.ok(res.body.error.message.includes(field), res.body.error.message);
      assert.deepEqual(await snapshot(), before, `${field}: nothing registered, no folder left`);
    }
    // A missing file is refused the same way.
    const from = incomingFolder('no-tokenizer');
    renameSync(join(incoming(), from, 'tokenizer.json'), join(incoming(), from, 'tokenizer.json.bak'));
    const before = await snapshot();
    const res = await importModel({ from, name: 'no-tokenizer', reason: 'try' });
    assert.equal(res.status, 400);
    assert.deepEqual(errorPaths(res.body), ['tokenizer.json']);
    assert.deepEqual(await snapshot(), before);
  });

  test('`from` must be a folder under MODEL_DIR/incoming and nowhere else', async () => {
    const outside = writeHubStyleFolder();
    symlinkSync(outside, join(incoming(), 'escape'));
    const linkedFile = incomingFolder('linked-file');
    rmSync(join(incoming(), linkedFile, 'model.safetensors'));
    symlinkSync(join(outside, 'model.safetensors'), join(incoming(), linkedFile, 'model.safetensors'));
    const before = await snapshot();
    for (const [from, path] of [
      ['../incoming/x', 'body.from'],
      ['/etc', 'body.from'],
      ['a/../../b', 'body.from'],
      ['does-not-exist', 'body.from'],
      ['escape', 'body.from'],
      [linkedFile, 'model.safetensors'],
    ] as const) {
      const res = await importModel({
        from,
        name: `x-${Math.random().toString(36).slice(2, 8)}`,
        reason: 'r',
      });
      assert.equal(res.status, 400, `${from}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(errorPaths(res.body), [path], from);
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('a taken name is a 409, users may not import, bad bodies name the field', async () => {
    const from = incomingFolder('taken-src');
    assert.equal((await importModel({ from, name: 'taken', reason: 'first' })).status, 201);
    const again = await importModel({ from, name: 'taken', reason: 'second' });
    assert.equal(again.status, 409);
    assert.equal((await importModel({ from, name: 'by-user', reason: 'r' }, user)).status, 403);
    for (const [body, path] of [
      [{ from, reason: 'r' }, 'body.name'],
      [{ from, name: 'has space', reason: 'r' }, 'body.name'],
      [{ name: 'n', reason: 'r' }, 'body.from'],
      [{ from, name: 'n' }, 'body.reason'],
      [{ from, name: 'n', reason: 'r', extra: 1 }, 'body.extra'],
    ] as const) {
      const res = await importModel(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok(errorPaths(res.body).includes(path), `${path} in ${JSON.stringify(res.body)}`);
    }
  });
});

describe('GET /v1/model-versions/:id/export', () => {
  test('streams a .tar.gz of a Hugging Face folder with a model card, which imports back', async () => {
    const from = incomingFolder('to-export', { seed: 22 });
    const imported = await importModel({ from, name: 'exportable', reason: 'round trip' });
    assert.equal(imported.status, 201);
    const res = await api()
      .get(`/v1/model-versions/${imported.body.id}/export?dtype=bfloat16`)
      .set('authorization', ops.auth)
      .buffer(true)
      .parse(binary);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/gzip');
    assert.equal(Number(res.headers['content-length']), (res.body as Buffer).length);
    assert.match(res.headers['content-disposition']!, /exportable\.tar\.gz/);
    const files = await untar(res.body as Buffer);
    assert.deepEqual(
      [...files.keys()].sort(),
      [
        'README.md',
        'config.json',
        'feedloop.json',
        'generation_config.json',
        'model.safetensors',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ].map((f) => `exportable/${f}`),
    );
    const config = JSON.parse(files.get('exportable/config.json')!.toString());
    assert.equal(config.torch_dtype, 'bfloat16');
    const card = files.get('exportable/README.md')!.toString();
    assert.match(card, /^---\nlicense: other\n/);
    assert.match(card, /\| exportable \| candidate \| .* \| imported \|/);
    assert.ok(card.includes(imported.body.provenance.sourceSha256));
    assert.match(card, /no evaluation report yet/);

    // The export comes back in through the import route.
    writeUnpacked(files, 'exportable', join(incoming(), 'returned'));
    const back = await importModel({ from: 'returned', name: 'returned', reason: 'back' });
    assert.equal(back.status, 201, JSON.stringify(back.body));
    assert.deepEqual(back.body.provenance.addedTokens, []);
    assert.equal(back.body.provenance.storedAs, 'BF16');
  });

  test('only ops and admins may export; an unknown id is a 404', async () => {
    const version = await t.app.db.prisma.modelVersion.findFirstOrThrow();
    const res = await api().get(`/v1/model-versions/${version.id}/export`).set('authorization', user.auth);
    assert.equal(res.status, 403);
    const missing = await api()
      .get('/v1/model-versions/00000000-0000-4000-8000-000000000000/export')
      .set('authorization', ops.auth);
    assert.equal(missing.status, 404);
    const bad = await api()
      .get(`/v1/model-versions/${version.id}/export?dtype=int8`)
      .set('authorization', ops.auth);
    assert.equal(bad.status, 400);
    assert.ok(errorPaths(bad.body).includes('querystring.dtype'));
  });
});
