// `npm run migrate`: create the database if needed and apply pending migrations.
import { loadConfig } from '../config.ts';
import { ensureDatabase, migrate } from './migrate.ts';

const config = loadConfig();
await ensureDatabase(config.DATABASE_URL);
const applied = await migrate(config.DATABASE_URL);
process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
