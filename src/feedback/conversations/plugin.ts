// Who may touch which message, for every route of this process: app.messageAccess (cached owners).
import fp from 'fastify-plugin';
import { MessageAccess } from './message-access.ts';

declare module 'fastify' {
  interface FastifyInstance {
    messageAccess: MessageAccess;
  }
}

export const messageAccessPlugin = fp(
  async (app) => {
    app.decorate('messageAccess', new MessageAccess(app.db.prisma));
  },
  { name: 'message-access', dependencies: ['services'] },
);
