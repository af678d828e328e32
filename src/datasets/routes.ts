// Dataset snapshots over HTTP for ops and admins (build, list, inspect, download JSONL), and the
// rater-reliability list moderators use to see whose feedback is down-weighted and why.
import path from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { commonErrors, idParams } from '../contract/http.ts';
import { parseBuildConfig } from '../contract/dataset-build-config.ts';
import { loadFeedbackRows } from '../feedback/feedback-rows.ts';
import { assessRaters } from '../feedback/raters/raters.ts';
import { currentRaterAssessments } from '../feedback/raters/submitter-trust.ts';
import {
  buildBody,
  buildView,
  datasetDetail,
  datasetPage,
  fileParams,
  fileQuery,
  listDatasetsQuery,
  raterList,
  ratersQuery,
} from '../contract/datasets.ts';
import { buildDatasets, getDataset, listDatasets, openDatasetFile } from './snapshots.ts';
import { exportDatasetFolder } from './hf-export.ts';
import { scratchDir, sendFolderArchive } from '../platform/archive.ts';

const tags = ['datasets'];

const snapshotRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.operations));
  const { prisma } = app.db;

  app.post(
    '/v1/datasets/builds',
    {
      schema: {
        tags,
        summary:
          'Build dataset snapshots from feedback now: 201 with a new snapshot, 200 with the existing one when nothing changed',
        body: buildBody,
        response: { 200: buildView, 201: buildView, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { dataset, created } = await buildDatasets(prisma, request.body.config ?? {}, {
        dataDir: app.config.FEEDLOOP_DATA_DIR,
        actorId: principalOf(request).userId,
        // Off the event loop: a large build takes seconds of CPU that /healthz and ingestion need.
        runner: app.datasetBuilds.build,
      });
      request.log.info({ datasetId: dataset.id, contentHash: dataset.contentHash, created }, 'dataset built');
      return reply.status(created ? 201 : 200).send({ created, dataset });
    },
  );

  app.get(
    '/v1/datasets',
    {
      schema: {
        tags,
        summary: 'Dataset snapshots, newest first',
        querystring: listDatasetsQuery,
        response: { 200: datasetPage, ...commonErrors },
      },
    },
    async (request) => listDatasets(prisma, request.query),
  );

  app.get(
    '/v1/datasets/:id',
    {
      schema: {
        tags,
        summary: 'One snapshot: lineage, sizes by format and source, content hash, config and stats',
        params: idParams,
        response: { 200: datasetDetail, ...commonErrors },
      },
    },
    async (request) => getDataset(prisma, request.params.id),
  );

  app.get(
    '/v1/datasets/:id/export',
    {
      schema: {
        tags,
        summary:
          'The snapshot as a Hugging Face dataset folder (.tar.gz with Content-Length): sft, sft_prompt_completion, preference and kto JSONL per split, and a card whose configs: block load_dataset reads',
        params: idParams,
        response: { 200: z.any(), ...commonErrors },
      },
    },
    async (request, reply) => {
      const dataset = await getDataset(prisma, request.params.id);
      const root = `feedloop-dataset-${dataset.contentHash.slice(0, 12)}`;
      const scratch = await scratchDir('dataset-export');
      try {
        const folder = path.join(scratch.dir, root);
        await exportDatasetFolder(app.config.FEEDLOOP_DATA_DIR, dataset, folder);
        return await sendFolderArchive(reply, folder, {
          root,
          archive: path.join(scratch.dir, `${root}.tar.gz`),
          cleanup: scratch.cleanup,
        });
      } catch (err) {
        await scratch.cleanup();
        throw err;
      }
    },
  );

  app.get(
    '/v1/datasets/:id/:split.jsonl',
    {
      schema: {
        tags,
        summary: 'Download one split of one export (sft, preference or kto) as JSONL in TRL field names',
        params: fileParams,
        querystring: fileQuery,
        response: { 200: z.any(), ...commonErrors },
      },
    },
    async (request, reply) => {
      const dataset = await getDataset(prisma, request.params.id);
      const { split } = request.params;
      const { format } = request.query;
      const stream = await openDatasetFile(app.config.FEEDLOOP_DATA_DIR, dataset, format, split);
      return reply
        .type('application/jsonl; charset=utf-8')
        .header(
          'content-disposition',
          `attachment; filename="${dataset.contentHash.slice(0, 12)}-${format}.${split}.jsonl"`,
        )
        .send(stream);
    },
  );
};

const raterRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook(
    'onRequest',
    app.requireRole(...new Set([...ROLE_GROUPS.moderation, ...ROLE_GROUPS.operations])),
  );

  app.get(
    '/v1/datasets/raters',
    {
      schema: {
        tags,
        summary:
          'Raters with their volume, agreement with consensus and gold answers, trust, and why trust is reduced (default build config)',
        querystring: ratersQuery,
        response: { 200: raterList, ...commonErrors },
      },
    },
    async (request) => {
      const { prisma } = app.db;
      // All feedback: the kept assessment moderation shows too (recomputed when its inputs change).
      const assessed = request.query.from
        ? assessRaters(
            await loadFeedbackRows(prisma, { window: { from: request.query.from, to: new Date() } }),
            parseBuildConfig({}),
          )
        : await currentRaterAssessments(prisma);
      const raters = assessed.filter((r) => !request.query.status || r.status === request.query.status);
      const users = await prisma.user.findMany({
        where: { id: { in: raters.map((r) => r.userId) } },
        select: { id: true, email: true },
      });
      const emails = new Map(users.map((u) => [u.id, u.email]));
      // Least trusted first: that is what a moderator looks for.
      const items = raters
        .map((r) => ({ ...r, email: emails.get(r.userId) ?? null }))
        .sort((a, b) => a.trust - b.trust || b.ratings - a.ratings || (a.userId < b.userId ? -1 : 1));
      return { items };
    },
  );
};

export const datasetRoutes: FastifyPluginAsyncZod = async (app) => {
  await app.register(raterRoutes);
  await app.register(snapshotRoutes);
};
