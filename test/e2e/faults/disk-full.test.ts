// The data folder's disk fills up during a loop run. Where the machine allows it, the data folder is
// a 2 MiB tmpfs filled up to a little more than the dataset snapshot needs: the snapshot is
// written, every training attempt then fails on its first checkpoint, and the run fails saying the
// disk is full, with no temporary file left behind. Where mounting is not allowed, the failure is
// injected at the file layer instead: the checkpoint's temporary name points at /dev/full, so the
// kernel answers ENOSPC once; that attempt fails with the same clear message and leaves nothing
// behind, and the retry finishes the run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import request from 'supertest';
import { pino } from 'pino';
import { temporaryPath } from '../../../src/llm/atomic-file.ts';
import { ALL_WORKERS } from '../../../src/loop/jobs/worker-catalog.ts';
import { runWorkDir } from '../../../src/loop/jobs/train.handler.ts';
import { startWorkers, type RunningWorkers } from '../../../src/loop/start-workers.ts';
import { STATE_FILE } from '../../../src/training/run-state.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { activateTinyModel, seedCorrections, smallTraining } from '../../helpers/loop-runs.ts';
import { waitFor } from '../../helpers/wait-for.ts';

/** Free bytes left on the tmpfs: room for the snapshot, not for a checkpoint. */
const LEFT_FREE = 96 * 1024;

/** Mounts a small tmpfs on `dir`; false when this machine does not allow it. */
function mountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Every file or folder under `dir` whose name marks it temporary. */
function temporaryFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => /\.tmp/.test(name));
}

describe('a full disk under the data folder', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'feedloop-full-'));
  const mounted = mountTmpfs(dataDir);
  let t: LoopTest;
  let workers: RunningWorkers | null = null;
  let modelDir: string;
  let ops: TestUser;

  before(async () => {
    modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-models-'));
    t = await startLoopTest({
      env: { FEEDLOOP_DATA_DIR: dataDir, MODEL_DIR: modelDir, FEEDLOOP_EVAL_LIMIT: '3' },
    });
    ops = await makeUser(t.app, 'ops');
    await activateTinyModel(t);
    await seedCorrections(t, await makeUser(t.app, 'user'), await makeUser(t.app, 'moderator'), 12);
  });
  after(async () => {
    await workers?.close();
    await t?.close();
    if (mounted) execFileSync('umount', [dataDir]);
    rmSync(dataDir, { recursive: true, force: true });
    await rm(modelDir, { recursive: true, force: true });
  });

  test(`the run reports the full disk and leaves no temporary file (${mounted ? 'tmpfs' : 'injected ENOSPC'})`, async () => {
    const created = await request(t.app.server)
      .post('/v1/loop/runs')
      .set('authorization', ops.auth)
      .send({ reason: 'disk full', training: smallTraining(40) });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const runId: string = created.body.run.id;
    const checkpoint = path.join(runWorkDir(dataDir, runId), STATE_FILE);
    if (mounted) {
      const { bavail, bsize } = statfsSync(dataDir);
      writeFileSync(path.join(dataDir, 'filler'), Buffer.alloc(bavail * bsize - LEFT_FREE));
    } else {
      mkdirSync(path.dirname(checkpoint), { recursive: true });
      symlinkSync('/dev/full', temporaryPath(checkpoint));
    }
    // Workers start only now, so the fault is in place before the run reaches training.
    workers = await startWorkers(
      t.config,
      ALL_WORKERS,
      pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    );

    const run = await waitFor(
      'the run to finish',
      async () => {
        const r = await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: runId } });
        return ['succeeded', 'failed'].includes(r.status) ? r : null;
      },
      240_000,
    );
    const logs = (
      await t.app.db.prisma.loopRunLog.findMany({ where: { runId }, orderBy: { id: 'asc' } })
    ).map((l) => l.message);
    const diskFull = `disk full: no space left on the device to write ${checkpoint} (ENOSPC)`;
    assert.ok(
      logs.some((m) => m.startsWith('train: attempt 1 of 3 failed') && m.endsWith(diskFull)),
      logs.join('\n'),
    );
    if (mounted) {
      assert.equal(run.status, 'failed', logs.join('\n'));
      assert.equal(run.error, `train: ${diskFull}`);
    } else {
      assert.equal(run.status, 'succeeded', `${run.error}\n${logs.join('\n')}`);
    }
    assert.deepEqual(temporaryFiles(dataDir), []);
  });
});
