// Training and dataset overrides are strict and bounded, and the schedule's cron may not fire more
// often than every 5 minutes: absurd settings are a 400 naming each field, and nothing is stored.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { errorPaths } from '../../helpers/conversations.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';

describe('loop overrides and cron bounds', () => {
  let t: LoopTest;
  let ops: TestUser;

  before(async () => {
    t = await startLoopTest();
    ops = await makeUser(t.app, 'ops');
  });
  after(() => t.close());

  const call = (method: 'get' | 'put' | 'post', url: string, body?: object) => {
    const req = request(t.app.server)[method](url).set('authorization', ops.auth);
    return body ? req.send(body) : req;
  };

  test('unknown fields and absurd values in training overrides are a 400 naming each field', async () => {
    const absurd = { bogusField: 1, batchSize: 1e9, epochs: 1e9, sft: { epochs: 1e9, maxSteps: 1e12 } };
    const schedule = await call('put', '/v1/loop/schedule', { training: absurd });
    assert.equal(schedule.status, 400, JSON.stringify(schedule.body));
    assert.deepEqual(errorPaths(schedule.body).sort(), [
      'body.training.batchSize',
      'body.training.bogusField',
      'body.training.epochs',
      'body.training.sft.epochs',
      'body.training.sft.maxSteps',
    ]);
    const run = await call('post', '/v1/loop/runs', { training: absurd });
    assert.equal(run.status, 400, JSON.stringify(run.body));
    assert.ok(errorPaths(run.body).includes('body.training.bogusField'), JSON.stringify(run.body));
    assert.ok(errorPaths(run.body).includes('body.training.batchSize'));
    assert.deepEqual((await call('get', '/v1/loop/schedule')).body.training, {});
    assert.equal(await t.app.db.prisma.loopRun.count(), 0);

    const fine = await call('put', '/v1/loop/schedule', { training: { batchSize: 32, sft: { epochs: 3 } } });
    assert.equal(fine.status, 200, JSON.stringify(fine.body));
  });

  test('unknown dataset settings are named by their own path', async () => {
    const res = await call('put', '/v1/loop/schedule', { datasets: { bogusField: 1, sft: { extra: true } } });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.deepEqual(errorPaths(res.body).sort(), ['body.datasets.bogusField', 'body.datasets.sft.extra']);
  });

  test('a cron firing more often than every 5 minutes is refused', async () => {
    for (const cron of ['* * * * * *', '* * * * *', '*/2 * * * *', '0,1 3 * * *']) {
      const res = await call('put', '/v1/loop/schedule', { cron });
      assert.equal(res.status, 400, `${cron}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(errorPaths(res.body), ['body.cron']);
      assert.match(res.body.error.message, /at most every 5 minutes/);
    }
    assert.equal((await call('get', '/v1/loop/schedule')).body.cron, t.config.FEEDLOOP_LOOP_CRON);
    for (const cron of ['*/5 * * * *', '0 */6 * * *', '0 0 * * 0']) {
      const res = await call('put', '/v1/loop/schedule', { cron });
      assert.equal(res.status, 200, `${cron}: ${JSON.stringify(res.body)}`);
    }
  });
});
