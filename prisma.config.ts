// Prisma CLI configuration. The runtime connects through @prisma/adapter-pg (src/db/client.ts);
// this file only tells `prisma generate` and `prisma migrate deploy` where things are.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/feedloop' },
});
