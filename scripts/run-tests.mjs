// `npm test [paths...]`: runs every test/**/*.test.ts (or those under the given paths) with node's
// test runner. Node 20's runner does not expand globs itself, hence this file. Like `npm start`, on
// a bare machine it starts Postgres and Redis itself when TEST_DATABASE_URL/DATABASE_URL or
// REDIS_URL are unset and nothing answers on the default ports (src/platform/local-services.ts),
// except for test/unit alone, which needs no services.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { tsImport } from 'tsx/esm/api';

function collect(target) {
  if (statSync(target).isFile()) return [target];
  return readdirSync(target, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) return entry.name === 'helpers' ? [] : collect(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const targets = process.argv.slice(2);
const files = (targets.length ? targets : ['test']).flatMap(collect).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const unitOnly = files.every((file) => path.normalize(file).startsWith(path.join('test', 'unit') + path.sep));
let services = { stop: async () => {} };
const env = { ...process.env };
if (!unitOnly) {
  const { startLocalServices, LocalServiceError } = await tsImport(
    '../src/platform/local-services.ts',
    import.meta.url,
  );
  const log = {
    info: (_obj, msg) => process.stderr.write(`${msg}\n`),
    warn: (_obj, msg) => process.stderr.write(`${msg}\n`),
  };
  const givenDatabase = env.TEST_DATABASE_URL || env.DATABASE_URL || undefined;
  try {
    services = await startLocalServices({
      dataDir: env.FEEDLOOP_DATA_DIR || 'data',
      databaseUrl: givenDatabase,
      redisUrl: env.REDIS_URL || undefined,
      log,
    });
  } catch (err) {
    if (!(err instanceof LocalServiceError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
  if (!givenDatabase) env.DATABASE_URL = services.databaseUrl;
  env.REDIS_URL = services.redisUrl;
}

const concurrency = env.TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
// Ctrl-C reaches the test runner too; wait for it, then stop what was started here.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const status = await new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
await services.stop();
process.exit(status);
