// Security headers on every response (helmet): a Content-Security-Policy the UI runs under
// with no violations (scripts, styles, fonts and connections from its own origin only; no framing),
// nosniff, no Referer sent off the origin, and HSTS on requests that came over HTTPS (directly, or
// through a trusted proxy's X-Forwarded-Proto: FEEDLOOP_TRUST_PROXY) or when the session cookie is
// always Secure (FEEDLOOP_COOKIE_SECURE). The OpenAPI UI at /docs sets its own, looser policy
// (src/platform/plugins/openapi.ts).
//
// helmet decides the headers; they are the same for every response, so they are asked of it once,
// at start, and each request hands the finished set to Fastify, which writes it with the status
// line. @fastify/helmet rebuilt the middleware on every request (parsing every option, the policy
// included), and running helmet's ten middlewares per request, each calling setHeader on the raw
// response, still took about a tenth of the API's CPU for a single feedback event (bench:ingest).
// A route that takes over the raw response (reply.hijack, the completions' stream) sends
// reply.getHeaders() itself.
import fp from 'fastify-plugin';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';

const HSTS = 'max-age=31536000; includeSubDomains';

/** Whether a response to `request` travels over HTTPS, so the session cookie must be Secure. */
export function servedOverHttps(request: FastifyRequest): boolean {
  return request.server.config.FEEDLOOP_COOKIE_SECURE || request.protocol === 'https';
}

/** The headers a helmet middleware sets (its options are static: no per-request nonce). */
function headersSetBy(
  middleware: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  let failed: unknown;
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (err) => (failed = err));
  if (failed) throw failed;
  return headers;
}

export const securityHeadersPlugin = fp(
  async (app) => {
    const securityHeaders = headersSetBy(
      helmet({
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
      }),
    );
    app.addHook('onRequest', (request, reply, done) => {
      reply.headers(securityHeaders);
      done();
    });
    app.addHook('onSend', async (request, reply) => {
      if (servedOverHttps(request)) reply.header('strict-transport-security', HSTS);
    });
  },
  { name: 'security-headers', dependencies: ['services'] },
);
