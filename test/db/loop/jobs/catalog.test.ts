// The job catalog: payloads are validated on both sides, jobIds are derived from the run (so the
// same work is queued once), and stage jobs retry with exponential backoff and bounded history.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { JOBS, RUN_STAGES } from '../../../../src/loop/jobs/catalog.ts';
import { buildDatasetsJob } from '../../../../src/loop/jobs/build-datasets.job.ts';
import { createWorkerRedis, Queues } from '../../../../src/loop/jobs/queues.ts';
import { schedulerTickJob } from '../../../../src/loop/jobs/scheduler-tick.job.ts';
import { trainJob } from '../../../../src/loop/jobs/train.job.ts';
import { createWorker } from '../../../../src/loop/jobs/worker.ts';
import { deleteQueueKeys } from '../../../helpers/loop.ts';
import { waitFor } from '../../../helpers/wait-for.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('job catalog', () => {
  test('every stage payload wants exactly a run id (a UUID)', () => {
    for (const job of RUN_STAGES) {
      assert.equal(job.payload.safeParse({ runId: randomUUID() }).success, true, job.name);
      assert.equal(job.payload.safeParse({}).success, false, `${job.name}: missing runId`);
      assert.equal(job.payload.safeParse({ runId: 'run-1' }).success, false, `${job.name}: not a uuid`);
      assert.equal(
        job.payload.safeParse({ runId: randomUUID(), extra: 1 }).success,
        false,
        `${job.name}: unknown field`,
      );
    }
    assert.equal(schedulerTickJob.payload.safeParse({ trigger: 'cron' }).success, true);
    assert.equal(schedulerTickJob.payload.safeParse({ trigger: 'feedback' }).success, true);
    assert.equal(schedulerTickJob.payload.safeParse({ trigger: 'manual' }).success, false);
  });

  test('stage jobIds are derived from the run and stage, distinct per stage, and free of ":"', () => {
    const runId = randomUUID();
    const ids = RUN_STAGES.map((job) => job.jobId({ runId }));
    assert.equal(new Set(ids).size, RUN_STAGES.length);
    for (const id of ids) {
      assert.ok(id.includes(runId), id);
      assert.ok(!id.includes(':'), id);
    }
    assert.equal(trainJob.jobId({ runId }), `run-${runId}-train`);
  });

  test('stage jobs retry with exponential backoff and keep bounded history', () => {
    for (const job of RUN_STAGES) {
      const options = job.options({ backoffMs: 1000 });
      assert.ok((options.attempts ?? 1) >= 2, job.name);
      assert.deepEqual(options.backoff, { type: 'exponential', delay: 1000 });
      assert.ok(typeof options.removeOnComplete === 'object' && options.removeOnComplete.count! > 0);
      assert.ok(typeof options.removeOnFail === 'object' && options.removeOnFail.count! > 0);
    }
    assert.equal(new Set(JOBS.map((j) => j.queue)).size, JOBS.length, 'one queue per job');
  });

  describe('against Redis', () => {
    const prefix = `fltest-${randomBytes(5).toString('hex')}`;
    let connection: Redis;
    let queues: Queues;

    before(() => {
      connection = createWorkerRedis(REDIS_URL);
      queues = new Queues(connection, prefix, 50);
    });
    after(async () => {
      await queues.close();
      connection.disconnect();
      await deleteQueueKeys(REDIS_URL, prefix);
    });

    test('enqueueing refuses a bad payload and adds nothing', async () => {
      await assert.rejects(queues.enqueue(buildDatasetsJob, { runId: 'nope' } as never), /uuid/i);
      assert.equal(await queues.get(buildDatasetsJob.queue).count(), 0);
    });

    test('enqueueing the same run twice leaves one job', async () => {
      const runId = randomUUID();
      const first = await queues.enqueue(trainJob, { runId });
      const second = await queues.enqueue(trainJob, { runId });
      assert.equal(first, second);
      const waiting = await queues.get(trainJob.queue).getWaiting();
      assert.deepEqual(
        waiting.map((j) => j.id),
        [first],
      );
      assert.equal(waiting[0]!.opts.attempts, 3);
    });

    test('a worker refuses a payload that bypassed the catalog at once, without retrying it', async () => {
      let handled = 0;
      const shutdown = new AbortController();
      const worker = createWorker(
        buildDatasetsJob,
        { connection, prefix, lockDurationMs: 5000, stalledIntervalMs: 5000, shutdown: shutdown.signal },
        async () => {
          handled += 1;
        },
      );
      try {
        const job = await queues
          .get(buildDatasetsJob.queue)
          .add('datasets', { runId: 42 }, { attempts: 3, backoff: { type: 'exponential', delay: 10 } });
        const failed = await waitFor('the job to fail', async () =>
          (await job.isFailed()) ? queues.get(buildDatasetsJob.queue).getJob(job.id!) : null,
        );
        assert.match(failed.failedReason, /invalid datasets payload/);
        assert.equal(failed.attemptsMade, 1);
        assert.equal(handled, 0);
      } finally {
        await worker.close();
      }
    });
  });
});
