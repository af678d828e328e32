// Past one process: two API processes and two worker processes on this machine, against one
// Postgres database and one Redis, as `docker compose up --scale api=2 --scale worker=2` runs them.
// All four boot at once on an empty database (migrations, the admin key). Feedback given through
// one API is moderated through the other; a run started on one is watched on the other and runs
// each stage exactly once; the worker training it is stopped half-way and the other worker
// resumes from its checkpoint; a version activated through one API serves from both, and a
// traffic split set through one API and ended through the other is followed by both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createDatabase } from '../../../src/platform/db/client.ts';
import { loadConfig } from '../../../src/platform/config.ts';
import { activateModelVersion, registerModelVersion } from '../../../src/promotion/model-versions.ts';
import { createTestDatabase } from '../../helpers/database.ts';
import { deleteQueueKeys, loopTestEnv } from '../../helpers/loop.ts';
import { smallTraining } from '../../helpers/loop-runs.ts';
import { writeTinyModel } from '../../helpers/llm.ts';
import { freePort, startProcess, type RunningProcess } from '../../helpers/processes.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const STAGES = ['datasets', 'train', 'evaluate', 'report', 'promote'] as const;
const FACTS = [
  ['France', 'Paris'],
  ['Italy', 'Rome'],
  ['Spain', 'Madrid'],
  ['Peru', 'Lima'],
  ['Japan', 'Tokyo'],
  ['Egypt', 'Cairo'],
  ['Kenya', 'Nairobi'],
  ['Chile', 'Santiago'],
  ['Norway', 'Oslo'],
  ['Poland', 'Warsaw'],
] as const;

interface Api {
  process: RunningProcess;
  url: string;
}

