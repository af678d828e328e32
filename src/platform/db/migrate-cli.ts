// `npm run migrate`: create the database if needed and apply pending migrations (on a bare machine,
// against the Postgres that `npm start` would start: see src/platform/local-services.ts).
import { pino } from 'pino';
import { loadConfigOrExit, localServicesOrExit } from '../process.ts';
import { ensureDatabase, migrate } from './migrate.ts';

const boot = loadConfigOrExit();
const services = await localServicesOrExit(boot, pino({ level: boot.LOG_LEVEL }), { redis: false });
try {
  await ensureDatabase(services.config.DATABASE_URL);
  const applied = await migrate(services.config.DATABASE_URL);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
} finally {
  await services.stop();
}
