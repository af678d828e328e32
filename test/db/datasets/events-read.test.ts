// A build reads only the implicit events it can count (types with a weight, dwell long enough), and
// the rater assessment reads none: the snapshot and the assessment are exactly what reading every
// event gives, from fewer rows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { startExchange } from '../../helpers/conversations.ts';
import { loadFeedbackRows } from '../../../src/feedback/feedback-rows.ts';
import { assessRaters } from '../../../src/feedback/raters/raters.ts';
import { buildDataset } from '../../../src/datasets/builders.ts';
import { eventsCounted } from '../../../src/datasets/snapshots.ts';
import { parseBuildConfig } from '../../../src/contract/dataset-build-config.ts';

let t: TestApp;
let users: TestUser[];

before(async () => {
  t = await startTestApp();
  users = [await makeUser(t.app, 'user'), await makeUser(t.app, 'user')];
});
after(() => t.close());

const api = () => request(t.app.server);

test('the events a build counts give the same snapshot as every event; rater assessment needs none', async () => {
  let n = 0;
  for (const [u, user] of users.entries()) {
    for (let i = 0; i < 4; i++) {
      const ex = await startExchange(t, user, `Events question ${u}-${i}?`, `Events answer ${u}-${i}.`);
      if (i === 0) {
        const rated = await api()
          .put(`/v1/messages/${ex.answerId}/rating`)
          .set('authorization', user.auth)
          .send({ kind: 'thumbs', value: 'up' });
        assert.equal(rated.status, 200);
      }
      const kinds =
        i % 2 === 0
          ? [{ type: 'copy' }, { type: 'dwell', value: 20_000 }, { type: 'click' }]
          : [
              { type: 'session_end' },
              { type: 'dwell', value: 500 },
              { type: 'regenerate' },
              { type: 'abandon' },
            ];
      const sent = await api()
        .post('/v1/events')
        .set('authorization', user.auth)
        .send({
          events: kinds.map((k) => ({ id: `ev-read-${n++}`, messageId: ex.answerId, ts: Date.now(), ...k })),
        });
      assert.equal(sent.body.accepted, kinds.length, JSON.stringify(sent.body));
    }
  }
  const config = parseBuildConfig({ hygiene: { validationPercent: 0 } });
  const window = { to: new Date(Date.now() + 60_000) };
  const every = await loadFeedbackRows(t.app.db.prisma, { window });
  const counted = await loadFeedbackRows(t.app.db.prisma, { window, events: eventsCounted(config) });
  assert.ok(counted.implicitEvents.length < every.implicitEvents.length);
  assert.ok(!counted.implicitEvents.some((e) => e.type === 'click' || e.type === 'session_end'));
  assert.ok(!counted.implicitEvents.some((e) => e.type === 'dwell' && (e.value ?? 0) < 15_000));

  const all = buildDataset(every, config, new Set());
  const fewer = buildDataset(counted, config, new Set());
  assert.ok(all.sizesBySource.kto.implicit! > 0, JSON.stringify(all.sizesBySource));
  assert.equal(fewer.contentHash, all.contentHash);
  assert.deepEqual(fewer.files, all.files);
  assert.deepEqual(fewer.lineage, all.lineage);
  assert.deepEqual(fewer.stats, all.stats);

  const none = await loadFeedbackRows(t.app.db.prisma, { window, events: 'none' });
  assert.equal(none.implicitEvents.length, 0);
  assert.deepEqual(assessRaters(none, config), assessRaters(every, config));
  assert.equal(eventsCounted(parseBuildConfig({ implicit: { enabled: false } })), 'none');
});
