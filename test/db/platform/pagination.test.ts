// Every list route pages with an opaque keyset cursor and a maximum page size: walking a list two
// items at a time gives every item once, in the list's order; the last page has no nextCursor; a
// cursor this API never gave out is a 400 naming querystring.cursor; a limit over the maximum is a 400.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { modelAnswer, startExchange } from '../../helpers/conversations.ts';
import { registerModelVersion } from '../../../src/promotion/model-versions.ts';
import { encodeCursor } from '../../../src/platform/pagination.ts';
import { toJson } from '../../../src/platform/db/json.ts';
import { makeReport } from '../../helpers/reports.ts';

let t: TestApp;
let user: TestUser;
let moderator: TestUser;
let ops: TestUser;
let admin: TestUser;

before(async () => {
  t = await startTestApp();
  user = await makeUser(t.app, 'user');
  moderator = await makeUser(t.app, 'moderator');
  ops = await makeUser(t.app, 'ops');
  admin = await makeUser(t.app, 'admin');
});
after(() => t.close());

const api = () => request(t.app.server);
/** Five times, two of them equal: the id breaks the tie. */
const TIMES = [0, 1, 1, 2, 3].map((s) => new Date(Date.UTC(2026, 10, 1, 12, 0, s)));

/**
 * Walks `path` two items at a time (`key` is the list's field) and returns every id in order,
 * checking each page's size and that only the last page lacks a nextCursor.
 */
async function walk(path: string, key: string, who: TestUser, limit = 2, field = 'id'): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages++) {
    const sep = path.includes('?') ? '&' : '?';
    const url: string = `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res: request.Response = await api().get(url).set('authorization', who.auth);
    assert.equal(res.status, 200, `${url}: ${JSON.stringify(res.body)}`);
    const items = res.body[key] as Array<Record<string, unknown>>;
    assert.ok(items.length <= limit);
    ids.push(...items.map((i) => String(i[field])));
    cursor = res.body.nextCursor;
    if (cursor === null) return ids;
    assert.equal(items.length, limit, 'a page before the last is full');
  }
  throw new Error(`${path} never ended`);
}

async function assertRejectsBadCursors(path: string, who: TestUser) {
  const sep = path.includes('?') ? '&' : '?';
  const bad = [
    'not-a-cursor',
    Buffer.from('{"a":1}').toString('base64url'),
    Buffer.from('["yesterday","x"]').toString('base64url'),
  ];
  for (const cursor of bad) {
    const res = await api().get(`${path}${sep}cursor=${cursor}`).set('authorization', who.auth);
    assert.equal(res.status, 400, `${path} cursor=${cursor}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.deepEqual(
      res.body.error.details.map((d: { path: string }) => d.path),
      ['querystring.cursor'],
    );
  }
  const tooBig = await api().get(`${path}${sep}limit=100000`).set('authorization', who.auth);
  assert.equal(tooBig.status, 400, `${path} limit=100000`);
}

/** Newest first, ties by id descending: the order every list but a conversation's messages uses. */
const newestFirst = (rows: Array<{ id: string; at: Date }>) =>
  [...rows].sort((a, b) => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : -1)).map((r) => r.id);

