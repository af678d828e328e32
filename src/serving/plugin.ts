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
    const served = new ServedModels(app.db.prisma, app.config.MODEL_DIR, app.config.MODEL_BACKEND, app.log);
    app.decorate('servedModels', served);
    app.addHook('onClose', () => served.close());
  },
  { name: 'served-models', dependencies: ['services'] },
);
