// Browser sign-in: sign-up (when enabled), password login issuing an httpOnly session cookie,
// logout, and "who am I".
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../errors/app-error.ts';
import { commonErrors } from '../../contract/http.ts';
import { credentialsBody, sessionView, signedInView as signedIn } from '../../contract/users.ts';
import { createUser } from './users.ts';
import { SESSION_COOKIE, principalOf } from '../auth/plugin.ts';
import { servedOverHttps } from '../plugins/security-headers.ts';
import { verifyPassword } from '../auth/passwords.ts';
import { ROLE_GROUPS } from '../auth/principal.ts';
import { hashToken, newSessionToken } from '../auth/tokens.ts';

const tags = ['auth'];

export const sessionRoutes: FastifyPluginAsyncZod = async (app) => {
  const { prisma } = app.db;
  const sessionMs = app.config.FEEDLOOP_SESSION_HOURS * 3_600_000;

  async function startSession(
    userId: string,
    request: import('fastify').FastifyRequest,
    reply: import('fastify').FastifyReply,
  ) {
    const { token, tokenHash } = newSessionToken();
    const expiresAt = new Date(Date.now() + sessionMs);
    await prisma.session.create({ data: { userId, tokenHash, expiresAt } });
    reply.setCookie(SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      // Secure whenever the app is served over HTTPS (FEEDLOOP_TRUST_PROXY for X-Forwarded-Proto).
      secure: servedOverHttps(request),
      expires: expiresAt,
    });
  }

  app.post(
    '/v1/auth/signup',
    {
      schema: {
        tags,
        body: credentialsBody,
        response: { 201: signedIn, 409: commonErrors[400], ...commonErrors },
      },
    },
    async (request, reply) => {
      if (!app.config.FEEDLOOP_SIGNUP)
        throw new AppError('forbidden', 'Sign-up is turned off on this server');
      const user = await createUser(prisma, { ...request.body, role: 'user' });
      await startSession(user.id, request, reply);
      return reply.status(201).send({ user });
    },
  );

  app.post(
    '/v1/auth/login',
    { schema: { tags, body: credentialsBody, response: { 200: signedIn, ...commonErrors } } },
    async (request, reply) => {
      const user = await prisma.user.findUnique({ where: { email: request.body.email } });
      const ok = user?.passwordHash ? await verifyPassword(user.passwordHash, request.body.password) : false;
      if (!user || !ok) throw new AppError('unauthorized', 'Wrong email or password');
      await startSession(user.id, request, reply);
      return { user };
    },
  );

  app.post(
    '/v1/auth/logout',
    { schema: { tags, response: { 204: z.null(), ...commonErrors } } },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      if (token) {
        await prisma.session.deleteMany({ where: { tokenHash: hashToken(token) } });
        app.credentials.invalidate();
      }
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send(null);
    },
  );

  // For a page deciding whether to show its sign-in form: signed out is an answer here, not a 401.
  app.get(
    '/v1/auth/session',
    {
      schema: {
        tags,
        summary: 'The signed-in user, or null when signed out (never a 401)',
        response: { 200: sessionView, ...commonErrors },
      },
    },
    async (request) => {
      if (!request.principal) return { user: null };
      return { user: await prisma.user.findUnique({ where: { id: request.principal.userId } }) };
    },
  );

  app.get(
    '/v1/auth/me',
    {
      onRequest: app.requireRole(...ROLE_GROUPS.anyUser),
      schema: { tags, response: { 200: signedIn, ...commonErrors } },
    },
    async (request) => {
      const user = await prisma.user.findUniqueOrThrow({ where: { id: principalOf(request).userId } });
      return { user };
    },
  );
};
