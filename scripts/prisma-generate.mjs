// Runs `prisma generate`. Generating the client needs no database and no schema engine, but the
// Prisma 7 CLI still looks for the engine binary at start-up and tries to download it when it is
// missing; where no download is possible we point it at a harmless executable. Migrations do not go
// through the CLI here: src/platform/db/migrate.ts applies them (see README, "Migrations").
import { spawnSync } from 'node:child_process';

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) env.PRISMA_SCHEMA_ENGINE_BINARY = '/bin/true';
env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/feedloop';
const result = spawnSync('npx', ['prisma', 'generate'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
