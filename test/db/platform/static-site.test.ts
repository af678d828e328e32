// The built UI at `/`: client-side routes get index.html, while /v1, /docs, /healthz, /readyz and
// /metrics keep their own behaviour, and a missing asset is a 404.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { WEB_DIST, staticSitePlugin } from '../../../src/platform/static-site.ts';
import { registerErrorHandling } from '../../../src/platform/errors/error-handler.ts';

let t: TestApp;
before(async () => {
  assert.ok(existsSync(`${WEB_DIST}/index.html`), 'web/dist is missing: run `npm run build:web` first');
  t = await startTestApp();
});
after(() => t.close());

describe('serving the UI', () => {
  test('/ and client-side routes answer the app shell, uncached', async () => {
    for (const url of ['/', '/chat', '/chat/0b7f0e8e-0000-4000-8000-000000000000', '/dashboard/training']) {
      const res = await t.app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.match(res.headers['content-type'] as string, /text\/html/);
      assert.match(res.body, /<div id="root"><\/div>/);
      assert.equal(res.headers['cache-control'], 'no-cache');
    }
  });

  test('built assets are served with their type; a missing asset is a 404', async () => {
    const asset = readdirSync(path.join(WEB_DIST, 'assets')).find((f) => f.endsWith('.js'))!;
    const res = await t.app.inject({ url: `/assets/${asset}` });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /javascript/);
    const missing = await t.app.inject({ url: '/assets/nope-123.js' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'not_found');
  });

  test('server paths keep their behaviour', async () => {
    const unknown = await t.app.inject({ url: '/v1/no-such-route' });
    assert.equal(unknown.statusCode, 404);
    assert.deepEqual(Object.keys(unknown.json().error), ['code', 'message']);
    assert.equal(unknown.json().error.code, 'not_found');
    assert.equal((await t.app.inject({ url: '/healthz' })).json().status, 'ok');
    assert.equal((await t.app.inject({ url: '/readyz' })).statusCode, 200);
    const metrics = await t.app.inject({ url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /# HELP/);
    const docs = await t.app.inject({ url: '/docs/json' });
    assert.equal(docs.statusCode, 200);
    assert.ok(docs.json().paths['/v1/insights/metrics'], 'the OpenAPI document lists the API');
    assert.equal(docs.json().paths['/'], undefined, 'the UI routes are not in the API document');
    const docsPage = await t.app.inject({ url: '/docs/unknown-page' });
    assert.doesNotMatch(docsPage.body, /<div id="root"><\/div>/);
    const post = await t.app.inject({ method: 'POST', url: '/chat' });
    assert.equal(post.statusCode, 404, 'only GET and HEAD get the app shell');
  });

  test('without a build, / says how to build it', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'feedloop-web-'));
    const app = Fastify({ logger: false });
    registerErrorHandling(app);
    await app.register(staticSitePlugin, { root: empty });
    try {
      const res = await app.inject({ url: '/chat' });
      assert.equal(res.statusCode, 503);
      assert.match(res.json().error.message, /npm run build:web/);
      assert.equal((await app.inject({ url: '/v1/x' })).statusCode, 404);
    } finally {
      await app.close();
      rmSync(empty, { recursive: true });
    }
  });
});
