// Security headers on every response, the session cookie Secure whenever the app is served over
// HTTPS (directly or behind a trusted proxy), and /metrics and /docs closable to anonymous callers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeUser, startTestApp } from '../../helpers/app.ts';

const PASSWORD = 'a long enough test password';

describe('headers', () => {
  test('API and UI responses carry a strict CSP, nosniff, a Referrer-Policy and no HSTS over http', async () => {
    const t = await startTestApp();
    try {
      for (const path of ['/', '/v1/auth/me', '/healthz']) {
        const res = await request(t.app.server).get(path);
        const csp = String(res.headers['content-security-policy']);
        assert.match(csp, /frame-ancestors 'none'/, path);
        assert.match(csp, /default-src 'self'/, path);
        assert.match(csp, /script-src 'self'(;|$)/, `${path}: no inline scripts: ${csp}`);
        assert.equal(res.headers['x-content-type-options'], 'nosniff', path);
        assert.equal(res.headers['x-frame-options'], 'DENY', path);
        assert.ok(res.headers['referrer-policy'], path);
        assert.equal(res.headers['strict-transport-security'], undefined, path);
      }
      const docs = await request(t.app.server).get('/docs/static/index.html');
      assert.match(String(docs.headers['content-security-policy']), /frame-ancestors 'none'/);
    } finally {
      await t.close();
    }
  });
});

describe('the session cookie over https', () => {
  const login = async (server: import('node:http').Server, email: string, proto?: string) => {
    const req = request(server).post('/v1/auth/login');
    if (proto) req.set('x-forwarded-proto', proto);
    return req.send({ email, password: PASSWORD });
  };
  const cookieOf = (res: request.Response) => String(res.headers['set-cookie']);

  test('behind a trusted proxy saying https: Secure cookie and HSTS; plain http: neither', async () => {
    const t = await startTestApp({ FEEDLOOP_TRUST_PROXY: '127.0.0.1,::1' });
    try {
      const user = await makeUser(t.app, 'user', PASSWORD);
      const https = await login(t.app.server, user.email, 'https');
      assert.equal(https.status, 200, JSON.stringify(https.body));
      assert.match(cookieOf(https), /feedloop_session=.*; Secure/i);
      assert.match(String(https.headers['strict-transport-security']), /max-age=\d+/);
      const http = await login(t.app.server, user.email);
      assert.doesNotMatch(cookieOf(http), /Secure/i);
      assert.equal(http.headers['strict-transport-security'], undefined);
    } finally {
      await t.close();
    }
  });

  test('X-Forwarded-Proto from a proxy that is not trusted is ignored', async () => {
    const t = await startTestApp();
    try {
      const user = await makeUser(t.app, 'user', PASSWORD);
      const res = await login(t.app.server, user.email, 'https');
      assert.equal(res.status, 200);
      assert.doesNotMatch(cookieOf(res), /Secure/i);
    } finally {
      await t.close();
    }
  });

  test('FEEDLOOP_COOKIE_SECURE makes the cookie Secure and sends HSTS on every response', async () => {
    const t = await startTestApp({ FEEDLOOP_COOKIE_SECURE: 'true' });
    try {
      const user = await makeUser(t.app, 'user', PASSWORD);
      const res = await login(t.app.server, user.email);
      assert.match(cookieOf(res), /; Secure/i);
      assert.ok((await request(t.app.server).get('/healthz')).headers['strict-transport-security']);
    } finally {
      await t.close();
    }
  });
});

describe('closing /metrics and /docs', () => {
  test('open by default', async () => {
    const t = await startTestApp();
    try {
      assert.equal((await request(t.app.server).get('/metrics')).status, 200);
      assert.equal((await request(t.app.server).get('/docs/json')).status, 200);
    } finally {
      await t.close();
    }
  });

  test('closed: anonymous callers get 401, metrics need ops, docs any signed-in user', async () => {
    const t = await startTestApp({ FEEDLOOP_METRICS_PUBLIC: 'false', FEEDLOOP_DOCS_PUBLIC: 'false' });
    try {
      const user = await makeUser(t.app, 'user');
      const ops = await makeUser(t.app, 'ops');
      const get = (path: string, auth?: string) => {
        const req = request(t.app.server).get(path);
        if (auth) req.set('authorization', auth);
        return req;
      };
      for (const path of ['/metrics', '/docs', '/docs/json', '/docs/static/index.html']) {
        const res = await get(path);
        assert.equal(res.status, 401, path);
        assert.equal(res.body.error.code, 'unauthorized', path);
      }
      assert.equal((await get('/metrics', user.auth)).status, 403);
      const scraped = await get('/metrics', ops.auth);
      assert.equal(scraped.status, 200);
      assert.match(scraped.text, /http_requests_total|feedloop_/);
      assert.equal((await get('/docs/json', user.auth)).status, 200);
    } finally {
      await t.close();
    }
  });
});
