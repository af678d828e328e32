// A real app plus (optionally) loop workers in this process, on a fresh database, a temp data
// folder and a queue prefix of their own, so loop tests never see each other's jobs.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startWorkers, type RunningWorkers } from '../../src/loop/start-workers.ts';
import type { WorkerFactory } from '../../src/loop/jobs/worker-catalog.ts';
import { startTestApp, type TestApp } from './app.ts';

export interface LoopTest extends TestApp {
  prefix: string;
  dataDir: string;
  workers: RunningWorkers | null;
  env: Record<string, string>;
}

/** Env for fast loop tests: short locks and stalled checks, tiny backoff, no feedback-triggered runs. */
export function loopTestEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    FEEDLOOP_QUEUE_PREFIX: `fltest-${randomBytes(5).toString('hex')}`,
    FEEDLOOP_LOOP_FEEDBACK_THRESHOLD: '1000000',
    FEEDLOOP_LOOP_CHECK_MS: '200',
    FEEDLOOP_JOB_BACKOFF_MS: '50',
    FEEDLOOP_WORKER_LOCK_MS: '15000',
    FEEDLOOP_WORKER_STALLED_MS: '1000',
    MODEL_BACKEND: 'wasm',
    ...overrides,
  };
}

export async function startLoopTest(
  options: { env?: Record<string, string>; workers?: readonly WorkerFactory[] } = {},
): Promise<LoopTest> {
  const dataDir = options.env?.FEEDLOOP_DATA_DIR ?? (await mkdtemp(path.join(tmpdir(), 'feedloop-loop-')));
  const env = loopTestEnv({ FEEDLOOP_DATA_DIR: dataDir, ...options.env });
  const t = await startTestApp(env);
  const workers = options.workers?.length
    ? await startWorkers(t.config, options.workers, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }))
    : null;
  return {
    ...t,
    prefix: env.FEEDLOOP_QUEUE_PREFIX!,
    dataDir,
    workers,
    env: { ...env, DATABASE_URL: t.database.url },
    async close() {
      await workers?.close();
      await t.close();
      await deleteQueueKeys(t.config.REDIS_URL, env.FEEDLOOP_QUEUE_PREFIX!);
      if (!options.env?.FEEDLOOP_DATA_DIR) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Removes every Redis key under a test's queue prefix. */
export async function deleteQueueKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
