// Starts a set of loop workers in this process with their shared context (database, Redis, queues,
// live events), registers the scheduler's job schedulers, and closes it all cleanly.
import type { Worker } from 'bullmq';
import { pino, type Logger } from 'pino';
import type { Config } from '../platform/config.ts';
import { createDatabase, databaseTimeouts } from '../platform/db/client.ts';
import { createWorkerRedis, Queues } from './jobs/queues.ts';
import { LOCK_LOST, workerSettings } from './jobs/worker.ts';
import type { WorkerFactory } from './jobs/worker-catalog.ts';
import type { LoopContext } from './context.ts';
import { RedisLoopEvents } from './events.ts';
import { DatasetBuildThread } from '../datasets/build-thread.ts';
import { getSchedule, scheduleDefaults, syncSchedulers } from './schedule.ts';
import { startReconciler } from './reconciler.ts';
import { selectBackend } from '../llm/index.ts';
import { maintainEventPartitions } from '../feedback/events/partitions.ts';
import { compactAnswerMetrics, compactFeedbackRollup } from '../feedback/insights/queries.ts';

/** How often the workers fold the rollups' deltas into feedback_daily and answer_metrics_daily. */
const ROLLUP_COMPACTION_MS = 60 * 1000;

/** How often the workers create next months' event partitions and drop those past the retention. */
const PARTITION_MAINTENANCE_MS = 60 * 60 * 1000;

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
  const backend = await selectBackend(config.MODEL_BACKEND);
  log.info({ backend: backend.backend, reason: backend.reason }, 'model backend selected');

  const datasetBuilds = new DatasetBuildThread(config.DATABASE_URL, config.FEEDLOOP_BUILD_HEAP_MB);
  // Started at boot: the thread builds the evaluation prompt set before the first build job waits.
  datasetBuilds.warm();
  const context: LoopContext = {
    config,
    prisma: db.prisma,
    queues,
    events: new RedisLoopEvents(connection, config.FEEDLOOP_QUEUE_PREFIX, (err) =>
      log.warn({ err }, 'could not publish a loop event'),
    ),
    datasetBuilds: datasetBuilds.build,
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
  // implicit_events' monthly partitions: months ahead created, months past the retention dropped.
  // Every worker process does it (idempotent; a DROP that lost the race finds nothing to drop).
  const maintainPartitions = () =>
    maintainEventPartitions(db.pool, { retentionMonths: config.FEEDLOOP_EVENT_RETENTION_MONTHS }).then(
      ({ created, dropped }) => {
        if (created.length || dropped.length) log.info({ created, dropped }, 'event partitions maintained');
      },
      (err: unknown) => log.warn({ err }, 'event partition maintenance failed; retrying in an hour'),
    );
  await maintainPartitions();
  const partitionTimer = setInterval(maintainPartitions, PARTITION_MAINTENANCE_MS).unref();
  const rollupTimer = setInterval(() => {
    compactFeedbackRollup(db.pool)
      .then(() => compactAnswerMetrics(db.pool))
      .catch((err: unknown) =>
        log.warn({ err }, 'folding the insights rollups failed; retrying in a minute'),
      );
  }, ROLLUP_COMPACTION_MS).unref();
  log.info({ queues: workers.map((w) => w.name), prefix: config.FEEDLOOP_QUEUE_PREFIX }, 'workers started');

  let closing: Promise<void> | null = null;
  return {
    workers,
    context,
    close() {
      closing ??= (async () => {
        shutdown.abort();
        clearInterval(partitionTimer);
        clearInterval(rollupTimer);
        await reconciler.close();
        for (const worker of workers) worker.cancelAllJobs('shutdown');
        await Promise.all(workers.map((w) => w.close()));
        await datasetBuilds.close();
        await queues.close();
        await connection.quit().catch(() => connection.disconnect());
        await db.close();
        log.info('workers closed');
      })();
      return closing;
    },
  };
}