describe('cursor pagination', () => {
  test('audit log', async () => {
    const rows = [];
    for (const at of TIMES)
      rows.push(
        await t.app.db.prisma.auditLogEntry.create({
          data: { action: 'pagination.test', target: 'x', createdAt: at },
        }),
      );
    const ids = await walk('/v1/audit?action=pagination.test', 'entries', ops);
    assert.deepEqual(ids, newestFirst(rows.map((r) => ({ id: r.id, at: r.createdAt }))));
    await assertRejectsBadCursors('/v1/audit', ops);
  });

  test('loop runs and one run log', async () => {
    const rows = [];
    for (const at of TIMES)
      rows.push(
        await t.app.db.prisma.loopRun.create({
          data: { trigger: 'manual', status: 'failed', createdAt: at, error: 'pagination test' },
        }),
      );
    const ids = await walk('/v1/loop/runs', 'runs', ops);
    assert.deepEqual(ids, newestFirst(rows.map((r) => ({ id: r.id, at: r.createdAt }))));
    await assertRejectsBadCursors('/v1/loop/runs', ops);

    const run = rows[0]!;
    for (let i = 0; i < 5; i++)
      await t.app.db.prisma.loopRunLog.create({
        data: { runId: run.id, level: 'info', message: `line ${i}` },
      });
    const logs = await walk(`/v1/loop/runs/${run.id}/logs`, 'logs', ops, 2, 'message');
    const stored = await t.app.db.prisma.loopRunLog.findMany({
      where: { runId: run.id },
      orderBy: { id: 'asc' },
    });
    assert.deepEqual(
      logs,
      stored.map((l) => l.message),
    );
    await assertRejectsBadCursors(`/v1/loop/runs/${run.id}/logs`, ops);
    // A well-formed cursor of another list (a UUID where a log's serial id belongs) is a 400 too.
    const foreign = encodeCursor({ at: new Date(), id: run.id });
    const res = await api()
      .get(`/v1/loop/runs/${run.id}/logs?cursor=${foreign}`)
      .set('authorization', ops.auth);
    assert.equal(res.status, 400);
    const detail = await api().get(`/v1/loop/runs/${run.id}`).set('authorization', ops.auth);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.logs.length, 5);
    assert.equal(detail.body.logsNextCursor, null);
  });

  test('conversations, and the messages of one conversation', async () => {
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await startExchange(t, user, `Question ${i}?`, `Answer ${i}.`));
    const ids = await walk('/v1/conversations', 'conversations', user);
    const stored = await t.app.db.prisma.conversation.findMany({
      where: { userId: user.id },
      orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
    });
    assert.deepEqual(
      ids,
      stored.map((c) => c.id),
    );
    assert.equal(ids.length, made.length);
    await assertRejectsBadCursors('/v1/conversations', user);

    // A branching conversation: two regenerations of the first answer, then a follow-up.
    const ex = made[0]!;
    const second = await modelAnswer(t, ex.conversationId, ex.promptId, 'Another answer.');
    const third = await modelAnswer(t, ex.conversationId, ex.promptId, 'A third answer.');
    await modelAnswer(t, ex.conversationId, third.id, 'A follow-up.');
    const whole = await api().get(`/v1/conversations/${ex.conversationId}`).set('authorization', user.auth);
    assert.equal(whole.status, 200);
    assert.equal(whole.body.nextCursor, null);
    const messageIds = await walk(`/v1/conversations/${ex.conversationId}`, 'messages', user);
    assert.deepEqual(new Set(messageIds), new Set(whole.body.messages.map((m: { id: string }) => m.id)));
    assert.equal(messageIds.length, 5);
    // Sibling positions count siblings on other pages too: page 2 holds answers whose prompt is on page 1.
    const first = await api()
      .get(`/v1/conversations/${ex.conversationId}?limit=2`)
      .set('authorization', user.auth);
    assert.equal(first.status, 200);
    const page = await api()
      .get(`/v1/conversations/${ex.conversationId}?limit=2&cursor=${first.body.nextCursor}`)
      .set('authorization', user.auth);
    assert.equal(page.status, 200);
    assert.equal(page.body.messages.length, 2);
    const all = new Map(whole.body.messages.map((m: { id: string }) => [m.id, m]));
    for (const m of page.body.messages as Array<{ id: string; siblingIndex: number; siblingCount: number }>) {
      const full = all.get(m.id) as { siblingIndex: number; siblingCount: number };
      assert.equal(m.siblingIndex, full.siblingIndex);
      assert.equal(m.siblingCount, full.siblingCount);
    }
    assert.ok(page.body.messages.some((m: { id: string }) => m.id === second.id));
    await assertRejectsBadCursors(`/v1/conversations/${ex.conversationId}`, user);
  });

  test('model versions and datasets', async () => {
    const versions = [];
    for (let i = 0; i < 5; i++)
      versions.push(
        await registerModelVersion(t.app.db.prisma, {
          name: `page-v${i}`,
          path: `page-v${i}`,
          actorId: null,
        }),
      );
    const versionIds = await walk('/v1/model-versions', 'modelVersions', ops);
    const storedVersions = await t.app.db.prisma.modelVersion.findMany({
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    assert.deepEqual(
      versionIds,
      storedVersions.map((v) => v.id),
    );
    await assertRejectsBadCursors('/v1/model-versions', ops);

    const datasets = [];
    for (const [i, at] of TIMES.entries())
      datasets.push(
        await t.app.db.prisma.dataset.create({
          data: {
            contentHash: `pagination-${i}`,
            path: `datasets/pagination-${i}`,
            config: {},
            windowEnd: at,
            sizes: {},
            sizesBySource: {},
            stats: {},
            createdAt: at,
          },
        }),
      );
    const datasetIds = await walk('/v1/datasets', 'items', ops);
    assert.deepEqual(datasetIds, newestFirst(datasets.map((d) => ({ id: d.id, at: d.createdAt }))));
    await assertRejectsBadCursors('/v1/datasets', ops);
  });

  test('evaluation reports, all and of one version', async () => {
    const [one, other] = await Promise.all(
      ['page-report-a', 'page-report-b'].map((name) =>
        registerModelVersion(t.app.db.prisma, { name, path: name, actorId: null }),
      ),
    );
    const rows = [];
    for (const [i, at] of TIMES.entries())
      rows.push(
        await t.app.db.prisma.evaluationReport.create({
          data: {
            modelVersionId: (i % 2 === 0 ? one : other)!.id,
            evaluationKey: 'pagination',
            report: toJson(makeReport({ exact: i })),
            createdAt: at,
          },
        }),
      );
    // Three a page: the two reports made at the same time fall on either side of a page break.
    const ids = await walk('/v1/reports', 'reports', moderator, 3);
    assert.deepEqual(ids, newestFirst(rows.map((r) => ({ id: r.id, at: r.createdAt }))));
    const ofOne = await walk(`/v1/reports?modelVersionId=${one!.id}`, 'reports', ops, 1);
    assert.deepEqual(
      ofOne,
      newestFirst(
        rows.filter((r) => r.modelVersionId === one!.id).map((r) => ({ id: r.id, at: r.createdAt })),
      ),
    );
    await assertRejectsBadCursors('/v1/reports', ops);
  });

  test('users, oldest first', async () => {
    for (const [i, at] of TIMES.entries())
      await t.app.db.prisma.user.create({
        data: { email: `page-user-${i}@example.test`, role: 'moderator', createdAt: at },
      });
    const ids = await walk('/v1/users?role=moderator', 'users', admin);
    const stored = await t.app.db.prisma.user.findMany({
      where: { role: 'moderator' },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    assert.deepEqual(
      ids,
      stored.map((u) => u.id),
    );
    assert.equal(ids.length, TIMES.length + 1);
    await assertRejectsBadCursors('/v1/users', admin);
  });

  test('API keys, oldest first, revoked ones too', async () => {
    const owner = await makeUser(t.app, 'user');
    for (const [i, at] of TIMES.entries())
      await t.app.db.prisma.apiKey.create({
        data: {
          userId: owner.id,
          name: `page key ${i}`,
          prefix: 'fl_page',
          keyHash: `pagination-key-${owner.id}-${i}`,
          createdAt: at,
          revokedAt: at,
        },
      });
    const stored = await t.app.db.prisma.apiKey.findMany({
      where: { userId: owner.id },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    assert.equal(stored.length, TIMES.length + 1);
    const expected = stored.map((k) => k.id);
    assert.deepEqual(await walk('/v1/me/api-keys', 'keys', owner), expected);
    assert.deepEqual(await walk(`/v1/users/${owner.id}/api-keys`, 'keys', admin), expected);
    await assertRejectsBadCursors('/v1/me/api-keys', owner);
    await assertRejectsBadCursors(`/v1/users/${owner.id}/api-keys`, admin);
  });

  test('moderation: corrections and flags', async () => {
    for (let i = 0; i < 5; i++) {
      const ex = await startExchange(t, user, `Moderated ${i}?`, `Answer ${i}.`);
      const correction = await api()
        .post(`/v1/messages/${ex.answerId}/corrections`)
        .set('authorization', user.auth)
        .send({ text: `A better answer ${i}.` });
      assert.equal(correction.status, 201, JSON.stringify(correction.body));
      const flag = await api()
        .post(`/v1/messages/${ex.answerId}/flags`)
        .set('authorization', user.auth)
        .send({ category: 'inaccurate' });
      assert.equal(flag.status, 201, JSON.stringify(flag.body));
    }
    const corrections = await walk('/v1/moderation/corrections', 'corrections', moderator);
    const storedCorrections = await t.app.db.prisma.correction.findMany({
      where: { status: 'pending' },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    assert.deepEqual(
      corrections,
      storedCorrections.map((c) => c.id),
    );
    const flags = await walk('/v1/moderation/flags', 'flags', moderator);
    const storedFlags = await t.app.db.prisma.flag.findMany({
      where: { status: 'pending' },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    assert.deepEqual(
      flags,
      storedFlags.map((f) => f.id),
    );
    await assertRejectsBadCursors('/v1/moderation/corrections', moderator);
    await assertRejectsBadCursors('/v1/moderation/flags', moderator);
  });

  test('annotation queues: a rater pages through only the queues they may annotate', async () => {
    const rows = [];
    for (const [i, at] of TIMES.entries())
      rows.push(
        await t.app.db.prisma.annotationQueue.create({
          data: {
            name: `page queue ${i}`,
            rubric: { thumbs: true, reason: 'optional' },
            source: { kind: 'sample', limit: 1 },
            overlap: 1,
            leaseSeconds: 60,
            annotatorRoles: i % 2 === 0 ? ['user'] : [],
            createdById: admin.id,
            createdAt: at,
          },
        }),
      );
    const all = await walk('/v1/annotation/queues', 'queues', moderator);
    assert.deepEqual(all, newestFirst(rows.map((q) => ({ id: q.id, at: q.createdAt }))));
    const mine = await walk('/v1/annotation/queues', 'queues', user, 1);
    assert.deepEqual(
      mine,
      newestFirst(rows.filter((_, i) => i % 2 === 0).map((q) => ({ id: q.id, at: q.createdAt }))),
    );
    await assertRejectsBadCursors('/v1/annotation/queues', moderator);
  });

  test('raters, least trusted first', async () => {
    for (let i = 0; i < 3; i++) {
      const rater = await makeUser(t.app, 'user');
      const ex = await startExchange(t, rater, `Rated ${i}?`, `Answer ${i}.`);
      for (const answerId of [ex.answerId]) {
        const rated = await api()
          .put(`/v1/messages/${answerId}/rating`)
          .set('authorization', rater.auth)
          .send({ kind: 'thumbs', value: 'up' });
        assert.equal(rated.status, 200);
      }
    }
    const whole = await api().get('/v1/datasets/raters').set('authorization', ops.auth);
    assert.equal(whole.status, 200);
    assert.equal(whole.body.nextCursor, null);
    assert.ok(whole.body.items.length >= 3);
    const walked = await walk('/v1/datasets/raters', 'items', ops, 1, 'userId');
    assert.deepEqual(
      walked,
      whole.body.items.map((r: { userId: string }) => r.userId),
    );
    await assertRejectsBadCursors('/v1/datasets/raters', ops);
  });
});
