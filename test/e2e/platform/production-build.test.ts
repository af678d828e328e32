// The production build: `node dist/src/main.js` runs compiled JavaScript only (no tsx anywhere),
// including the workers child process (dist/workers/main.js) and the model worker thread
// (dist/src/serving/worker-pool/model-worker.js). CI runs `npm run build` before the tests; run
// alone, this test builds dist/ when it is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase } from '../../helpers/database.ts';
import { deleteQueueKeys } from '../../helpers/loop.ts';
import { freePort, startProcess } from '../../helpers/processes.ts';
import { loadConfig } from '../../../src/platform/config.ts';

const MAIN = 'dist/src/main.js';

function commandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

test(
  'npm run build: the API, the workers and the model thread run from dist/ without tsx',
  { timeout: 600_000 },
  async () => {
    if (!existsSync(MAIN)) {
      const build = spawnSync('npm', ['run', 'build'], { encoding: 'utf8', timeout: 480_000 });
      assert.equal(build.status, 0, build.stdout + build.stderr);
    }
    const database = await createTestDatabase({ migrated: false });
    const dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-prod-'));
    const prefix = `fltest-${randomBytes(5).toString('hex')}`;
    const key = `fl_${randomBytes(24).toString('hex')}`;
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      DATABASE_URL: database.url,
      PORT: String(port),
      FEEDLOOP_ADMIN_KEY: key,
      FEEDLOOP_QUEUE_PREFIX: prefix,
      FEEDLOOP_DATA_DIR: dataDir,
      FEEDLOOP_LOOP_CHECK_MS: '600000',
      MODEL_BACKEND: 'wasm',
    };
    delete env.NODE_OPTIONS;
    const api = startProcess([MAIN], env, 'node dist/src/main.js');
    try {
      // Migrations found from dist/ (the database was left empty), the UI and model served.
      await api.logged(/^applied migrations$/);
      await api.logged(/^Server listening/);
      const workers = await api.logged(/^started the workers process$/);
      await api.logged(/^workers started$/);
      const workersPid = workers.pid as number;
      assert.match(commandLine(workersPid), /dist\/workers\/main\.js/);
      for (const pid of [api.pid, workersPid]) assert.doesNotMatch(commandLine(pid), /tsx/);

      const base = `http://127.0.0.1:${port}`;
      const completion = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          messages: [{ role: 'user', content: 'What is the capital of Peru?' }],
          max_tokens: 4,
        }),
      });
      const body = (await completion.json()) as { choices?: { message: { content: string } }[] };
      assert.equal(completion.status, 200, JSON.stringify(body));
      assert.ok(body.choices?.[0]?.message.content.length, 'the model thread answered');
      const page = await fetch(`${base}/chat`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<div id="root">/);

      assert.equal(await api.stop(), 0, api.output().slice(-2000));
      assert.throws(() => process.kill(workersPid, 0), /ESRCH/, 'the workers stopped with the API');
    } finally {
      api.kill();
      await database.drop();
      await deleteQueueKeys(loadConfig(process.env).REDIS_URL, prefix);
      await rm(dataDir, { recursive: true, force: true });
    }
  },
);
