// Builds a real app against a fresh database and the real Redis, plus helpers to make users.
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildAppOptions } from '../../src/platform/app.ts';
import { loadConfig, type Config } from '../../src/platform/config.ts';
import { createUser, issueApiKey } from '../../src/platform/users/users.ts';
import type { Role } from '../../src/platform/auth/principal.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestApp {
  app: FastifyInstance;
  database: TestDatabase;
  config: Config;
  close(): Promise<void>;
}

export async function startTestApp(
  env: Record<string, string> = {},
  options: { logger?: BuildAppOptions['logger'] } = {},
): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: database.url,
    FEEDLOOP_RATE_LIMIT_PER_MINUTE: '100000',
    // Tests share Redis and the address 127.0.0.1: the auth limits are tested where they are set low.
    FEEDLOOP_AUTH_FAILURES_PER_MINUTE: '100000',
    FEEDLOOP_LOGIN_PER_MINUTE: '100000',
    FEEDLOOP_LOGIN_FAILURES_PER_ACCOUNT: '100000',
    FEEDLOOP_SIGNUPS_PER_HOUR: '100000',
    ...env,
  });
  const app = await buildApp({ config, logger: options.logger });
  await app.ready();
  return {
    app,
    database,
    config,
    async close() {
      await app.close();
      await database.drop();
    },
  };
}

export interface TestUser {
  id: string;
  email: string;
  role: Role;
  key: string;
  /** Authorization header value. */
  auth: string;
}

let userCounter = 0;

export async function makeUser(
  app: FastifyInstance,
  role: Role = 'user',
  password?: string,
): Promise<TestUser> {
  userCounter += 1;
  const email = `${role}-${userCounter}-${Date.now()}@example.test`;
  const user = await createUser(app.db.prisma, { email, role, password });
  const { key } = await issueApiKey(app.db.prisma, user.id, 'test');
  return { id: user.id, email, role, key, auth: `Bearer ${key}` };
}
