// `npm start`: the API, plus the loop workers in a child process unless FEEDLOOP_WORKERS=false.
// On a bare machine it first starts Postgres and Redis itself (src/platform/local-services.ts),
// and stops them last.
import { pino } from 'pino';
import { closeOnSignals, loadConfigOrExit, localServicesOrExit } from './platform/process.ts';
import { startApi } from './platform/server.ts';
import { startWorkerProcess } from './platform/worker-process.ts';

const boot = loadConfigOrExit();
const services = await localServicesOrExit(boot, pino({ level: boot.LOG_LEVEL }));
const app = await startApi(services.config).catch(async (err: unknown) => {
  await services.stop();
  throw err;
});
const workers = services.config.FEEDLOOP_WORKERS ? startWorkerProcess(app.log, services.env) : null;
closeOnSignals(async () => {
  try {
    await Promise.all([app.close(), workers?.stop()]);
  } finally {
    await services.stop();
  }
}, app.log);
