// The API process: parse config, migrate, build the app, listen; close gracefully on signals.
import { buildApp } from './app.ts';
import type { Config } from './config.ts';
import { ensureDatabase, migrate } from './db/migrate.ts';
import { ensureAdminKey } from './users/users.ts';
import { ensureBaseModel } from '../promotion/base-model.ts';
import { maintainEventPartitions } from '../feedback/events/partitions.ts';

export async function startApi(config: Config) {
  await ensureDatabase(config.DATABASE_URL);
  const applied = await migrate(config.DATABASE_URL);
  const app = await buildApp({ config });
  if (applied.length) app.log.info({ applied }, 'applied migrations');
  // The workers also drop months past the retention; the API only makes sure months ahead exist.
  await maintainEventPartitions(app.db.pool);
  if (config.FEEDLOOP_ADMIN_KEY) {
    const { outcome } = await ensureAdminKey(app.db.prisma, config.FEEDLOOP_ADMIN_KEY);
    if (outcome === 'created' || outcome === 'present') app.log.info({ outcome }, 'admin key is in place');
    else
      app.log.warn(
        { outcome },
        `FEEDLOOP_ADMIN_KEY was ${outcome === 'revoked' ? 'revoked' : 'disabled with its account'} by an admin and stays so; unset it, or set a new value to make a bootstrap admin again`,
      );
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
