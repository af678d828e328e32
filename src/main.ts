// `npm start`: the API, plus the loop workers in a child process unless FEEDLOOP_WORKERS=false.
import { closeOnSignals, loadConfigOrExit } from './platform/process.ts';
import { startApi } from './platform/server.ts';
import { startWorkerProcess } from './platform/worker-process.ts';

const config = loadConfigOrExit();
const app = await startApi(config);
const workers = config.FEEDLOOP_WORKERS ? startWorkerProcess(app.log) : null;
closeOnSignals(async () => {
  await Promise.all([app.close(), workers?.stop()]);
}, app.log);
