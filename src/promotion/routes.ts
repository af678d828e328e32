// The model-version registry over HTTP: everyone signed in may see which versions exist and which
// one is active; ops and admins register candidates and activate one.
import path from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { scratchDir, sendFolderArchive } from '../platform/archive.ts';
import { principalOf } from '../platform/auth/plugin.ts';
import { AppError } from '../platform/errors/app-error.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { commonErrors, errorBody, idParams } from '../contract/http.ts';
import {
  activateModelVersion,
  assertLoadableModelFolder,
  listModelVersions,
  registerModelVersion,
  registerUpstreamVersion,
  rejectModelVersion,
  rollbackModelVersion,
  versionView,
} from './model-versions.ts';
import {
  exportModelVersion,
  findVersion,
  FLOATS_OF_DTYPE,
  importModelVersion,
  resolveIncoming,
} from './hf-models.ts';
import {
  activateModelBody,
  activationView,
  exportModelQuery,
  importModelBody,
  listModelsQuery,
  modelVersionPage,
  modelVersionView,
  registerModelBody,
  registerUpstreamBody,
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
    async (request) => {
      const page = await listModelVersions(app.db.prisma, request.query);
      return { ...page, modelVersions: page.modelVersions.map(versionView) };
    },
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
      const taken = await app.db.prisma.modelVersion.findUnique({ where: { name: request.body.name } });
      if (taken) throw new AppError('conflict', `A model version named ${request.body.name} exists`);
      assertLoadableModelFolder(app.config.MODEL_DIR, request.body.path);
      const version = await registerModelVersion(app.db.prisma, {
        ...request.body,
        actorId: principalOf(request).userId,
      });
      return reply.status(201).send(versionView(version));
    },
  );

  app.post(
    '/v1/model-versions/upstream',
    {
      schema: {
        tags,
        summary:
          'Register a model of an OpenAI-compatible server (vLLM, Ollama, a hosted API) as a candidate; the API key stays in the environment variable apiKeyEnv names',
        body: registerUpstreamBody,
        response: { 201: modelVersionView, 409: errorBody, ...commonErrors },
      },
    },
    async (request, reply) => {
      const version = await registerUpstreamVersion(app.db.prisma, {
        ...request.body,
        actorId: principalOf(request).userId,
      });
      request.log.info(
        { modelVersionId: version.id, baseUrl: version.baseUrl, model: version.upstreamModel },
        'upstream model version registered',
      );
      return reply.status(201).send(versionView(version));
    },
  );

  app.post(
    '/v1/model-versions/import',
    {
      schema: {
        tags,
        summary:
          'Import a GPT-2-family Hugging Face folder from MODEL_DIR/incoming as a candidate (400 naming the field feedloop cannot reproduce)',
        body: importModelBody,
        response: { 201: modelVersionView, 409: errorBody, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { from, name, reason } = request.body;
      const { dir, root } = await resolveIncoming(app.config.MODEL_DIR, from);
      const version = await importModelVersion(app.db.prisma, {
        modelDir: app.config.MODEL_DIR,
        source: dir,
        confineTo: root,
        from,
        name,
        reason,
        actorId: principalOf(request).userId,
      });
      request.log.info({ modelVersionId: version.id, from }, 'model imported');
      return reply.status(201).send(versionView(version));
    },
  );

  app.get(
    '/v1/model-versions/:id/export',
    {
      schema: {
        tags,
        summary:
          'The version as a Hugging Face folder (.tar.gz with Content-Length): config.json, model.safetensors, tokenizer files, generation_config.json, model card',
        params: idParams,
        querystring: exportModelQuery,
        response: { 200: z.any(), ...commonErrors },
      },
    },
    async (request, reply) => {
      const version = await findVersion(app.db.prisma, request.params.id);
      const scratch = await scratchDir('export');
      try {
        const folder = path.join(scratch.dir, version.name);
        await exportModelVersion(app.db.prisma, {
          modelDir: app.config.MODEL_DIR,
          version,
          outDir: folder,
          floats: FLOATS_OF_DTYPE[request.query.dtype],
        });
        // Weights barely compress: the fastest level keeps the wait short.
        return await sendFolderArchive(reply, folder, {
          root: version.name,
          archive: path.join(scratch.dir, `${version.name}.tar.gz`),
          level: 1,
          cleanup: scratch.cleanup,
        });
      } catch (err) {
        await scratch.cleanup();
        throw err;
      }
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
    async (request) => {
      const { active, retired } = await activateModelVersion(app.db.prisma, {
        id: request.params.id,
        actorId: principalOf(request).userId,
        reason: request.body.reason,
      });
      app.versionChoice.invalidate();
      return { active: versionView(active), retired: retired && versionView(retired) };
    },
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
      app.versionChoice.invalidate();
      return { version: versionView(active) };
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
      app.versionChoice.invalidate();
      return { version: versionView(active) };
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
    async (request) => {
      const rejected = await rejectModelVersion(app.db.prisma, {
        id: request.params.id,
        actorId: principalOf(request).userId,
        reason: request.body.reason,
      });
      app.versionChoice.invalidate();
      return { version: versionView(rejected) };
    },
  );
};

export const modelRoutes: FastifyPluginAsyncZod = async (app) => {
  await app.register(readRoutes);
  await app.register(writeRoutes);
};
