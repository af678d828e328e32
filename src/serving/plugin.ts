// The model-serving service for this API process: app.servedModels, closed with the app.
import fp from 'fastify-plugin';
import { ServedModels } from './served-models.ts';

declare module 'fastify' {
  interface FastifyInstance {
    servedModels: ServedModels;
  }
}

export const servedModelsPlugin = fp(
  async (app) => {
    const { config } = app;
    const served = new ServedModels(app.db.prisma, config.MODEL_DIR, config.MODEL_BACKEND, app.log, {
      connectMs: config.FEEDLOOP_UPSTREAM_CONNECT_TIMEOUT_MS,
      firstTokenMs: config.FEEDLOOP_UPSTREAM_FIRST_TOKEN_TIMEOUT_MS,
      totalMs: config.FEEDLOOP_UPSTREAM_TOTAL_TIMEOUT_MS,
    });
    app.decorate('servedModels', served);
    app.addHook('onClose', () => served.close());
  },
  { name: 'served-models', dependencies: ['services'] },
);
