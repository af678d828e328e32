// `npm run workers`: one worker per job of the catalog (src/loop/jobs/worker-catalog.ts), in one
// process. Started on its own (docker-compose's worker service) or as a child of `npm start`.
// SIGTERM/SIGINT: running jobs are interrupted at a safe point (training leaves a checkpoint) and
// put back in their queue, then workers, queues, Redis and the database are closed. Jobs of a
// worker that died without closing (kill -9, lost machine) are found by the other workers' stalled
// checks once their lock expires, and run again.
import { pino } from 'pino';
import { ensureDatabase, migrate } from '../src/platform/db/migrate.ts';
import { closeOnSignals, loadConfigOrExit } from '../src/platform/process.ts';
import { ALL_WORKERS } from '../src/loop/jobs/worker-catalog.ts';
import { startWorkers } from '../src/loop/start-workers.ts';

const config = loadConfigOrExit();
const log = pino({ level: config.LOG_LEVEL });
await ensureDatabase(config.DATABASE_URL);
await migrate(config.DATABASE_URL);
const running = await startWorkers(config, ALL_WORKERS, log);
closeOnSignals(() => running.close(), log);
