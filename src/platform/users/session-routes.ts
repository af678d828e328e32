// Browser sign-in: sign-up (when enabled), password login issuing an httpOnly session cookie,
// logout, and "who am I". Both password routes hash with argon2, so both are limited tightly per
// address (../plugins/rate-limit.ts), and neither reveals whether an email has an account:
// - login answers the same 401 after the same argon2 work for an unknown email, an account without
//   a password and a wrong password, and locks an email (known or not) for 15 minutes after
//   FEEDLOOP_LOGIN_FAILURES_PER_ACCOUNT failures;
// - sign-up always answers 202 with the same message after the same work: when the email was free
//   the account exists and signs in with that password; when it was taken nothing changes (the
//   owner's password stays). feedloop sends no email, so there is no confirmation link: someone who
//   signs up with a taken email finds that signing in fails, as with a wrong password.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../errors/app-error.ts';
import { commonErrors } from '../../contract/http.ts';
import { loginBody, sessionView, signedInView as signedIn, signupAccepted } from '../../contract/users.ts';
import { createUser } from './users.ts';
import { signupBody } from './schemas.ts';
import { SESSION_COOKIE, principalOf } from '../auth/plugin.ts';
import { servedOverHttps } from '../plugins/security-headers.ts';
import { verifyPasswordOrDummy } from '../auth/passwords.ts';
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
        summary: 'Create a user account; the same 202 whether or not the email already had one',
        body: signupBody,
        response: { 202: signupAccepted, ...commonErrors },
      },
    },
    async (request, reply) => {
      if (!app.config.FEEDLOOP_SIGNUP)
        throw new AppError('forbidden', 'Sign-up is turned off on this server');
      await app.limits.consumeSignup(request);
      try {
        await createUser(prisma, { ...request.body, role: 'user' });
      } catch (err) {
        // A taken email: the password was hashed all the same, and the answer does not change.
        if (!(err instanceof AppError && err.code === 'conflict')) throw err;
      }
      return reply.status(202).send({ message: 'If this email was free, its account is ready: sign in.' });
    },
  );

  app.post(
    '/v1/auth/login',
    { schema: { tags, body: loginBody, response: { 200: signedIn, ...commonErrors } } },
    async (request, reply) => {
      const { email, password } = request.body;
      await app.limits.consumeLogin(request);
      await app.limits.checkAccountLock(email);
      const user = await prisma.user.findUnique({ where: { email } });
      const ok = await verifyPasswordOrDummy(user?.passwordHash, password);
      if (!user || !ok || user.disabledAt) {
        await app.limits.recordLoginFailure(email);
        throw new AppError('unauthorized', 'Wrong email or password');
      }
      await app.limits.clearLoginFailures(email);
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
