// The workers as the separate process `npm run workers` starts: SIGTERM mid-training stops it
// cleanly and puts the job back without using up an attempt; kill -9 mid-training loses the
// worker's lock, and the next worker process takes the job over and resumes from the checkpoint.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { trainJob } from '../../../src/loop/jobs/train.job.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { activateTinyModel, seedCorrections, smallTraining } from '../../helpers/loop-runs.ts';
import { waitFor } from '../../helpers/wait-for.ts';

const WORKERS_MAIN = fileURLToPath(new URL('../../../workers/main.ts', import.meta.url));

interface WorkerChild {
  proc: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorkerProcess(env: Record<string, string>): WorkerChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', WORKERS_MAIN], {
    env: { ...process.env, ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  proc.stdout!.on('data', (d) => output.push(String(d)));
  proc.stderr!.on('data', (d) => output.push(String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, output, exited };
}

const withTimeout = <T>(what: string, promise: Promise<T>, ms: number) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref()),
  ]);

describe('worker processes', () => {
  let t: LoopTest;
  let modelDir: string;
  let ops: TestUser;
  const children: WorkerChild[] = [];

  before(async () => {
    modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-models-'));
    t = await startLoopTest({ env: { MODEL_DIR: modelDir, FEEDLOOP_EVAL_LIMIT: '3' } });
    ops = await makeUser(t.app, 'ops');
    await activateTinyModel(t);
    await seedCorrections(t, await makeUser(t.app, 'user'), await makeUser(t.app, 'moderator'), 12);
  });
  after(async () => {
    for (const child of children) if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
    await t.close();
    await rm(modelDir, { recursive: true, force: true });
  });

  const trainingStepAtLeast = (runId: string, step: number) =>
    t.app.db.prisma.loopRunProgress.findFirst({
      where: { runId, phase: 'training', method: 'sft', step: { gte: step } },
      orderBy: { id: 'desc' },
    });

  test('SIGTERM and kill -9 mid-training: a new worker resumes from the last checkpoint and finishes', async () => {
    const created = await request(t.app.server)
      .post('/v1/loop/runs')
      .set('authorization', ops.auth)
      .send({ reason: 'crash test', training: smallTraining(600) });
    assert.equal(created.status, 202);
    const runId: string = created.body.run.id;

    // 1. SIGTERM while training: the process exits 0 and the job waits, no attempt used up.
    const first = startWorkerProcess(t.env);
    children.push(first);
    const reached = await waitFor('training step 20', () => trainingStepAtLeast(runId, 20), 120_000);
    first.proc.kill('SIGTERM');
    const stopped = await withTimeout('the worker to exit after SIGTERM', first.exited, 60_000);
    assert.deepEqual(stopped, { code: 0, signal: null }, first.output.join(''));
    assert.match(first.output.join(''), /workers closed/);
    const job = await t.app.queues.get(trainJob.queue).getJob(`run-${runId}-train`);
    assert.equal(await job!.getState(), 'waiting');
    assert.equal(job!.attemptsMade, 0);

    // 2. A second worker resumes; kill -9 it mid-training (no chance to clean up).
    const second = startWorkerProcess(t.env);
    children.push(second);
    const resumed = await waitFor(
      'the second worker to resume',
      () =>
        t.app.db.prisma.loopRunProgress.findFirst({
          where: { runId, resumedFromStep: { gt: 0 }, id: { gt: reached.id } },
        }),
      120_000,
    );
    assert.ok(resumed.resumedFromStep! >= 5, `resumed from ${resumed.resumedFromStep}`);
    const beforeKill = await waitFor(
      'more training after the resume',
      () => trainingStepAtLeast(runId, resumed.resumedFromStep! + 15),
      120_000,
    );
    second.proc.kill('SIGKILL');
    assert.equal((await withTimeout('the killed worker to exit', second.exited, 10_000)).signal, 'SIGKILL');

    // 3. A third worker takes the stalled job over once the dead worker's lock expires.
    const third = startWorkerProcess(t.env);
    children.push(third);
    const run = await waitFor(
      'the run to finish',
      async () => {
        const r = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: runId } });
        return ['succeeded', 'failed'].includes(r.status) ? r : null;
      },
      240_000,
    );
    const logs = await t.app.db.prisma.loopRunLog.findMany({ where: { runId }, orderBy: { id: 'asc' } });
    assert.equal(run.status, 'succeeded', logs.map((l) => l.message).join('\n') + third.output.join(''));
    const resumes = await t.app.db.prisma.loopRunProgress.findMany({
      where: { runId, resumedFromStep: { gt: 0 } },
      orderBy: { id: 'asc' },
    });
    // At least these two; a worker whose lock lapsed on a loaded machine may add another resume.
    assert.ok(
      resumes.length >= 2,
      resumes
        .map((r) => `${r.phase} ${r.method} step ${r.step} resumed from ${r.resumedFromStep}`)
        .join('\n') + logs.map((l) => l.message).join('\n'),
    );
    assert.ok(resumes[1]!.id > beforeKill.id);
    assert.ok(resumes[1]!.resumedFromStep! > resumes[0]!.resumedFromStep!, 'the third resumed further on');
    assert.ok(logs.some((l) => /interrupted by shutdown/.test(l.message)));
    assert.ok(logs.some((l) => /train: resumed from step/.test(l.message)));
    const trainStarts = logs.filter((l) => l.message.startsWith('train: started'));
    assert.ok(trainStarts.length >= 3, 'three workers started the train stage');

    third.proc.kill('SIGTERM');
    assert.equal((await withTimeout('the third worker to exit', third.exited, 60_000)).code, 0);
  });
});