async function call<T = Record<string, unknown>>(
  api: Api,
  method: string,
  route: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function ok<T = Record<string, unknown>>(
  api: Api,
  method: string,
  route: string,
  key: string,
  body?: unknown,
): Promise<T> {
  const res = await call<T>(api, method, route, key, body);
  assert.ok(res.status < 300, `${method} ${route} on ${api.url}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The version name a completion on `api` is answered by. */
async function servedBy(api: Api, key: string): Promise<string> {
  const body = await ok<{ model: string }>(api, 'POST', '/v1/chat/completions', key, {
    messages: [{ role: 'user', content: 'What is the capital of France?' }],
    max_tokens: 2,
  });
  return body.model;
}

test(
  'two API and two worker processes share one Postgres and one Redis: a run, a hand-over, an activation and a traffic split',
  { timeout: 900_000 },
  async (ctx) => {
    const database = await createTestDatabase({ migrated: false });
    const modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-models-'));
    const dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-data-'));
    const adminKey = `fl_${randomBytes(24).toString('hex')}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...loopTestEnv({ FEEDLOOP_DATA_DIR: dataDir, FEEDLOOP_EVAL_LIMIT: '3' }),
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: database.url,
      MODEL_DIR: modelDir,
      FEEDLOOP_ADMIN_KEY: adminKey,
      FEEDLOOP_WORKERS: 'false',
      FEEDLOOP_RATE_LIMIT_PER_MINUTE: '100000',
    };
    const prefix = env.FEEDLOOP_QUEUE_PREFIX!;
    const redisUrl = loadConfig(process.env).REDIS_URL;
    const ports = [await freePort(), await freePort()];
    // All four at once, on a database nobody migrated yet.
    const apis: Api[] = ports.map((port, i) => ({
      process: startProcess(
        ['--import', 'tsx', 'src/main.ts'],
        { ...env, PORT: String(port) },
        `api ${i + 1}`,
      ),
      url: `http://127.0.0.1:${port}`,
    }));
    const workers = [1, 2].map((i) =>
      startProcess(['--import', 'tsx', 'workers/main.ts'], env, `worker ${i}`),
    );
    const all = [...apis.map((a) => a.process), ...workers];
    const db = createDatabase(database.url, { poolSize: 2 });
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queue = (stage: string) => new Queue(`loop-${stage}`, { connection, prefix });
    try {
      await Promise.all(apis.map((api) => api.process.logged(/^Server listening/, 240_000)));
      await Promise.all(workers.map((w) => w.logged(/^workers started$/, 240_000)));

      // The served versions: a tiny base and a second one to activate later, both under MODEL_DIR.
      const versions: Record<string, string> = {};
      for (const [name, seed] of [
        ['tiny-base', 11],
        ['tiny-other', 12],
      ] as const) {
        const source = writeTinyModel(seed);
        await cp(source, path.join(modelDir, name), { recursive: true });
        await rm(source, { recursive: true, force: true });
        versions[name] = (await registerModelVersion(db.prisma, { name, path: name, actorId: null })).id;
      }
      await activateModelVersion(db.prisma, {
        id: versions['tiny-base']!,
        actorId: null,
        reason: 'test base',
      });

      // People: made through API 1, their keys used on both.
      const keyFor = async (role: string) => {
        const user = await ok<{ id: string }>(apis[0]!, 'POST', '/v1/users', adminKey, {
          email: `${role}-${randomBytes(3).toString('hex')}@example.test`,
          role,
        });
        return (
          await ok<{ key: string }>(apis[0]!, 'POST', `/v1/users/${user.id}/api-keys`, adminKey, {
            name: 't',
          })
        ).key;
      };
      const [userKey, moderatorKey, opsKey] = [
        await keyFor('user'),
        await keyFor('moderator'),
        await keyFor('ops'),
      ];

      // Answers served by API 2 (users cannot post a model's answers), corrected there, the
      // corrections approved through API 1.
      for (const [country, capital] of FACTS) {
        const served = await ok<{ id: string }>(apis[1]!, 'POST', '/v1/chat/completions', userKey, {
          messages: [{ role: 'user', content: `Name the capital of ${country}.` }],
          max_tokens: 4,
        });
        const correction = await ok<{ id: string }>(
          apis[1]!,
          'POST',
          `/v1/messages/${served.id}/corrections`,
          userKey,
          { text: `The capital of ${country} is ${capital}.` },
        );
        await ok(apis[0]!, 'POST', `/v1/moderation/corrections/${correction.id}/approve`, moderatorKey, {
          reason: 'correct',
        });
      }

      // A run started on API 1. Only one run at a time, whichever API is asked.
      const { run } = await ok<{ run: { id: string } }>(apis[0]!, 'POST', '/v1/loop/runs', opsKey, {
        reason: 'across processes',
        training: smallTraining(300),
      });
      const second = await call(apis[1]!, 'POST', '/v1/loop/runs', opsKey, { reason: 'again', training: {} });
      assert.equal(second.status, 409, JSON.stringify(second.body));

      // Training is under way on one worker: stop that process (SIGTERM) half-way.
      await waitFor(
        'training step 10',
        () =>
          db.prisma.loopRunProgress.findFirst({
            where: { runId: run.id, phase: 'training', step: { gte: 10 } },
          }),
        300_000,
      );
      const trainQueue = queue('train');
      const trainJob = await trainQueue.getJob(`run-${run.id}-train`);
      const firstTrainer = workers.find((w) => trainJob?.processedBy?.endsWith(`:${w.pid}`));
      assert.ok(firstTrainer, `the train job names its worker (${trainJob?.processedBy})`);
      assert.equal(await firstTrainer.stop(), 0, firstTrainer.output().slice(-2000));
      const otherWorker = workers.find((w) => w !== firstTrainer)!;

      // Watched through API 2 until the end.
      const detail = await waitFor(
        'the run to finish',
        async () => {
          const res = await call<{
            run: { status: string; decision: string | null; candidateVersionId: string | null };
            logs: { message: string }[];
          }>(apis[1]!, 'GET', `/v1/loop/runs/${run.id}`, opsKey);
          const done = res.body.logs?.some((l) => l.message === 'promote: done');
          return res.body.run?.status === 'failed' || (res.body.run?.status === 'succeeded' && done)
            ? res.body
            : null;
        },
        600_000,
        500,
      );
      assert.equal(detail.run.status, 'succeeded', JSON.stringify(detail.logs, null, 1));
      // SIGTERM left a checkpoint; the other worker picked the job up and went on from there.
      const resumed = await db.prisma.loopRunProgress.findFirst({
        where: { runId: run.id, resumedFromStep: { gt: 0 } },
      });
      assert.ok(resumed, 'the other worker resumed training from the first one’s checkpoint');
      assert.ok(resumed.resumedFromStep! >= 10, `resumed from step ${resumed.resumedFromStep}`);

      // Each stage ran exactly once to completion, in one of the two worker processes; training
      // finished in the worker that was left.
      const ranBy: Record<string, string> = {};
      for (const stage of STAGES) {
        const job = await queue(stage).getJob(`run-${run.id}-${stage}`);
        assert.ok(job?.finishedOn, `${stage} finished`);
        assert.equal(job.failedReason ?? null, null, `${stage} did not fail`);
        const worker = workers.find((w) => job.processedBy?.endsWith(`:${w.pid}`));
        assert.ok(worker, `${stage} ran in one of the two workers (${job.processedBy})`);
        ranBy[stage] = String(workers.indexOf(worker) + 1);
        assert.equal(
          detail.logs.filter((l) => l.message === `${stage}: done`).length,
          1,
          `${stage} logged done once`,
        );
      }
      assert.equal(ranBy.train, String(workers.indexOf(otherWorker) + 1));
      ctx.diagnostic(`stages ran in workers ${JSON.stringify(ranBy)}; decision ${detail.run.decision}`);

      // The gate's decision, made in a worker, reaches both APIs within their refresh interval.
      const candidate = await db.prisma.modelVersion.findUniqueOrThrow({
        where: { id: detail.run.candidateVersionId! },
      });
      const expected = detail.run.decision === 'promoted' ? candidate.name : 'tiny-base';
      for (const api of apis) {
        await waitFor(
          `${api.url} to serve ${expected}`,
          async () => (await servedBy(api, userKey)) === expected,
        );
      }

      // An activation through API 2 is served by API 1 (and 2) without a restart; a rollback
      // through API 1 is served by both again.
      await ok(apis[1]!, 'POST', `/v1/model-versions/${versions['tiny-other']}/activate`, opsKey, {
        reason: 'switch',
      });
      for (const api of apis) {
        await waitFor(
          `${api.url} to serve tiny-other`,
          async () => (await servedBy(api, userKey)) === 'tiny-other',
        );
      }
      await ok(apis[0]!, 'POST', '/v1/model-versions/rollback', opsKey, { reason: 'back' });
      for (const api of apis) {
        await waitFor(
          `${api.url} to serve ${expected} again`,
          async () => (await servedBy(api, userKey)) === expected,
        );
      }

      // A traffic split set through API 1 (all requests naming no model to tiny-other, while
      // the active version stays) is followed by both; ended through API 2, both serve the active
      // version again.
      await ok(apis[0]!, 'PUT', '/v1/serving/traffic', opsKey, {
        splits: [{ version: 'tiny-other', weight: 1 }],
        reason: 'canary',
      });
      for (const api of apis) {
        await waitFor(
          `${api.url} to follow the split to tiny-other`,
          async () => (await servedBy(api, userKey)) === 'tiny-other',
        );
      }
      const during = await ok<{ split: { arms: { version: string }[] } | null; activeVersion: string }>(
        apis[1]!,
        'GET',
        '/v1/serving/traffic',
        opsKey,
      );
      assert.deepEqual(
        [during.split?.arms.map((a) => a.version), during.activeVersion],
        [['tiny-other'], expected],
      );
      await ok(apis[1]!, 'POST', '/v1/serving/traffic/stop', opsKey, { reason: 'done' });
      for (const api of apis) {
        await waitFor(
          `${api.url} to serve ${expected} after the split`,
          async () => (await servedBy(api, userKey)) === expected,
        );
      }

      for (const p of [...apis.map((a) => a.process), otherWorker]) {
        assert.equal(await p.stop(), 0, p.output().slice(-2000));
      }
    } finally {
      for (const p of all) p.kill();
      await connection.quit().catch(() => connection.disconnect());
      await db.close();
      await database.drop();
      await deleteQueueKeys(redisUrl, prefix);
      await rm(modelDir, { recursive: true, force: true });
      await rm(dataDir, { recursive: true, force: true });
    }
  },
);
