// The browser UIs: the Vite build in web/dist served at `/`. Client-side routes (/chat,
// /moderation, /dashboard/...) get index.html; the API's own prefixes keep their behaviour, so an
// unknown /v1 path is still the JSON 404.
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from './errors/app-error.ts';
import { PACKAGE_ROOT } from './paths.ts';

/** Where `npm run build:web` writes the UI. */
export const WEB_DIST = path.join(PACKAGE_ROOT, 'web', 'dist');

/** Paths that belong to the server, never to the UI's client-side router. */
const SERVER_PREFIXES = ['/v1', '/docs', '/healthz', '/readyz', '/metrics'];

const ownedByServer = (path: string) =>
  SERVER_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));

export interface StaticSiteOptions {
  /** The built UI's folder (web/dist by default). */
  root?: string;
}

const staticSite: FastifyPluginAsync<StaticSiteOptions> = async (app, options) => {
  const root = options.root ?? WEB_DIST;
  const built = existsSync(`${root}/index.html`);
  if (built) {
    // One route per built file, found at start-up; the catch-all below handles everything else.
    await app.register(fastifyStatic, { root, wildcard: false, index: false, maxAge: '1h' });
  } else {
    app.log.warn({ root }, 'the web UI is not built (npm run build:web); / answers 503');
  }

  const serveIndex = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? '/';
    // A missing asset (a file name with an extension) is a 404, not the app shell.
    if (ownedByServer(path) || /\.[a-z0-9]+$/i.test(path)) return reply.callNotFound();
    if (!built) throw new AppError('unavailable', 'The web UI is not built: run `npm run build:web`');
    // index.html names content-hashed assets, so it must never be cached.
    return reply.header('cache-control', 'no-cache').sendFile('index.html', root, { cacheControl: false });
  };
  app.get('/', { schema: { hide: true } }, serveIndex);
  app.get('/*', { schema: { hide: true } }, serveIndex);
};

export const staticSitePlugin = fp(staticSite, { name: 'static-site' });
