// `npm start`: the API, plus the workers in the same process unless FEEDLOOP_WORKERS=false.
import { closeOnSignals, loadConfigOrExit, startApi } from './server.ts';

const config = loadConfigOrExit();
const app = await startApi(config);
closeOnSignals(() => app.close(), app.log);
