// The shared services every route and hook may use, attached to the Fastify instance: config,
// database, Redis. Created by buildApp (or handed in by a test) and closed with the app.
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    db: Database;
    redis: Redis;
  }
}

export interface ServicesOptions {
  config: Config;
  db: Database;
  redis: Redis;
  /** Close db and redis when the app closes (false when the caller owns them). */
  owned: boolean;
}

export const servicesPlugin = fp<ServicesOptions>(
  async (app, { config, db, redis, owned }) => {
    app.decorate('config', config);
    app.decorate('db', db);
    app.decorate('redis', redis);
    if (owned) {
      app.addHook('onClose', async () => {
        await db.close();
        redis.disconnect();
      });
    }
  },
  { name: 'services' },
);
