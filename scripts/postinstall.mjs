// `npm install` / `npm ci` hook: generate the Prisma client, then build the web UI into web/dist so
// `npm install && npm start` serves it. A Docker layer that installs before copying web/ skips the
// build (the Dockerfile builds after copying the sources).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const run = (args) => spawnSync('npm', ['run', ...args], { stdio: 'inherit' }).status ?? 1;

let status = run(['generate']);
if (status === 0) {
  if (existsSync(new URL('../web/index.html', import.meta.url))) status = run(['build:web']);
  else console.error('web/ is not here yet: skipping the UI build (run `npm run build:web` later)');
}
process.exit(status);
