// `npm run workers`: one worker per job of the catalog (src/loop/jobs/worker-catalog.ts), in one
// process. Started on its own (docker-compose's worker service) or as a child of `npm start`.
// SIGTERM/SIGINT: running jobs are interrupted at a safe point (training leaves a checkpoint) and
// put back in their queue, then workers, queues, Redis and the database are closed. Jobs of a
// worker that died without closing (kill -9, lost machine) are found by the other workers' stalled
// checks once their lock expires, and run again.
import { writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { ensureDatabase, migrate } from '../src/platform/db/migrate.ts';
import { closeOnSignals, loadConfigOrExit, localServicesOrExit } from '../src/platform/process.ts';
import { ALL_WORKERS } from '../src/loop/jobs/worker-catalog.ts';
import { startWorkers } from '../src/loop/start-workers.ts';

const boot = loadConfigOrExit();
const log = pino({ level: boot.LOG_LEVEL });
// A child of `npm start` gets the URLs in its environment; run alone on a bare machine, it finds or
// starts Postgres and Redis as the API does.
const services = await localServicesOrExit(boot, log);
const { config } = services;
const running = await (async () => {
  await ensureDatabase(config.DATABASE_URL);
  await migrate(config.DATABASE_URL);
  return startWorkers(config, ALL_WORKERS, log);
})().catch(async (err: unknown) => {
  await services.stop();
  throw err;
});
// The container health check (docker-compose.yml) reads the file's age: it stops moving when the
// event loop is stuck, which is also when the workers' job locks stop being renewed.
const heartbeat = config.FEEDLOOP_HEARTBEAT_FILE;
const beat = () => heartbeat && writeFile(heartbeat, `${new Date().toISOString()}\n`).catch(() => {});
void beat();
const heartbeatTimer = heartbeat ? setInterval(beat, 10_000).unref() : undefined;
closeOnSignals(async () => {
  clearInterval(heartbeatTimer);
  try {
    await running.close();
  } finally {
    await services.stop();
  }
}, log);
