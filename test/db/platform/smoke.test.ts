import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startTestApp } from '../../helpers/app.ts';

test('app boots and answers /readyz', async () => {
  const t = await startTestApp();
  try {
    const res = await request(t.app.server).get('/readyz');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.postgres.ok, true);
    const docs = await request(t.app.server).get('/docs/json');
    assert.equal(docs.status, 200, JSON.stringify(docs.body).slice(0, 500));
  } finally {
    await t.close();
  }
});
