// OpenAPI document generated from the routes' zod schemas, browsable at /docs.
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { ROLE_GROUPS } from '../auth/principal.ts';

export const openApiPlugin = fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'feedloop',
          description: 'Completions, feedback, datasets, training and reports for a chat model.',
          version: '0.1.0',
        },
        components: {
          securitySchemes: {
            apiKey: { type: 'http', scheme: 'bearer', description: 'An API key: fl_...' },
            session: { type: 'apiKey', in: 'cookie', name: 'feedloop_session' },
          },
        },
        security: [{ apiKey: [] }, { session: [] }],
      },
      transform: jsonSchemaTransform,
    });
    // FEEDLOOP_DOCS_PUBLIC=false closes the UI and the document to anonymous callers.
    const uiHooks = app.config.FEEDLOOP_DOCS_PUBLIC
      ? {}
      : { onRequest: app.requireRole(...ROLE_GROUPS.anyUser) };
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { deepLinking: true },
      uiHooks,
      // Swagger UI's own policy (its inline script and style hashes), with framing refused as everywhere.
      staticCSP: true,
      transformStaticCSP: (header) =>
        header
          .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
          .replace(' validator.swagger.io', '')
          .replace(/ upgrade-insecure-requests;?/, ''),
    });
  },
  { name: 'openapi', dependencies: ['auth'] },
);
