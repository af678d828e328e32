// Per-credential (or per-address, when anonymous) request limits, counted in Redis so that every
// API process shares them. When Redis is down the limiter fails and the request gets a 503.
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';

export const rateLimitPlugin = fp(
  async (app) => {
    await app.register(rateLimit, {
      global: true,
      hook: 'preHandler', // after authentication, so the key is known
      max: app.config.FEEDLOOP_RATE_LIMIT_PER_MINUTE,
      timeWindow: 60_000,
      redis: app.redis,
      nameSpace: 'feedloop:ratelimit:',
      skipOnError: false,
      keyGenerator: (request) =>
        request.principal ? `credential:${request.principal.credentialId}` : `ip:${request.ip}`,
      errorResponseBuilder: (_request, context) => ({
        statusCode: 429,
        message: `Rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`,
      }),
    });
  },
  { name: 'rate-limit', dependencies: ['services', 'auth'] },
);
