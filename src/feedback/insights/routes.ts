// Ops insights over HTTP: feedback volume over time and per-version online metrics with 95%
// intervals, for the dashboard.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ROLE_GROUPS } from '../../platform/auth/principal.ts';
import { commonErrors } from '../../contract/http.ts';
import { feedbackVolume, versionMetrics, type Window } from './queries.ts';
import { metricsView, volumeView, windowQuery } from '../../contract/insights.ts';

const tags = ['insights'];
const DAY_MS = 86_400_000;

/** The last `days` UTC days, today included: whole days, as the volume rollup counts them. */
function windowOf(days: number): Window {
  const to = new Date();
  const today = Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate());
  return { from: new Date(today - (days - 1) * DAY_MS), to };
}

export const insightRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.operations));
  const { pool, prisma } = app.db;

  app.get(
    '/v1/insights/volume',
    {
      schema: {
        tags,
        summary: 'Feedback received per UTC day, by kind and by the model version of the answer',
        querystring: windowQuery,
        response: { 200: volumeView, ...commonErrors },
      },
    },
    async (request) => {
      const window = windowOf(request.query.days);
      const points = await feedbackVolume(pool, window);
      const ids = [...new Set(points.map((p) => p.modelVersionId).filter((id) => id !== null))];
      const versions = await prisma.modelVersion.findMany({
        where: { id: { in: ids } },
        select: { id: true, name: true, status: true },
        orderBy: { createdAt: 'asc' },
      });
      return { ...window, points, versions };
    },
  );

  app.get(
    '/v1/insights/metrics',
    {
      schema: {
        tags,
        summary:
          'Per model version: thumbs-up rate, mean stars, correction, regenerate and copy rates, each with a 95% interval',
        querystring: windowQuery,
        response: { 200: metricsView, ...commonErrors },
      },
    },
    async (request) => {
      const window = windowOf(request.query.days);
      return { ...window, versions: await versionMetrics(pool, window) };
    },
  );
};
