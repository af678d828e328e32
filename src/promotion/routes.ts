// The model-version registry over HTTP: everyone signed in may see which versions exist and which
// one is active; ops and admins register candidates and activate one.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { commonErrors, errorBody, idParams } from '../contract/http.ts';
import {
  activateModelVersion,
  listModelVersions,
  registerModelVersion,
  rejectModelVersion,
  rollbackModelVersion,
} from './model-versions.ts';
import {
  activateModelBody,
  activationView,
  listModelsQuery,
  modelVersionPage,
  modelVersionView,
  registerModelBody,
  versionResponse,
} from '../contract/model-versions.ts';

const tags = ['models'];

const readRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));

  app.get(
    '/v1/model-versions',
    {
      schema: {
        tags,
        summary: 'Registered model versions, newest first',
        querystring: listModelsQuery,
        response: { 200: modelVersionPage, ...commonErrors },
      },
    },
    async (request) => listModelVersions(app.db.prisma, request.query),
  );
};

const writeRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.operations));

  app.post(
    '/v1/model-versions',
    {
      schema: {
        tags,
        summary: 'Register a set of weights under MODEL_DIR as a candidate',
        body: registerModelBody,
        response: { 201: modelVersionView, 409: errorBody, ...commonErrors },
      },
    },
    async (request, reply) => {
      const version = await registerModelVersion(app.db.prisma, {
        ...request.body,
        actorId: principalOf(request).userId,
      });
      return reply.status(201).send(version);
    },
  );

  app.post(
    '/v1/model-versions/:id/activate',
    {
      schema: {
        tags,
        summary: 'Make this version the only active one; the previously active one is retired',
        params: idParams,
        body: activateModelBody,
        response: { 200: activationView, 409: errorBody, ...commonErrors },
      },
    },
    async (request) =>
      activateModelVersion(app.db.prisma, {
        id: request.params.id,
        actorId: principalOf(request).userId,
        reason: request.body.reason,
      }),
  );

  // Registered before /:id/promote so "rollback" is never read as an id.
  app.post(
    '/v1/model-versions/rollback',
    {
      schema: {
        tags,
        summary: 'Re-activate the version that was active before the current one',
        body: activateModelBody,
        response: { 200: versionResponse, 409: errorBody, ...commonErrors },
      },
    },
    async (request) => {
      const { active } = await rollbackModelVersion(app.db.prisma, {
        actorId: principalOf(request).userId,
        reason: request.body.reason,
      });
      return { version: active };
    },
  );

  app.post(
    '/v1/model-versions/:id/promote',
    {
      schema: {
        tags,
        summary: 'Promote a candidate over the gate: it becomes the active version (409 unless a candidate)',
        params: idParams,
        body: activateModelBody,
        response: { 200: versionResponse, 409: errorBody, ...commonErrors },
      },
    },
    async (request) => {
      const { active } = await activateModelVersion(app.db.prisma, {
        id: request.params.id,
        actorId: principalOf(request).userId,
        reason: request.body.reason,
        action: 'model_version.promote',
        from: ['candidate'],
      });
      return { version: active };
    },
  );

  app.post(
    '/v1/model-versions/:id/reject',
    {
      schema: {
        tags,
        summary: 'Reject a candidate: it can no longer be activated (409 unless a candidate)',
        params: idParams,
        body: activateModelBody,
        response: { 200: versionResponse, 409: errorBody, ...commonErrors },
      },
    },
    async (request) => ({
      version: await rejectModelVersion(app.db.prisma, {
        id: request.params.id,
        actorId: principalOf(request).userId,
        reason: request.body.reason,
      }),
    }),
  );
};

export const modelRoutes: FastifyPluginAsyncZod = async (app) => {
  await app.register(readRoutes);
  await app.register(writeRoutes);
};
