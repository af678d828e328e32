// Queue health for ops: counts per queue and the latest failed jobs, and retrying a failed job
// (audited). Retrying a loop stage whose failure had failed its run puts the run back to running.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../platform/auth/plugin.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { recordAudit } from '../platform/audit/audit-log.ts';
import { AppError, notFound } from '../platform/errors/app-error.ts';
import { commonErrors, errorBody } from '../contract/http.ts';
import { queueHealth, retriedView, retryJobBody } from '../contract/queues.ts';
import { QUEUE_NAMES } from './jobs/catalog.ts';
import { runPayload } from './jobs/run-payload.ts';

const tags = ['jobs'];
const FAILED_SHOWN = 20;
// BullMQ 6 keeps a paused queue's jobs in its wait list: they are reported as paused instead.
const FETCHED = ['waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed'] as const;

const retryParams = z.strictObject({
  queue: z.enum(QUEUE_NAMES as [string, ...string[]]),
  jobId: z.string().min(1).max(200),
});

export const jobRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.requireRole(...ROLE_GROUPS.operations));

  app.get(
    '/v1/jobs/queues',
    {
      schema: {
        tags,
        summary: 'Job counts per queue and the latest failed jobs',
        response: { 200: queueHealth, ...commonErrors },
      },
    },
    async () => ({
      queues: await Promise.all(
        app.queues.all().map(async (queue) => {
          const [raw, paused, failed] = await Promise.all([
            queue.getJobCounts(...FETCHED),
            queue.isPaused(),
            queue.getFailed(0, FAILED_SHOWN - 1),
          ]);
          const waiting = (raw.waiting ?? 0) + (raw.prioritized ?? 0);
          return {
            name: queue.name,
            counts: {
              waiting: paused ? 0 : waiting,
              active: raw.active ?? 0,
              completed: raw.completed ?? 0,
              failed: raw.failed ?? 0,
              delayed: raw.delayed ?? 0,
              paused: paused ? waiting : 0,
            },
            failed: failed.map((job) => ({
              id: job.id ?? '',
              name: job.name,
              failedReason: job.failedReason ?? '',
              attemptsMade: job.attemptsMade,
              finishedOn: job.finishedOn ?? null,
              data: job.data,
            })),
          };
        }),
      ),
    }),
  );

  app.post(
    '/v1/jobs/:queue/:jobId/retry',
    {
      schema: {
        tags,
        summary: 'Run a failed job again (409 unless it failed)',
        params: retryParams,
        body: retryJobBody,
        response: { 200: retriedView, 409: errorBody, ...commonErrors },
      },
    },
    async (request) => {
      const { queue: name, jobId } = request.params;
      const job = await app.queues.get(name).getJob(jobId);
      if (!job) throw notFound('Job');
      const state = await job.getState();
      if (state !== 'failed')
        throw new AppError('conflict', `Job ${jobId} is ${state}; only a failed job can be retried`);
      const actorId = principalOf(request).userId;
      const run = runPayload.safeParse(job.data);
      await app.db.prisma.$transaction(async (tx) => {
        if (run.success) {
          // The failure had failed the run; it is running again until this job decides otherwise.
          // Conditional: a run cancelled (or finished) meanwhile is not brought back.
          const { count } = await tx.loopRun.updateMany({
            where: { id: run.data.runId, status: 'failed' },
            data: { status: 'running', error: null, finishedAt: null },
          });
          if (count === 0) {
            const current = await tx.loopRun.findUnique({
              where: { id: run.data.runId },
              select: { status: true },
            });
            if (current?.status === 'cancelled' || current?.status === 'succeeded')
              throw new AppError(
                'conflict',
                `Run ${run.data.runId} is ${current.status}; its stages do not run again`,
              );
          }
          await tx.loopRunLog
            .create({
              data: {
                runId: run.data.runId,
                level: 'info',
                message: `${job.name}: retried by ${principalOf(request).email}`,
              },
            })
            .catch(() => {});
        }
        await recordAudit(tx, {
          actorId,
          action: 'job.retry',
          target: `job:${name}:${jobId}`,
          details: { reason: request.body?.reason ?? null, failedReason: job.failedReason ?? null },
        });
      });
      // After the commit: the worker that picks it up must see the run running again.
      await job.retry('failed');
      return { retried: true as const };
    },
  );
};
