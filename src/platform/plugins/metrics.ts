// Prometheus metrics: one registry per app (so tests can build many apps), request counts and
// latencies for every route, and the counters domains register (events ingested by type, ...).
import fp from 'fastify-plugin';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ROLE_GROUPS } from '../auth/principal.ts';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics;
  }
}

export interface AppMetrics {
  registry: Registry;
  eventsIngested: Counter<'type'>;
}

export const metricsPlugin = fp(
  async (app) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const requests = new Counter({
      name: 'feedloop_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'feedloop_http_request_duration_seconds',
      help: 'HTTP request latency by method and route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    });
    const eventsIngested = new Counter({
      name: 'feedloop_events_ingested_total',
      help: 'Implicit events stored, by type',
      labelNames: ['type'],
      registers: [registry],
    });
    app.decorate('metrics', { registry, eventsIngested });

    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      requests.inc({ method: request.method, route, status: reply.statusCode });
      latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });

    // Closed to anonymous callers with FEEDLOOP_METRICS_PUBLIC=false: a scraper sends an ops API key.
    const onRequest = app.config.FEEDLOOP_METRICS_PUBLIC ? [] : [app.requireRole(...ROLE_GROUPS.operations)];
    app.get(
      '/metrics',
      { schema: { hide: true }, config: { rateLimit: false }, onRequest },
      async (_request, reply) => {
        reply.header('content-type', registry.contentType);
        return registry.metrics();
      },
    );
  },
  { name: 'metrics', dependencies: ['auth'] },
);
