// Starts a set of loop workers in this process with their shared context (database, Redis, queues,
// live events), registers the scheduler's job schedulers, and closes it all cleanly.
import type { Worker } from 'bullmq';
import { pino, type Logger } from 'pino';
import type { Config } from '../platform/config.ts';
import { createDatabase, databaseTimeouts } from '../platform/db/client.ts';
import { evaluationPromptSet } from '../suites/contamination.ts';
import { createWorkerRedis, Queues } from './jobs/queues.ts';
import { LOCK_LOST, workerSettings } from './jobs/worker.ts';
import type { WorkerFactory } from './jobs/worker-catalog.ts';
import type { LoopContext } from './context.ts';
import { RedisLoopEvents } from './events.ts';
import { getSchedule, scheduleDefaults, syncSchedulers } from './schedule.ts';
import { startReconciler } from './reconciler.ts';
import { selectBackend } from '../llm/index.ts';

export interface RunningWorkers {
  workers: Worker[];
  context: LoopContext;
  close(): Promise<void>;
}

export async function startWorkers(
  config: Config,
  factories: readonly WorkerFactory[],
  log: Logger = pino({ level: config.LOG_LEVEL }),
): Promise<RunningWorkers> {
  const db = createDatabase(config.DATABASE_URL, { poolSize: 4, timeouts: databaseTimeouts(config) });
  const connection = createWorkerRedis(config.REDIS_URL);
  connection.on('error', (err) => log.warn({ err }, 'redis connection error'));
  const queues = Queues.fromConfig(config, connection);
  // Built once per process and CPU-bound for seconds: done before any job holds a lock, so a
  // dataset build does not block lock renewal long enough to look stalled.
  evaluationPromptSet();
  const backend = await selectBackend(config.MODEL_BACKEND);
  log.info({ backend: backend.backend, reason: backend.reason }, 'model backend selected');

  const context: LoopContext = {
    config,
    prisma: db.prisma,
    queues,
    events: new RedisLoopEvents(connection, config.FEEDLOOP_QUEUE_PREFIX, (err) =>
      log.warn({ err }, 'could not publish a loop event'),
    ),
    log,
  };
  const shutdown = new AbortController();
  const settings = workerSettings(config, connection, shutdown.signal);
  const workers = factories.map((start) => start(context, settings));
  for (const worker of workers) {
    worker.on('error', (err) => log.error({ err, queue: worker.name }, 'worker error'));
    worker.on('failed', (job, err) =>
      log.warn(
        { queue: worker.name, jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message },
        'job failed',
      ),
    );
    worker.on('stalled', (jobId) => log.warn({ queue: worker.name, jobId }, 'job stalled; it runs again'));
    // The job's lock is gone from Redis (Redis lost its data): stop the work at its next safe point,
    // so it does not run twice when the reconciler puts the job back.
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) {
        if (worker.cancelJob(jobId, LOCK_LOST))
          log.warn({ queue: worker.name, jobId }, 'job lost its lock; stopping it');
      }
    });
  }
  await syncSchedulers(
    queues,
    await getSchedule(db.prisma, scheduleDefaults(config)),
    config.FEEDLOOP_LOOP_CHECK_MS,
  );
  const reconciler = startReconciler(context, {
    graceMs: config.FEEDLOOP_WORKER_LOCK_MS,
    intervalMs: config.FEEDLOOP_LOOP_RECONCILE_MS,
  });
  // Redis came back (it may have lost everything): check runs and schedulers now.
  connection.on('ready', () => reconciler.poke());
  log.info({ queues: workers.map((w) => w.name), prefix: config.FEEDLOOP_QUEUE_PREFIX }, 'workers started');

  let closing: Promise<void> | null = null;
  return {
    workers,
    context,
    close() {
      closing ??= (async () => {
        shutdown.abort();
        await reconciler.close();
        for (const worker of workers) worker.cancelAllJobs('shutdown');
        await Promise.all(workers.map((w) => w.close()));
        await queues.close();
        await connection.quit().catch(() => connection.disconnect());
        await db.close();
        log.info('workers closed');
      })();
      return closing;
    },
  };
}
