import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ConfigError, loadConfig } from '../../../src/platform/config.ts';

test('defaults point at Postgres and Redis on 127.0.0.1', () => {
  const config = loadConfig({});
  assert.equal(config.PORT, 8080);
  assert.match(config.DATABASE_URL, /127\.0\.0\.1:5432/);
  assert.equal(config.REDIS_URL, 'redis://127.0.0.1:6379');
  assert.equal(config.FEEDLOOP_SIGNUP, true);
});

test('a wrong value names the variable', () => {
  assert.throws(
    () => loadConfig({ PORT: 'eighty' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /PORT/);
      return true;
    },
  );
  assert.throws(() => loadConfig({ FEEDLOOP_SIGNUP: 'maybe' }), /FEEDLOOP_SIGNUP/);
  assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL: must be a postgresql/);
  assert.throws(() => loadConfig({ FEEDLOOP_ADMIN_KEY: 'short' }), /FEEDLOOP_ADMIN_KEY/);
});

test('the server refuses to start on a bad variable and says which', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, REDIS_URL: 'http://nope' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /REDIS_URL: must be a redis:\/\/ URL/);
});
