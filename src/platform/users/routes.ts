// Account administration (admins) and self-service API keys (everyone signed in).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../auth/plugin.ts';
import { ROLE_GROUPS } from '../auth/principal.ts';
import { recordAudit } from '../audit/audit-log.ts';
import { AppError, notFound } from '../errors/app-error.ts';
import { commonErrors, cursorQuery, idParams, nextCursor } from '../../contract/http.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import { afterKeyset, decodeCursor, pageOf } from '../pagination.ts';
import {
  apiKeyView,
  createKeyBody,
  listUsersQuery,
  newApiKeyView,
  updateUserBody,
  userView,
} from '../../contract/users.ts';
import { createUser, issueApiKey, listApiKeys, setUserDisabled } from './users.ts';
import { newUserBody } from './schemas.ts';

const tags = ['users'];
const apiKeyList = z.object({ keys: z.array(apiKeyView), nextCursor });

const adminRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.administration));
  const { prisma } = app.db;

  app.post(
    '/v1/users',
    {
      schema: {
        tags,
        body: newUserBody,
        response: { 201: userView, 409: commonErrors[400], ...commonErrors },
      },
    },
    async (request, reply) => {
      const actor = principalOf(request);
      const user = await prisma.$transaction(async (tx) => {
        const created = await createUser(tx, request.body);
        await recordAudit(tx, {
          actorId: actor.userId,
          action: 'user.create',
          target: `user:${created.id}`,
          details: { role: created.role },
        });
        return created;
      });
      return reply.status(201).send(user);
    },
  );

  app.get(
    '/v1/users',
    {
      schema: {
        tags,
        querystring: listUsersQuery,
        response: { 200: z.object({ users: z.array(userView), nextCursor }), ...commonErrors },
      },
    },
    async (request) => {
      const { role, cursor, limit } = request.query;
      const where: Prisma.UserWhereInput[] = [];
      if (role) where.push({ role });
      if (cursor) where.push(afterKeyset(decodeCursor(cursor), 'createdAt', 'asc'));
      const rows = await prisma.user.findMany({
        where: { AND: where },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: limit + 1,
      });
      const page = pageOf(rows, limit, (u) => ({ at: u.createdAt, id: u.id }));
      return { users: page.items, nextCursor: page.nextCursor };
    },
  );

  app.patch(
    '/v1/users/:id',
    {
      schema: { tags, params: idParams, body: updateUserBody, response: { 200: userView, ...commonErrors } },
    },
    async (request) => {
      const actor = principalOf(request);
      const { role, disabled } = request.body;
      if (disabled && request.params.id === actor.userId)
        throw new AppError('conflict', 'An admin cannot disable their own account');
      const user = await prisma.$transaction(async (tx) => {
        const existing = await tx.user.findUnique({ where: { id: request.params.id } });
        if (!existing) throw notFound('User');
        let updated = existing;
        if (role !== undefined && role !== existing.role) {
          updated = await tx.user.update({ where: { id: existing.id }, data: { role } });
          await recordAudit(tx, {
            actorId: actor.userId,
            action: 'user.role',
            target: `user:${existing.id}`,
            details: { from: existing.role, to: updated.role },
          });
        }
        if (disabled !== undefined && disabled !== (existing.disabledAt !== null)) {
          updated = await setUserDisabled(tx, existing.id, disabled);
          await recordAudit(tx, {
            actorId: actor.userId,
            action: disabled ? 'user.disable' : 'user.enable',
            target: `user:${existing.id}`,
          });
        }
        return updated;
      });
      app.credentials.invalidate();
      return user;
    },
  );

  app.post(
    '/v1/users/:id/api-keys',
    {
      schema: {
        tags,
        params: idParams,
        body: createKeyBody,
        response: { 201: newApiKeyView, ...commonErrors },
      },
    },
    async (request, reply) => {
      const actor = principalOf(request);
      const created = await prisma.$transaction(async (tx) => {
        const user = await tx.user.findUnique({ where: { id: request.params.id } });
        if (!user) throw notFound('User');
        const key = await issueApiKey(tx, user.id, request.body.name, app.config.FEEDLOOP_API_KEYS_PER_USER);
        await recordAudit(tx, {
          actorId: actor.userId,
          action: 'api_key.create',
          target: `api_key:${key.id}`,
          details: { userId: user.id },
        });
        return key;
      });
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/v1/users/:id/api-keys',
    {
      schema: {
        tags,
        params: idParams,
        querystring: cursorQuery,
        response: { 200: apiKeyList, ...commonErrors },
      },
    },
    async (request) => listApiKeys(prisma, request.params.id, request.query),
  );
};

const selfServiceRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));
  const { prisma } = app.db;

  app.get(
    '/v1/me/api-keys',
    { schema: { tags, querystring: cursorQuery, response: { 200: apiKeyList, ...commonErrors } } },
    async (request) => listApiKeys(prisma, principalOf(request).userId, request.query),
  );

  app.post(
    '/v1/me/api-keys',
    { schema: { tags, body: createKeyBody, response: { 201: newApiKeyView, ...commonErrors } } },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          await issueApiKey(
            prisma,
            principalOf(request).userId,
            request.body.name,
            app.config.FEEDLOOP_API_KEYS_PER_USER,
          ),
        ),
  );

  // Owners revoke their own keys; admins revoke anyone's.
  app.delete(
    '/v1/api-keys/:id',
    { schema: { tags, params: idParams, response: { 204: z.null(), ...commonErrors } } },
    async (request, reply) => {
      const actor = principalOf(request);
      const key = await prisma.apiKey.findUnique({ where: { id: request.params.id } });
      if (!key || (key.userId !== actor.userId && actor.role !== 'admin')) throw notFound('API key');
      if (key.revokedAt) throw new AppError('conflict', 'This API key is already revoked');
      await prisma.$transaction(async (tx) => {
        await tx.apiKey.update({ where: { id: key.id }, data: { revokedAt: new Date() } });
        await recordAudit(tx, {
          actorId: actor.userId,
          action: 'api_key.revoke',
          target: `api_key:${key.id}`,
        });
      });
      app.credentials.invalidate();
      return reply.status(204).send(null);
    },
  );
};

export const userRoutes: FastifyPluginAsyncZod = async (app) => {
  await app.register(adminRoutes);
  await app.register(selfServiceRoutes);
};
