// `npm start` runs the workers as a child process: it starts them (they register the scheduler's
// job schedulers) and stops them cleanly with the API.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CRON_SCHEDULER_ID, SCHEDULER_QUEUE } from '../../../src/loop/jobs/scheduler-tick.job.ts';
import { startWorkerProcess } from '../../../src/platform/worker-process.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { waitFor } from '../../helpers/wait-for.ts';

describe('the workers child process of npm start', () => {
  let t: LoopTest;
  before(async () => {
    t = await startLoopTest();
  });
  after(() => t.close());

  test('starts the workers in another process and stops them on shutdown', async () => {
    const lines: string[] = [];
    const log = {
      info: (_: object, msg: string) => lines.push(msg),
      error: (_: object, msg: string) => lines.push(msg),
    };
    const child = startWorkerProcess(log, { ...process.env, ...t.env, LOG_LEVEL: 'silent' });
    try {
      const pid = child.pid();
      assert.ok(pid && pid !== process.pid);
      // The child registered the cron scheduler in this test's queues: it is up.
      await waitFor(
        'the child to register the job schedulers',
        () => t.app.queues.get(SCHEDULER_QUEUE).getJobScheduler(CRON_SCHEDULER_ID),
        60_000,
      );
      await child.stop();
      assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the child has exited');
      assert.deepEqual(lines, ['started the workers process'], 'it was not restarted');
    } finally {
      await child.stop();
    }
  });
});
