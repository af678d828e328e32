// A bare machine: DATABASE_URL and REDIS_URL unset and nothing on 5432 or 6379. Each check runs in
// a network namespace of its own (`unshare -n`, loopback only): there the default ports really are
// empty, so the product is tested with its real defaults (no port variable that exists only for a
// test) and the shared Postgres and Redis of this machine are never seen, let alone touched. The
// test talks to the server through `nsenter` into the same namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, mkdir, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from '../../helpers/wait-for.ts';

const UNSHARE = '/usr/bin/unshare';
const NSENTER = '/usr/bin/nsenter';
const IP = '/usr/sbin/ip';
const ADMIN_KEY = `fl_${'b'.repeat(40)}`;
const BOOT_MS = 180_000;

const namespacesWork =
  existsSync(UNSHARE) && spawnSync(UNSHARE, ['-n', 'true'], { stdio: 'ignore' }).status === 0;

/** The environment of a bare machine: no service URLs. */
function bareEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FEEDLOOP_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...extra };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.TEST_DATABASE_URL;
  // Set by the test runner running this file; a nested `npm test` would otherwise skip its files.
  delete env.NODE_TEST_CONTEXT;
  return env;
}

interface Started {
  child: ChildProcess;
  lines: () => Record<string, unknown>[];
  output: () => string;
  exit: Promise<number | null>;
}

/** Runs `args` (after node) in a fresh network namespace with loopback up. */
function startInNamespace(args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(
    UNSHARE,
    ['-n', '--', '/bin/sh', '-c', `${IP} link set lo up && exec "$@"`, 'sh', process.execPath, ...args],
    { env, cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    exit,
  };
}

/** An HTTP request made from inside the namespace of process `pid`. */
function fetchInNamespace(
  pid: number,
  url: string,
  init: RequestInit = {},
): { status: number; body: string } {
  const script = `const r = await fetch(${JSON.stringify(url)}, ${JSON.stringify(init)});
process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() }));`;
  const result = spawnSync(
    NSENTER,
    [`--net=/proc/${pid}/ns/net`, process.execPath, '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (result.status !== 0) throw new Error(result.stderr || `nsenter exited ${result.status}`);
  return JSON.parse(result.stdout) as { status: number; body: string };
}

function logged(started: Started, msg: RegExp) {
  return started.lines().find((line) => typeof line.msg === 'string' && msg.test(line.msg));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stop(started: Started): Promise<number | null> {
  started.child.kill('SIGTERM');
  return started.exit;
}

test(
  'with no DATABASE_URL, no REDIS_URL and nothing on the default ports, npm start runs Postgres and Redis itself',
  { skip: namespacesWork ? false : 'needs `unshare -n` (root or CAP_SYS_ADMIN)', timeout: 600_000 },
  async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-bare-'));
    // As root, Postgres runs as the `postgres` user, which must reach its data directory.
    await chmod(dataDir, 0o755);
    try {
      const env = bareEnv(dataDir, { FEEDLOOP_ADMIN_KEY: ADMIN_KEY, FEEDLOOP_LOOP_CHECK_MS: '600000' });
      const first = startInNamespace(['--import', 'tsx', 'src/main.ts'], env);
      try {
        const postgres = await waitFor(
          'the embedded Postgres log line',
          () => logged(first, /embedded Postgres/),
          BOOT_MS,
        );
        assert.equal(postgres.created, true, 'a new cluster was initialised');
        assert.equal(postgres.port, 5432);
        assert.ok(
          existsSync(path.join(dataDir, 'postgres', 'data', 'PG_VERSION')),
          'its data is under FEEDLOOP_DATA_DIR',
        );
        const redis = await waitFor(
          'the redis-server log line',
          () => logged(first, /started redis-server/),
          BOOT_MS,
        );
        assert.equal(redis.port, 6379);
        await waitFor('the API to listen', () => logged(first, /Server listening/), BOOT_MS, 200);
        // The workers child got the same services through its environment.
        await waitFor('the workers to start', () => logged(first, /^workers started$/), BOOT_MS, 200);

        const pid = first.child.pid!;
        const ready = fetchInNamespace(pid, 'http://127.0.0.1:8080/readyz');
        assert.equal(ready.status, 200, ready.body);
        const created = fetchInNamespace(pid, 'http://127.0.0.1:8080/v1/users', {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'kept@example.test', role: 'user' }),
        });
        assert.equal(created.status, 201, created.body);

        assert.equal(await stop(first), 0, first.output().slice(-2000));
        const postgresPid = postgres.postgresPid as number;
        const redisPid = redis.redisPid as number;
        await waitFor('the services to stop with the API', () => !alive(postgresPid) && !alive(redisPid));
      } finally {
        first.child.kill('SIGKILL');
      }

      // Started again: the same cluster (no initdb), the data kept.
      const second = startInNamespace(['--import', 'tsx', 'src/main.ts'], {
        ...env,
        FEEDLOOP_WORKERS: 'false',
      });
      try {
        const postgres = await waitFor(
          'the embedded Postgres log line',
          () => logged(second, /embedded Postgres/),
          BOOT_MS,
        );
        assert.equal(postgres.created, false);
        await waitFor('the API to listen', () => logged(second, /Server listening/), BOOT_MS, 200);
        const users = fetchInNamespace(second.child.pid!, 'http://127.0.0.1:8080/v1/users', {
          headers: { authorization: `Bearer ${ADMIN_KEY}` },
        });
        assert.equal(users.status, 200, users.body);
        assert.match(users.body, /kept@example\.test/);
        assert.equal(await stop(second), 0, second.output().slice(-2000));
      } finally {
        second.child.kill('SIGKILL');
      }

      // `npm test` uses the same fallbacks (one small database test, in the namespace).
      const tests = startInNamespace(['scripts/run-tests.mjs', 'test/db/platform/smoke.test.ts'], env);
      try {
        assert.equal(await tests.exit, 0, tests.output().slice(-3000));
        assert.match(tests.output(), /embedded Postgres/);
        assert.match(tests.output(), /started redis-server/);
        assert.match(tests.output(), /pass 1\n/);
      } finally {
        tests.child.kill('SIGKILL');
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  },
);

test(
  'without Redis and without redis-server on the PATH, start stops with one line saying how to get one',
  { skip: namespacesWork ? false : 'needs `unshare -n` (root or CAP_SYS_ADMIN)', timeout: 120_000 },
  async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-bare-'));
    try {
      // A PATH with node on it and nothing else.
      const bin = path.join(dataDir, 'bin');
      await mkdir(bin);
      await symlink(process.execPath, path.join(bin, 'node'));
      const started = startInNamespace(['--import', 'tsx', 'src/main.ts'], bareEnv(dataDir, { PATH: bin }));
      const code = await started.exit;
      assert.equal(code, 2, started.output());
      const lines = started.output().trim().split('\n');
      assert.equal(lines.length, 1, started.output());
      assert.match(
        lines[0]!,
        /REDIS_URL is unset.*no redis-server is on the PATH.*docker compose up -d redis/,
      );
      // Redis is settled first: no Postgres was started for nothing.
      assert.equal(existsSync(path.join(dataDir, 'postgres')), false);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  },
);
