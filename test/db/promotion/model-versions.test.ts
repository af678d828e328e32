import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { activateModelVersion } from '../../../src/promotion/model-versions.ts';
import { errorPaths } from '../../helpers/conversations.ts';
import { placeTinyModel } from '../../helpers/llm.ts';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let t: TestApp;
let ops: TestUser;
let admin: TestUser;
let user: TestUser;
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';
let counter = 0;

let modelDir: string;

before(async () => {
  modelDir = mkdtempSync(path.join(tmpdir(), 'feedloop-models-'));
  t = await startTestApp({ MODEL_DIR: modelDir });
  ops = await makeUser(t.app, 'ops');
  admin = await makeUser(t.app, 'admin');
  user = await makeUser(t.app, 'user');
});
after(async () => {
  await t.close();
  rmSync(modelDir, { recursive: true, force: true });
});

const api = () => request(t.app.server);

async function register(body: Record<string, unknown> = {}) {
  counter += 1;
  placeTinyModel(modelDir, typeof body.path === 'string' ? body.path : `tiny-${counter}`);
  const res = await api()
    .post('/v1/model-versions')
    .set('authorization', ops.auth)
    .send({ name: `tiny-${counter}`, path: `tiny-${counter}`, ...body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { id: string; name: string; status: string };
}

function activate(id: string, reason = 'passed the evaluation', who = ops) {
  return api().post(`/v1/model-versions/${id}/activate`).set('authorization', who.auth).send({ reason });
}

async function statusOf(id: string) {
  return (await t.app.db.prisma.modelVersion.findUniqueOrThrow({ where: { id } })).status;
}

describe('POST /v1/model-versions', () => {
  test('registers a candidate, with its lineage, and audits it', async () => {
    const base = await register({ notes: 'pretrained' });
    assert.equal(base.status, 'candidate');
    const tuned = await register({ parentId: base.id, path: 'runs/2026-11-26/tuned' });
    assert.equal((tuned as unknown as { parentId: string }).parentId, base.id);
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({
      where: { action: 'model_version.register', target: `model_version:${tuned.id}` },
    });
    assert.equal(audit?.actorId, ops.id);
  });

  test('a taken name is a 409', async () => {
    const first = await register();
    const res = await api()
      .post('/v1/model-versions')
      .set('authorization', admin.auth)
      .send({ name: first.name, path: 'elsewhere' });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'conflict');
  });

  test('bad registrations are 400s naming the field', async () => {
    placeTinyModel(modelDir, 'p');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ path: 'p' }, 'body.name'],
      [{ name: 'has space', path: 'p' }, 'body.name'],
      [{ name: 'n1', path: '../../etc' }, 'body.path'],
      [{ name: 'n1', path: '/abs/path' }, 'body.path'],
      [{ name: 'n1', path: 'p', parentId: 'x' }, 'body.parentId'],
      [{ name: 'n1', path: 'p', parentId: NO_SUCH_ID }, 'body.parentId'],
      [{ name: 'n1', path: 'p', status: 'active' }, 'body.status'],
      [{ name: 7, path: 'p' }, 'body.name'],
    ];
    for (const [body, path] of cases) {
      const res = await api().post('/v1/model-versions').set('authorization', ops.auth).send(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.ok(
        errorPaths(res.body).includes(path),
        `${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`,
      );
    }
    assert.equal(await t.app.db.prisma.modelVersion.count({ where: { name: 'n1' } }), 0);
  });
});

describe('GET /v1/model-versions', () => {
  test('anyone signed in sees the versions, newest first, filtered and paged', async () => {
    const a = await register();
    const b = await register();
    const all = await api()
      .get('/v1/model-versions?status=candidate&limit=2')
      .set('authorization', user.auth);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.deepEqual(
      all.body.modelVersions.map((v: { id: string }) => v.id),
      [b.id, a.id],
    );
    assert.ok(all.body.nextBefore);
    const next = await api()
      .get(`/v1/model-versions?status=candidate&limit=2&before=${all.body.nextBefore}`)
      .set('authorization', user.auth);
    assert.ok(!next.body.modelVersions.some((v: { id: string }) => v.id === a.id || v.id === b.id));
    const bad = await api().get('/v1/model-versions?status=shiny').set('authorization', user.auth);
    assert.equal(bad.status, 400);
    assert.deepEqual(errorPaths(bad.body), ['querystring.status']);
  });
});

