// The comparison of a split's versions on seeded feedback, against figures computed by hand here,
// and the canary guard's threshold: below the minimum sample it waits, at it the split stops.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestApp, makeUser, type TestApp, type TestUser } from '../../helpers/app.ts';
import { startExchange } from '../../helpers/conversations.ts';
import { activateModelVersion, registerModelVersion } from '../../../src/promotion/model-versions.ts';
import { checkCanaryGuard } from '../../../src/serving/canary-guard.ts';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

describe('the split comparison', () => {
  let t: TestApp;
  let ops: TestUser;
  let user: TestUser;

  before(async () => {
    t = await startTestApp();
    ops = await makeUser(t.app, 'ops');
    user = await makeUser(t.app);
  });
  after(() => t.close());

  test('rates, intervals, differences, the test and the sample needed; then the guard', async () => {
    const db = t.app.db.prisma;
    const base = await registerModelVersion(db, { name: 'base', path: 'base', actorId: null });
    const canary = await registerModelVersion(db, { name: 'canary', path: 'canary', actorId: null });
    await activateModelVersion(db, { id: base.id, actorId: null, reason: 'start' });
    const empty = await request(t.app.server)
      .get('/v1/serving/traffic/comparison')
      .set('Authorization', ops.auth);
    assert.deepEqual(empty.body, { split: null, effect: 0.05, power: 0.8, arms: [] });
    const bad = await request(t.app.server)
      .get('/v1/serving/traffic/comparison?effect=2')
      .set('Authorization', ops.auth);
    assert.equal(bad.status, 400);
    assert.ok(JSON.stringify(bad.body.error.details).includes('effect'));

    await request(t.app.server)
      .put('/v1/serving/traffic')
      .set('Authorization', ops.auth)
      .send({
        splits: [
          { version: 'canary', weight: 1 },
          { version: 'base', weight: 9 },
        ],
        reason: 'canary 10%',
      })
      .expect(200);

    /** Ten answers of `versionId`: thumbs, stars, harmful flags and corrections on the first few. */
    const seed = async (
      versionId: string,
      plan: { up: number; stars: number[]; harmful: number; corrected: number; copied: number },
    ) => {
      for (let i = 0; i < 10; i++) {
        const ex = await startExchange(t, user, `${versionId} question ${i}?`, `Answer ${i}.`, versionId);
        const put = (body: object) =>
          request(t.app.server)
            .put(`/v1/messages/${ex.answerId}/rating`)
            .set('Authorization', user.auth)
            .send(body);
        await put({ kind: 'thumbs', value: i < plan.up ? 'up' : 'down' }).expect(200);
        if (i < plan.stars.length) await put({ kind: 'stars', value: plan.stars[i] }).expect(200);
        if (i < plan.harmful) {
          await request(t.app.server)
            .post(`/v1/messages/${ex.answerId}/flags`)
            .set('Authorization', user.auth)
            .send({ category: 'harmful_or_biased' })
            .expect(201);
        }
        if (i < plan.corrected) {
          await request(t.app.server)
            .post(`/v1/messages/${ex.answerId}/corrections`)
            .set('Authorization', user.auth)
            .send({ text: 'A better answer.' })
            .expect(201);
        }
        if (i < plan.copied) {
          await db.implicitEvent.create({
            data: {
              id: `copy-${ex.answerId}`,
              type: 'copy',
              messageId: ex.answerId,
              userId: user.id,
              clientTs: new Date(),
            },
          });
        }
      }
    };
    await seed(base.id, { up: 8, stars: [5, 4, 4, 3], harmful: 0, corrected: 0, copied: 3 });
    await seed(canary.id, { up: 3, stars: [2, 2, 3], harmful: 2, corrected: 1, copied: 1 });

    const res = await request(t.app.server)
      .get('/v1/serving/traffic/comparison?effect=0.1')
      .set('Authorization', ops.auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [c, b] = res.body.arms;
    assert.equal(c.version, 'canary');
    assert.equal(b.version, 'base');
    assert.equal(b.baseline, true, 'the active version is the baseline');
    close(c.share, 0.1, 'share');
    assert.equal(b.answers, 10);
    close(b.metrics.thumbsUpRate.value, 0.8, 'base thumbs-up');
    close(c.metrics.thumbsUpRate.value, 0.3, 'canary thumbs-up');
    close(b.metrics.meanStars.value, 4, 'base stars');
    close(c.metrics.meanStars.value, 7 / 3, 'canary stars');
    close(c.metrics.harmfulFlagRate.value, 0.2, 'canary harmful');
    close(c.metrics.correctionRate.value, 0.1, 'canary corrected');
    close(b.metrics.copyRate.value, 0.3, 'base copied');
    close(c.metrics.regenerateRate.value, 0, 'canary regenerated');
    // Wilson's interval for 8 of 10 by hand.
    const z = 1.959963984540054;
    const centre = (0.8 + (z * z) / 20) / (1 + (z * z) / 10);
    const half = (z * Math.sqrt((0.8 * 0.2) / 10 + (z * z) / 400)) / (1 + (z * z) / 10);
    close(b.metrics.thumbsUpRate.low, centre - half, 'Wilson low');
    close(b.metrics.thumbsUpRate.high, centre + half, 'Wilson high');
    assert.deepEqual(b.differences, [], 'the baseline is not compared with itself');

    const thumbs = c.differences.find((d: { metric: string }) => d.metric === 'thumbsUpRate');
    close(thumbs.value, -0.5, 'difference');
    // Agresti–Caffo: (3 + 1) / 12 against (8 + 1) / 12.
    const [ta, tb] = [4 / 12, 9 / 12];
    const se = Math.sqrt((ta * (1 - ta)) / 12 + (tb * (1 - tb)) / 12);
    close(thumbs.low, ta - tb - z * se, 'difference low');
    close(thumbs.high, ta - tb + z * se, 'difference high');
    // Two-proportion z test: pooled 11 / 20.
    const zStat = -0.5 / Math.sqrt(0.55 * 0.45 * (2 / 10));
    assert.ok(Math.abs(zStat + 2.2473) < 1e-3);
    assert.ok(Math.abs(thumbs.pValue - 0.0246) < 5e-4, `p ${thumbs.pValue}`);
    const stars = c.differences.find((d: { metric: string }) => d.metric === 'meanStars');
    close(stars.value, 7 / 3 - 4, 'stars difference');
    // The sample for 10 points from a baseline at 80% (to 90%), alpha 0.05, power 0.8 (Fleiss).
    const zb = 0.8416212335729143;
    const needed = Math.ceil(
      (z * Math.sqrt(2 * 0.85 * 0.15) + zb * Math.sqrt(0.8 * 0.2 + 0.9 * 0.1)) ** 2 / 0.01,
    );
    assert.equal(c.thumbsPerArmForEffect, needed);
    assert.equal(c.thumbsNeeded, needed - 10);

    // The guard: 7 of 10 thumbs down against 2 of 10. Below its minimum sample it waits.
    const waiting = await checkCanaryGuard(t.app.db, { minSample: 11 });
    assert.equal(waiting.stopped, false);
    assert.ok(await db.trafficSplit.findFirst({ where: { endedAt: null } }));
    const stopped = await checkCanaryGuard(t.app.db, { minSample: 10 });
    assert.equal(stopped.stopped, true);
    assert.deepEqual(
      stopped.findings.map((f) => f.metric),
      ['thumbsDownRate'],
      'two harmful flags in ten are not beyond the interval',
    );
    assert.equal(await db.trafficSplit.findFirst({ where: { endedAt: null } }), null);
    const audit = await db.auditLogEntry.findFirstOrThrow({ where: { action: 'traffic_split.guard_stop' } });
    assert.equal(audit.actorId, null);
    // Judging again finds no split to stop.
    assert.equal((await checkCanaryGuard(t.app.db, { minSample: 10 })).stopped, false);
  });
});
