// Authentication: every request carrying a Bearer API key or the session cookie gets
// request.principal; bad credentials are a 401 at once. Route groups then call
// `app.requireRole(...)` as an onRequest hook.
//
// A request with an API key is refused (429) while its address has failed authentication too
// often. Before a key is looked up, that check is waited for. A key this process already holds as
// valid needs no lookup: its request goes on (body, validation) and the check is made before the
// handler, in the same Redis round trip as the request's rate limit (../plugins/rate-limit.ts), so
// a completion's first token waits for one round trip, not two.
import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { AppError } from '../errors/app-error.ts';
import { CredentialResolver } from './credentials.ts';
import type { Principal, Role } from './principal.ts';

export const SESSION_COOKIE = 'feedloop_session';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    credentials: CredentialResolver;
    requireRole(...roles: readonly Role[]): onRequestHookHandler;
  }
}

/** The principal of a request that passed requireRole. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('unauthorized', 'Sign in or send an API key');
  return request.principal;
}

export const authPlugin = fp(
  async (app) => {
    await app.register(cookie);
    const credentials = new CredentialResolver(app.db.prisma);
    app.decorate('credentials', credentials);
    app.decorateRequest('principal', null);

    app.addHook('onRequest', async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      if (header !== undefined) {
        const match = /^Bearer\s+(\S+)$/i.exec(header);
        const known = match?.[1] ? credentials.knownApiKey(match[1]) : undefined;
        if (known) {
          app.limits.deferAuthFailureCheck(request);
          request.principal = known;
          return;
        }
        // An address that keeps sending bad credentials is refused before its next one is looked up.
        await app.limits.checkAuthFailures(request);
        const principal = match?.[1] ? await credentials.fromApiKey(match[1]) : null;
        if (!principal) {
          await app.limits.recordAuthFailure(request);
          throw new AppError(
            'unauthorized',
            match?.[1] ? 'Unknown or revoked API key' : 'Authorization must be "Bearer <api key>"',
          );
        }
        request.principal = principal;
        return;
      }
      const token = request.cookies[SESSION_COOKIE];
      if (token) {
        // An expired or unknown cookie is not an error: the request is simply anonymous.
        request.principal = await credentials.fromSessionToken(token);
      }
    });

    app.decorate('requireRole', (...roles: readonly Role[]) => {
      return async (request: FastifyRequest, _reply: FastifyReply) => {
        if (!request.principal) throw new AppError('unauthorized', 'Sign in or send an API key');
        if (!roles.includes(request.principal.role)) {
          throw new AppError('forbidden', `This needs one of the roles: ${roles.join(', ')}`);
        }
      };
    });
  },
  { name: 'auth', dependencies: ['services', 'rate-limit'] },
);
