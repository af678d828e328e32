// buildApp: the Fastify application. Plugins first (errors, validation, services, metrics, auth,
// rate limits, OpenAPI), then one route plugin per domain. Tests build their own app with it.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import websocket from '@fastify/websocket';
import { Redis } from 'ioredis';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { trustProxyOption, type Config } from './config.ts';
import { createDatabase, databaseTimeouts, type Database } from './db/client.ts';
import { registerErrorHandling, toErrorBody } from './errors/error-handler.ts';
import { registerInputChecks } from './errors/input-text.ts';
import { servicesPlugin } from './plugins/services.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { securityHeadersPlugin } from './plugins/security-headers.ts';
import { rateLimitPlugin } from './plugins/rate-limit.ts';
import { openApiPlugin } from './plugins/openapi.ts';
import { authPlugin } from './auth/plugin.ts';
import { sessionRoutes } from './users/session-routes.ts';
import { userRoutes } from './users/routes.ts';
import { healthRoutes } from './health.ts';
import { messageAccessPlugin } from '../feedback/conversations/plugin.ts';
import { servedModelsPlugin } from '../serving/plugin.ts';
import { completionRoutes } from '../serving/completion-routes.ts';
import { chatSocketRoutes } from '../serving/chat-socket.ts';
import { versionChoicePlugin } from '../serving/version-choice-plugin.ts';
import { trafficRoutes } from '../serving/traffic-routes.ts';
import { arenaRoutes } from '../serving/arena/routes.ts';
import { chatRoutes } from '../feedback/conversations/routes.ts';
import { feedbackRoutes } from '../feedback/explicit/routes.ts';
import { moderationRoutes } from '../feedback/moderation/routes.ts';
import { annotationRoutes } from '../feedback/annotation/routes.ts';
import { modelRoutes } from '../promotion/routes.ts';
import { datasetRoutes } from '../datasets/routes.ts';
import { datasetBuildsPlugin } from '../datasets/build-thread.ts';
import { eventsPlugin } from '../feedback/events/plugin.ts';
import { queuesPlugin } from '../loop/queues-plugin.ts';
import { loopRoutes } from '../loop/routes.ts';
import { jobRoutes } from '../loop/queue-routes.ts';
import { evaluationReportRoutes } from '../evaluation/routes.ts';
import { auditRoutes } from './audit/routes.ts';
import { insightRoutes } from '../feedback/insights/routes.ts';
import { staticSitePlugin } from './static-site.ts';

export interface BuildAppOptions {
  config: Config;
  /** Reuse an existing database handle (the caller closes it); otherwise one is made from config. */
  db?: Database;
  /** Reuse an existing Redis connection (the caller closes it); otherwise one is made from config. */
  redis?: Redis;
  logger?: FastifyServerOptions['logger'];
}

/** A Redis connection for HTTP handlers: with no offline queue, a request fails fast when Redis is down. */
export function createHttpRedis(url: string): Redis {
  // Auto-pipelining sends the commands of concurrent requests (rate-limit counters) together.
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: true,
  });
  redis.on('error', () => {}); // reconnects on its own; failed commands surface as 503s
  return redis;
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const serverOptions: FastifyServerOptions = {
    logger: options.logger ?? { level: config.LOG_LEVEL },
    bodyLimit: config.FEEDLOOP_BODY_LIMIT,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    return503OnClosing: true,
    // request.protocol and request.ip believe X-Forwarded-* only from these proxies.
    trustProxy: trustProxyOption(config.FEEDLOOP_TRUST_PROXY),
    // Errors raised before routing (a URL that is not valid percent-encoding) in the one error shape.
    frameworkErrors: (error, request, reply) => {
      const { status, body } = toErrorBody(error);
      request.log.info({ code: body.error.code, status }, body.error.message);
      void (reply as FastifyReply).status(status).send(body);
    },
  };
  const app = Fastify(serverOptions).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  registerInputChecks(app);

  await app.register(servicesPlugin, {
    config,
    db:
      options.db ??
      createDatabase(config.DATABASE_URL, {
        poolSize: config.FEEDLOOP_DB_POOL_SIZE,
        // As many as the event writer has statements in flight: it never waits for a connection.
        eventPoolSize: config.FEEDLOOP_EVENT_FLUSHES,
        timeouts: databaseTimeouts(config),
      }),
    redis: options.redis ?? createHttpRedis(config.REDIS_URL),
    owned: !options.db && !options.redis,
  });
  await app.register(securityHeadersPlugin);
  // Limits before auth: auth counts failed credentials per address.
  await app.register(rateLimitPlugin);
  await app.register(authPlugin);
  // After auth: /metrics can be closed to anonymous callers (FEEDLOOP_METRICS_PUBLIC=false).
  await app.register(metricsPlugin);
  await app.register(openApiPlugin);
  // A frame is capped like an HTTP body (a larger one closes the socket with 1009).
  await app.register(websocket, { options: { maxPayload: config.FEEDLOOP_BODY_LIMIT } });
  await app.register(messageAccessPlugin);
  await app.register(servedModelsPlugin);
  await app.register(versionChoicePlugin);
  await app.register(queuesPlugin);
  await app.register(datasetBuildsPlugin);

  await app.register(healthRoutes);
  await app.register(sessionRoutes);
  await app.register(userRoutes);
  await app.register(chatRoutes);
  await app.register(feedbackRoutes);
  await app.register(moderationRoutes);
  await app.register(annotationRoutes);
  await app.register(modelRoutes);
  await app.register(datasetRoutes);
  await app.register(completionRoutes);
  await app.register(chatSocketRoutes);
  await app.register(trafficRoutes);
  await app.register(arenaRoutes);
  await app.register(eventsPlugin);
  await app.register(loopRoutes);
  await app.register(jobRoutes);
  await app.register(evaluationReportRoutes);
  await app.register(auditRoutes);
  await app.register(insightRoutes);
  // Last: the UI's catch-all only sees paths no route above claimed.
  await app.register(staticSitePlugin);

  return app;
}
