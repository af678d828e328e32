// The arena over HTTP: start a battle (two versions answer one prompt, unnamed, sides at random),
// read it, vote on it (which names the versions), and the leaderboard.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../../platform/auth/principal.ts';
import { commonErrors, errorBody } from '../../contract/http.ts';
import {
  battleBody,
  battleParams,
  battleView,
  battleVoteBody,
  leaderboardQuery,
  leaderboardView,
} from '../../contract/arena.ts';
import { battleView as viewOf, findBattle, startBattle, voteOnBattle } from './battles.ts';
import { arenaLeaderboard } from './leaderboard.ts';

const tags = ['arena'];

export const arenaRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.anyUser));

  app.post(
    '/v1/arena/battles',
    {
      schema: {
        tags,
        summary:
          'Ask two different versions the same prompt; the answers come back as sides A and B, at random and unnamed until the vote',
        body: battleBody,
        response: { 201: battleView, 409: errorBody, ...commonErrors },
      },
    },
    async (request, reply) => {
      const controller = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) controller.abort();
      });
      const view = await startBattle(app, principalOf(request), request.body, controller.signal);
      return reply.status(201).send(view);
    },
  );

  app.get(
    '/v1/arena/battles/:id',
    {
      schema: {
        tags,
        summary: 'A battle (versions named only once voted)',
        params: battleParams,
        response: { 200: battleView, ...commonErrors },
      },
    },
    async (request) => viewOf(await findBattle(app, principalOf(request), request.params.id)),
  );

  app.post(
    '/v1/arena/battles/:id/vote',
    {
      schema: {
        tags,
        summary: 'Vote A, B, tie or both bad on your battle (once); the answer names both versions',
        params: battleParams,
        body: battleVoteBody,
        response: { 200: battleView, 409: errorBody, ...commonErrors },
      },
    },
    async (request) => voteOnBattle(app, principalOf(request), request.params.id, request.body.choice),
  );

  app.get(
    '/v1/arena/leaderboard',
    {
      schema: {
        tags,
        summary: "Each version's Bradley–Terry rating with a 95% interval, from the voted battles",
        querystring: leaderboardQuery,
        response: { 200: leaderboardView, ...commonErrors },
      },
    },
    async (request) => arenaLeaderboard(app.db.prisma, request.query),
  );
};
