// A feedloop API for a benchmark run: its own scratch database, listening on a free local port,
// with one user and an API key to call it with, and an answer to give feedback on.
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/platform/app.ts';
import { loadConfig } from '../src/platform/config.ts';
import { ensureBaseModel } from '../src/promotion/base-model.ts';
import { createUser, issueApiKey } from '../src/platform/users/users.ts';
import { activateModelVersion, registerUpstreamVersion } from '../src/promotion/model-versions.ts';
import { scratchDatabase } from './scratch-database.ts';

export interface BenchApp {
  app: FastifyInstance;
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  apiKey: string;
  /** An assistant message of the bench user's, for feedback events to name. */
  messageId: string;
  close(): Promise<void>;
}

const MODEL_DIR = fileURLToPath(new URL('../models', import.meta.url));

/**
 * Starts feedloop on a scratch database named after `label`, with `env` over this process's
 * environment. With `baseModel`, the shipped base model is the active version and loaded into
 * the worker threads before the first request; without it no version is active yet.
 */
export async function startBenchApp(
  label: string,
  options: { baseModel: boolean; env?: Record<string, string> },
): Promise<BenchApp> {
  const database = await scratchDatabase(
    process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    label,
  );
  let app: FastifyInstance | null = null;
  try {
    app = await buildApp({
      config: loadConfig({
        ...process.env,
        LOG_LEVEL: 'warn',
        MODEL_DIR,
        FEEDLOOP_RATE_LIMIT_PER_MINUTE: '1000000',
        ...options.env,
        DATABASE_URL: database.url,
      }),
    });
    if (options.baseModel) {
      await ensureBaseModel(app.db.prisma, MODEL_DIR);
      await app.servedModels.warm();
    }
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const user = await createUser(app.db.prisma, { email: `bench-${label}@example.test`, role: 'user' });
    const { key } = await issueApiKey(app.db.prisma, user.id, 'bench');
    const conversation = await app.db.prisma.conversation.create({ data: { userId: user.id } });
    const message = await app.db.prisma.message.create({
      data: { conversationId: conversation.id, role: 'assistant', content: 'An answer to give feedback on.' },
    });
    const started = app;
    return {
      app,
      url,
      apiKey: key,
      messageId: message.id,
      close: async () => {
        await started.close();
        await database.drop();
      },
    };
  } catch (err) {
    await app?.close();
    await database.drop();
    throw err;
  }
}

/**
 * Registers an OpenAI-compatible upstream as a version of the bench's app and makes it the active
 * one, served from the next request on (the app's serving state is read again at once).
 */
export async function serveUpstream(
  bench: BenchApp,
  upstream: { name: string; baseUrl: string; model: string; apiKeyEnv?: string },
): Promise<void> {
  const { prisma } = bench.app.db;
  const version = await registerUpstreamVersion(prisma, { ...upstream, reason: 'bench', actorId: null });
  await activateModelVersion(prisma, { id: version.id, actorId: null, reason: 'bench' });
  bench.app.versionChoice.invalidate();
}
