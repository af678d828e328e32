// Traffic splits over HTTP (ops and admins): set, read and stop the split, compare its versions,
// and open a version to users (so they may name it in requests).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { recordAudit } from '../platform/audit/audit-log.ts';
import { notFound } from '../platform/errors/app-error.ts';
import { commonErrors, errorBody, idParams } from '../contract/http.ts';
import {
  comparisonQuery,
  currentTrafficView,
  endTrafficBody,
  splitComparisonView,
  trafficSplitBody,
  trafficSplitView,
  versionAccessBody,
  versionAccessView,
} from '../contract/traffic.ts';
import { activeModelVersion } from './active-version.ts';
import { currentSplit, setTrafficSplit, splitView, stopTrafficSplit } from './traffic-split.ts';
import { compareSplit } from './split-comparison.ts';

const tags = ['serving'];

export const trafficRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.operations));
  const db = app.db.prisma;

  app.get(
    '/v1/serving/traffic',
    {
      schema: {
        tags,
        summary: 'The current traffic split (null: requests naming no model go to the active version)',
        response: { 200: currentTrafficView, ...commonErrors },
      },
    },
    async () => {
      const [split, active] = await Promise.all([currentSplit(db), activeModelVersion(db)]);
      return { split: split && splitView(split), activeVersion: active?.name ?? null };
    },
  );

  app.put(
    '/v1/serving/traffic',
    {
      schema: {
        tags,
        summary:
          'Share requests naming no model among versions by weight (sticky per user); replaces the current split. Every API process follows within 2 s.',
        body: trafficSplitBody,
        response: { 200: trafficSplitView, ...commonErrors },
      },
    },
    async (request) => {
      const split = await setTrafficSplit(db, { ...request.body, actorId: principalOf(request).userId });
      app.versionChoice.invalidate();
      return splitView(split);
    },
  );

  app.post(
    '/v1/serving/traffic/stop',
    {
      schema: {
        tags,
        summary: 'End the current split: requests naming no model go to the active version again',
        body: endTrafficBody,
        response: { 200: currentTrafficView, 409: errorBody, ...commonErrors },
      },
    },
    async (request) => {
      await stopTrafficSplit(db, { actorId: principalOf(request).userId, reason: request.body.reason });
      app.versionChoice.invalidate();
      const active = await activeModelVersion(db);
      return { split: null, activeVersion: active?.name ?? null };
    },
  );

  app.get(
    '/v1/serving/traffic/comparison',
    {
      schema: {
        tags,
        summary:
          "The current split's versions side by side: rates with 95% intervals, differences from the baseline with a two-proportion test, and the thumbs ratings still needed for the chosen effect",
        querystring: comparisonQuery,
        response: { 200: splitComparisonView, ...commonErrors },
      },
    },
    async (request) => compareSplit(app.db, await currentSplit(db), request.query),
  );

  app.put(
    '/v1/model-versions/:id/access',
    {
      schema: {
        tags,
        summary: 'Open a version to users (they may name it in requests) or close it again; audited',
        params: idParams,
        body: versionAccessBody,
        response: { 200: versionAccessView, ...commonErrors },
      },
    },
    async (request) => {
      const { openToUsers, reason } = request.body;
      const version = await db.$transaction(async (tx) => {
        const found = await tx.modelVersion.findUnique({ where: { id: request.params.id } });
        if (!found) throw notFound('Model version');
        const updated = await tx.modelVersion.update({ where: { id: found.id }, data: { openToUsers } });
        await recordAudit(tx, {
          actorId: principalOf(request).userId,
          action: 'model_version.access',
          target: `model_version:${found.id}`,
          details: { name: found.name, openToUsers, was: found.openToUsers, reason },
        });
        return updated;
      });
      app.versionChoice.invalidate();
      return { name: version.name, openToUsers: version.openToUsers };
    },
  );
};
