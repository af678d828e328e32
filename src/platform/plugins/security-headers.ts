// Security headers on every response (helmet): a Content-Security-Policy the UI runs under
// with no violations (scripts, styles, fonts and connections from its own origin only; no framing),
// nosniff, no Referer sent off the origin, and HSTS on requests that came over HTTPS (directly, or
// through a trusted proxy's X-Forwarded-Proto: FEEDLOOP_TRUST_PROXY) or when the session cookie is
// always Secure (FEEDLOOP_COOKIE_SECURE). The OpenAPI UI at /docs sets its own, looser policy
// (src/platform/plugins/openapi.ts).
//
// helmet's middleware is built once: @fastify/helmet built it anew on every request (parsing every
// option, the policy included), work each completion and each feedback event paid before its
// first byte.
import fp from 'fastify-plugin';
import helmet from 'helmet';
import type { FastifyRequest } from 'fastify';

const HSTS = 'max-age=31536000; includeSubDomains';

/** Whether a response to `request` travels over HTTPS, so the session cookie must be Secure. */
export function servedOverHttps(request: FastifyRequest): boolean {
  return request.server.config.FEEDLOOP_COOKIE_SECURE || request.protocol === 'https';
}

export const securityHeadersPlugin = fp(
  async (app) => {
    const setSecurityHeaders = helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          baseUri: ["'self'"],
          connectSrc: ["'self'"],
          fontSrc: ["'self'", 'data:'],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          imgSrc: ["'self'", 'data:'],
          objectSrc: ["'none'"],
          scriptSrc: ["'self'"],
          scriptSrcAttr: ["'none'"],
          styleSrc: ["'self'"],
        },
      },
      // frame-ancestors is the modern form; X-Frame-Options for older browsers.
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
      // Sent below, only where it means something (a response over HTTPS).
      strictTransportSecurity: false,
      // The UI loads nothing cross-origin; COEP would only get in the way of API clients.
      crossOriginEmbedderPolicy: false,
    });
    app.addHook('onRequest', (request, reply, done) => {
      setSecurityHeaders(request.raw, reply.raw, (err) => done(err as Error | undefined));
    });
    app.addHook('onSend', async (request, reply) => {
      if (servedOverHttps(request)) reply.header('strict-transport-security', HSTS);
    });
  },
  { name: 'security-headers', dependencies: ['services'] },
);
