// The loop over HTTP for ops and admins: the schedule (read, change, pause, resume), runs (start
// one, list, inspect with progress and logs, cancel) and the live WebSocket. Every change is
// audited with the actor and the reason given.
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { principalOf } from '../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { checkSocketOrigin, guardSocket } from '../platform/auth/socket-guard.ts';
import { commonErrors, errorBody } from '../contract/http.ts';
import type { LoopSchedule } from '../generated/prisma/client.ts';
import { RedisLoopEvents } from './events.ts';
import { startRun } from './pipeline.ts';
import { cancelRun, createCandidateRun, createRun, getRun, getRunDetail, listRuns, runLogs } from './runs.ts';
import { countNewFeedback } from './new-feedback.ts';
import {
  getSchedule,
  nextCronRun,
  scheduleDefaults,
  syncSchedulers,
  updateSchedule,
  type SchedulePatch,
} from './schedule.ts';
import {
  cancelRunBody,
  createRunBody,
  listRunsQuery,
  runLogPage,
  runLogQuery,
  loopClientMessage,
  runDetail,
  runIdParams,
  runList,
  runResponse,
  scheduleActionBody,
  scheduleView,
  datasetOverrides,
  trainingOverrides,
  type LoopEvent,
  type LoopServerMessage,
} from '../contract/loop.ts';
import { schedulePatch } from './schemas.ts';
import { runView } from './views.ts';

const tags = ['loop'];

async function scheduleResponse(
  app: FastifyInstance,
  schedule: LoopSchedule,
): Promise<z.infer<typeof scheduleView>> {
  const { prisma } = app.db;
  const [newApprovedFeedbackSinceLastRun, nextRunAt, updatedBy] = await Promise.all([
    countNewFeedback(prisma, schedule),
    schedule.enabled ? nextCronRun(app.queues) : Promise.resolve(null),
    schedule.updatedById
      ? prisma.user.findUnique({ where: { id: schedule.updatedById }, select: { email: true } })
      : Promise.resolve(null),
  ]);
  return {
    enabled: schedule.enabled,
    cron: schedule.cron,
    feedbackThreshold: schedule.feedbackThreshold,
    training: trainingOverrides.parse(schedule.training),
    datasets: datasetOverrides.parse(schedule.datasets),
    updatedAt: schedule.updatedAt,
    updatedBy: updatedBy?.email ?? null,
    nextRunAt,
    newApprovedFeedbackSinceLastRun,
    lastRunCursor: schedule.lastRunCursor,
  };
}

const opsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.operations));
  const { prisma } = app.db;
  const defaults = scheduleDefaults(app.config);
  const events = new RedisLoopEvents(app.queues.connection, app.config.FEEDLOOP_QUEUE_PREFIX);

  /** Changes the row and the job schedulers together: a cron BullMQ refuses rolls the change back. */
  const changeSchedule = async (actorId: string, action: string, patch: SchedulePatch, reason?: string) => {
    const updated = await prisma.$transaction(async (tx) => {
      const row = await updateSchedule(tx, defaults, { patch, actorId, action, reason });
      await syncSchedulers(app.queues, row, app.config.FEEDLOOP_LOOP_CHECK_MS);
      return row;
    });
    return scheduleResponse(app, updated);
  };

  app.get(
    '/v1/loop/schedule',
    {
      schema: {
        tags,
        summary: 'The loop schedule and how much new feedback counts towards the threshold',
        response: { 200: scheduleView, ...commonErrors },
      },
    },
    async () => scheduleResponse(app, await getSchedule(prisma, defaults)),
  );

  app.put(
    '/v1/loop/schedule',
    {
      schema: {
        tags,
        summary:
          'Change the cron, the feedback threshold, the training or dataset overrides, or whether the loop runs',
        body: schedulePatch,
        response: { 200: scheduleView, ...commonErrors },
      },
    },
    async (request) => {
      const { reason, ...patch } = request.body;
      return changeSchedule(principalOf(request).userId, 'loop.schedule.update', patch, reason);
    },
  );

  app.post(
    '/v1/loop/schedule/pause',
    {
      schema: {
        tags,
        summary: 'Stop starting runs (a run in progress continues)',
        body: scheduleActionBody,
        response: { 200: scheduleView, ...commonErrors },
      },
    },
    async (request) =>
      changeSchedule(
        principalOf(request).userId,
        'loop.schedule.pause',
        { enabled: false },
        request.body?.reason,
      ),
  );

  app.post(
    '/v1/loop/schedule/resume',
    {
      schema: {
        tags,
        summary: 'Start runs on the cron and the feedback threshold again',
        body: scheduleActionBody,
        response: { 200: scheduleView, ...commonErrors },
      },
    },
    async (request) =>
      changeSchedule(
        principalOf(request).userId,
        'loop.schedule.resume',
        { enabled: true },
        request.body?.reason,
      ),
  );

  app.post(
    '/v1/loop/runs',
    {
      schema: {
        tags,
        summary:
          'Start a run now, or with `candidate` evaluate, report and gate an existing candidate version (409 while another run is queued or running)',
        body: createRunBody,
        response: { 202: runResponse, 409: errorBody, ...commonErrors },
      },
    },
    async (request, reply) => {
      const { candidate, reason, training, datasets } = request.body;
      const actorId = principalOf(request).userId;
      const run =
        candidate !== undefined
          ? await createCandidateRun(prisma, { candidate, reason, actorId })
          : await createRun(prisma, defaults, { trigger: 'manual', reason, training, datasets, actorId });
      await startRun({ prisma, queues: app.queues }, run);
      await events.publish({ type: 'run', run: runView(run) });
      return reply.status(202).send({ run: runView(run) });
    },
  );

  app.get(
    '/v1/loop/runs',
    {
      schema: {
        tags,
        summary: 'Runs, newest first',
        querystring: listRunsQuery,
        response: { 200: runList, ...commonErrors },
      },
    },
    async (request) => {
      const page = await listRuns(prisma, request.query);
      return { runs: page.runs.map(runView), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/loop/runs/:id',
    {
      schema: {
        tags,
        summary: 'One run with its progress points (the latest 5000) and its log',
        params: runIdParams,
        response: { 200: runDetail, ...commonErrors },
      },
    },
    async (request) => {
      const detail = await getRunDetail(prisma, request.params.id);
      return { ...detail, run: runView(detail.run) };
    },
  );

  app.get(
    '/v1/loop/runs/:id/logs',
    {
      schema: {
        tags,
        summary: "A page of a run's log, oldest first",
        params: runIdParams,
        querystring: runLogQuery,
        response: { 200: runLogPage, ...commonErrors },
      },
    },
    async (request) => {
      await getRun(prisma, request.params.id);
      return runLogs(prisma, request.params.id, request.query);
    },
  );

  app.post(
    '/v1/loop/runs/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a queued or running run; training stops within about a second',
        params: runIdParams,
        body: cancelRunBody,
        response: { 200: runResponse, 409: errorBody, ...commonErrors },
      },
    },
    async (request) => {
      const run = await cancelRun(
        prisma,
        request.params.id,
        principalOf(request).userId,
        request.body.reason,
      );
      await events.publish({ type: 'run', run: runView(run) });
      return { run: runView(run) };
    },
  );

  // Live progress: {type:'progress', point} and {type:'run', run} frames; a client may send
  // {type:'subscribe', runId} to get one run only ({type:'subscribe'} or unsubscribe: all again).
  // Both directions are the contract's loopClientMessage / loopServerMessage.
  const socketOptions = {
    websocket: true,
    onRequest: checkSocketOrigin,
    schema: { tags, hide: true },
  } as const;
  app.get('/v1/loop/socket', socketOptions, async (socket, request) => {
    // The credential is checked again on a timer and on each subscribe: revoked, logged out or no
    // longer ops, the socket closes (4401/4403).
    const guard = guardSocket(request, socket, ROLE_GROUPS.operations);
    let only: string | null = null;
    // JSON writes each Date as the ISO text the contract's isoDate decodes.
    const send = (message: LoopServerMessage) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
    };
    const relay = (event: LoopEvent) => {
      const runId = event.type === 'run' ? event.run.id : event.point.runId;
      if (!only || runId === only) send(event);
    };
    socket.on('message', (data) => {
      let parsed: z.output<typeof loopClientMessage>;
      try {
        const result = loopClientMessage.safeParse(JSON.parse(String(data)));
        if (!result.success) {
          const issue = result.error.issues[0];
          return send({
            type: 'error',
            error: {
              code: 'validation_failed',
              message: `Invalid ${issue?.path.join('.') || 'message'}: ${issue?.message}`,
            },
          });
        }
        parsed = result.data;
      } catch {
        return send({ type: 'error', error: { code: 'invalid_json', message: 'Messages must be JSON' } });
      }
      const runId = parsed.type === 'subscribe' ? (parsed.runId ?? null) : null;
      guard
        .check()
        .then((principal) => {
          if (!principal) return;
          only = runId;
          send({ type: 'subscribed', runId: only });
        })
        .catch((err: unknown) => {
          request.log.warn({ err }, 'loop socket credential check failed');
          send({ type: 'error', error: { code: 'unavailable', message: 'Try again shortly' } });
        });
    });
    let stop: (() => void) | null = null;
    socket.on('close', () => stop?.());
    try {
      stop = await app.loopEvents.listen(relay);
      if (socket.readyState !== socket.OPEN) stop();
      else send({ type: 'ready' });
    } catch (err) {
      request.log.warn({ err }, 'loop socket could not subscribe to live events');
      socket.close(1011, 'live events unavailable');
    }
  });
};

export const loopRoutes: FastifyPluginAsyncZod = async (app) => {
  await app.register(opsRoutes);
};
