// `npm run workers`: every loop worker in one process. Started on its own (docker-compose's worker
// service) or as a child of `npm start`. SIGTERM/SIGINT: running jobs are interrupted at a safe
// point (training leaves a checkpoint) and put back in their queue, then workers, queues, Redis and
// the database are closed. Jobs of a worker that died without closing (kill -9, lost machine) are
// found by the other workers' stalled checks once their lock expires, and run again.
import { pino } from 'pino';
import { ensureDatabase, migrate } from '../src/db/migrate.ts';
import { closeOnSignals, loadConfigOrExit } from '../src/server.ts';
import { datasetsWorker } from './datasets.ts';
import { evaluateWorker } from './evaluate.ts';
import { promoteWorker } from './promote.ts';
import { reportWorker } from './report.ts';
import { schedulerWorker } from './scheduler.ts';
import { startWorkers, type WorkerFactory } from './start.ts';
import { trainWorker } from './train.ts';

/** Every loop worker: one per queue. */
export const ALL_WORKERS: readonly WorkerFactory[] = [
  datasetsWorker,
  trainWorker,
  evaluateWorker,
  reportWorker,
  promoteWorker,
  schedulerWorker,
];

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfigOrExit();
  const log = pino({ level: config.LOG_LEVEL });
  await ensureDatabase(config.DATABASE_URL);
  await migrate(config.DATABASE_URL);
  const running = await startWorkers(config, ALL_WORKERS, log);
  closeOnSignals(() => running.close(), log);
}
