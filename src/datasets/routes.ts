// Dataset snapshots over HTTP for ops and admins (build, list, inspect, download JSONL), and the
// rater-reliability list moderators use to see whose feedback is down-weighted and why.
import path from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { commonErrors, idParams } from '../contract/http.ts';
import { parseBuildConfig } from '../contract/dataset-build-config.ts';
import { assessRatersStreamed } from '../feedback/raters/rater-stream.ts';
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
import { badCursor } from '../platform/pagination.ts';

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

/** A rater's place in the list: trust ascending, then ratings descending, then user id. */
type RaterKey = [trust: number, ratings: number, userId: string];
const raterOrder = (a: RaterKey, b: RaterKey) =>
  a[0] - b[0] || b[1] - a[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);

/** The raters list's opaque cursor: the last rater's key, base64url JSON. */
const raterCursor = {
  keyOf: (r: { trust: number; ratings: number; userId: string }): RaterKey => [r.trust, r.ratings, r.userId],
  encode: (r: { trust: number; ratings: number; userId: string }) =>
    Buffer.from(JSON.stringify(raterCursor.keyOf(r))).toString('base64url'),
  decode(cursor: string): RaterKey {
    let key: unknown;
    try {
      key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      throw badCursor();
    }
    if (
      !Array.isArray(key) ||
      key.length !== 3 ||
      typeof key[0] !== 'number' ||
      typeof key[1] !== 'number' ||
      typeof key[2] !== 'string'
    )
      throw badCursor();
    return key as RaterKey;
  },
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
        ? await assessRatersStreamed(
            prisma,
            { window: { from: request.query.from, to: new Date() }, events: 'none' },
            parseBuildConfig({}),
          )
        : await currentRaterAssessments(prisma);
      // Least trusted first: that is what a moderator looks for.
      const after = request.query.cursor ? raterCursor.decode(request.query.cursor) : null;
      const ordered = assessed
        .filter((r) => !request.query.status || r.status === request.query.status)
        .filter((r) => !after || raterOrder(raterCursor.keyOf(r), after) > 0)
        .sort((a, b) => raterOrder(raterCursor.keyOf(a), raterCursor.keyOf(b)));
      const page = ordered.slice(0, request.query.limit);
      const users = await prisma.user.findMany({
        where: { id: { in: page.map((r) => r.userId) } },
        select: { id: true, email: true },
      });
      const emails = new Map(users.map((u) => [u.id, u.email]));
      const last = page.at(-1);
      return {
        items: page.map((r) => ({ ...r, email: emails.get(r.userId) ?? null })),
        nextCursor: ordered.length > page.length && last ? raterCursor.encode(last) : null,
      };
    },
  );
};

export const datasetRoutes: FastifyPluginAsyncZod = async (app) => {
  await app.register(raterRoutes);
  await app.register(snapshotRoutes);
};