describe('POST /v1/model-versions/:id/activate', () => {
  test('activating retires the previous active version, and each switch is audited', async () => {
    const first = await register();
    const second = await register();
    const r1 = await activate(first.id);
    assert.equal(r1.status, 200, JSON.stringify(r1.body));
    assert.equal(r1.body.active.id, first.id);
    assert.equal(r1.body.active.status, 'active');
    assert.ok(r1.body.active.promotedAt);

    const r2 = await activate(second.id, 'better win rate', admin);
    assert.equal(r2.status, 200, JSON.stringify(r2.body));
    assert.equal(r2.body.retired.id, first.id);
    assert.equal(r2.body.retired.status, 'retired');
    assert.equal(await statusOf(first.id), 'retired');

    const active = await api().get('/v1/model-versions?status=active').set('authorization', user.auth);
    assert.deepEqual(
      active.body.modelVersions.map((v: { id: string }) => v.id),
      [second.id],
    );
    const audit = await t.app.db.prisma.auditLogEntry.findFirst({
      where: { action: 'model_version.activate', target: `model_version:${second.id}` },
    });
    assert.equal(audit?.actorId, admin.id);
    assert.deepEqual(
      [
        (audit?.details as { reason: string }).reason,
        (audit?.details as { previousActiveId: string }).previousActiveId,
      ],
      ['better win rate', first.id],
    );

    // Rolling back: a retired version may serve again.
    const back = await activate(first.id, 'rollback');
    assert.equal(back.status, 200);
    assert.equal(await statusOf(second.id), 'retired');
    assert.equal(await statusOf(first.id), 'active');
  });

  test('the active version, a rejected one and unknown ids cannot be activated', async () => {
    const version = await register();
    assert.equal((await activate(version.id)).status, 200);
    const again = await activate(version.id);
    assert.equal(again.status, 409);
    assert.equal(await statusOf(version.id), 'active');

    const rejected = await register();
    await t.app.db.prisma.modelVersion.update({ where: { id: rejected.id }, data: { status: 'rejected' } });
    assert.equal((await activate(rejected.id)).status, 409);
    assert.equal(await statusOf(version.id), 'active');

    assert.equal((await activate(NO_SUCH_ID)).status, 404);
    assert.equal((await activate('not-a-uuid')).status, 400);
  });

  test('a reason is required', async () => {
    const version = await register();
    for (const body of [{}, { reason: '   ' }, { reason: 'ok', force: true }]) {
      const res = await api()
        .post(`/v1/model-versions/${version.id}/activate`)
        .set('authorization', ops.auth)
        .send(body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.equal(await statusOf(version.id), 'candidate');
  });

  test('concurrent activations take turns and leave exactly one active version', async () => {
    const versions = await Promise.all([register(), register(), register(), register()]);
    const results = await Promise.all(
      versions.map((v) =>
        activateModelVersion(t.app.db.prisma, {
          id: v.id,
          actorId: null,
          reason: 'race',
          details: { gate: 'test' },
        }),
      ),
    );
    assert.equal(results.length, 4);
    assert.equal(await t.app.db.prisma.modelVersion.count({ where: { status: 'active' } }), 1);
    // One of the four won the last turn; the other three served and were retired in turn.
    const statuses = await Promise.all(versions.map((v) => statusOf(v.id)));
    assert.deepEqual(statuses.sort(), ['active', 'retired', 'retired', 'retired']);
  });
});

describe('a local version must be a loadable model folder (issue 13, defect 13)', () => {
  const post = (body: Record<string, unknown>) =>
    api().post('/v1/model-versions').set('authorization', ops.auth).send(body);

  test('a missing folder, ".", MODEL_DIR itself or a folder without a model is a 400 naming body.path', async () => {
    mkdirSync(path.join(modelDir, 'empty'));
    mkdirSync(path.join(modelDir, 'no-weights'));
    writeFileSync(path.join(modelDir, 'no-weights', 'config.json'), '{}');
    const broken = placeTinyModel(modelDir, 'broken-tokenizer');
    writeFileSync(path.join(broken.dir, 'tokenizer.json'), 'not json');
    for (const p of ['no-such-folder', '.', 'a/./b', 'empty', 'no-weights', 'broken-tokenizer']) {
      const res = await post({ name: `bad-${p.replace(/[^a-z]/g, '')}`, path: p });
      assert.equal(res.status, 400, `${p}: ${res.text}`);
      assert.deepEqual(errorPaths(res.body), ['body.path'], `${p}: ${res.text}`);
    }
    assert.equal(await t.app.db.prisma.modelVersion.count({ where: { name: { startsWith: 'bad-' } } }), 0);
  });

  test('a version whose folder went missing after registration is a 503 naming it, not a 500', async () => {
    const version = await register();
    rmSync(path.join(modelDir, version.name), { recursive: true, force: true });
    const res = await api()
      .post('/v1/chat/completions')
      .set('authorization', ops.auth)
      .send({ model: version.name, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.status, 503, res.text);
    assert.match(res.body.error.message, new RegExp(`${version.name} cannot be loaded`));
  });
});
