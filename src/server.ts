// The API process: parse config, migrate, build the app, listen; close gracefully on signals.
import { buildApp } from './app.ts';
import { loadConfig, ConfigError, type Config } from './config.ts';
import { ensureDatabase, migrate } from './db/migrate.ts';
import { ensureAdminKey } from './users/users.ts';
import { ensureBaseModel } from './models/served-models.ts';

export async function startApi(config: Config) {
  await ensureDatabase(config.DATABASE_URL);
  const applied = await migrate(config.DATABASE_URL);
  const app = await buildApp({ config });
  if (applied.length) app.log.info({ applied }, 'applied migrations');
  if (config.FEEDLOOP_ADMIN_KEY) {
    const { created } = await ensureAdminKey(app.db.prisma, config.FEEDLOOP_ADMIN_KEY);
    app.log.info({ created }, 'admin key is in place');
  }
  const base = await ensureBaseModel(app.db.prisma, config.MODEL_DIR);
  if (base) app.log.info({ version: base.name }, 'registered the shipped base model as the active version');
  const active = await app.servedModels.warm();
  app.log.info(
    { version: active?.name ?? null, backend: (await app.servedModels.modelServer()).backend },
    active ? 'model loaded' : 'no active model version; completions answer 503 until one is activated',
  );
  await app.listen({ port: config.PORT, host: config.HOST });
  return app;
}

/** Exits with a message naming the bad variable instead of a stack trace. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

export function closeOnSignals(close: () => Promise<void>, log: { info(msg: string): void }) {
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      log.info(`${signal}: finishing in-flight work, then exiting`);
      close().then(
        () => process.exit(0),
        (err) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await startApi(loadConfigOrExit());
  closeOnSignals(() => app.close(), app.log);
}
