// Which version answers, for this API process: app.versionChoice. Also runs, on timers, the
// reading of the serving state (so requests find it in memory, also after a quiet spell), the
// unloading of idle versions and (when FEEDLOOP_CANARY_GUARD is on) the canary guard.
import fp from 'fastify-plugin';
import { REFRESH_MS, VersionChoice } from './version-choice.ts';
import { checkCanaryGuard } from './canary-guard.ts';

declare module 'fastify' {
  interface FastifyInstance {
    versionChoice: VersionChoice;
  }
}

export const versionChoicePlugin = fp(
  async (app) => {
    const { config } = app;
    const choice = new VersionChoice(app.db.prisma, app.servedModels, {
      idleUnloadMs: config.FEEDLOOP_MODEL_IDLE_UNLOAD_MS,
      log: app.log,
      pool: app.db.pool,
    });
    app.decorate('versionChoice', choice);

    const timers: NodeJS.Timeout[] = [];
    // Each sweep waits for the last one: a slow database never stacks them up.
    const every = (ms: number, what: string, fn: () => Promise<unknown>) => {
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        fn()
          .catch((err: unknown) => app.log.warn({ err }, `${what} failed; trying again later`))
          .finally(() => {
            running = false;
          });
      }, ms);
      timer.unref();
      timers.push(timer);
    };
    // A quarter of REFRESH_MS: a new read starts soon after the snapshot turns REFRESH_MS old, well
    // before MAX_STALE_MS, when requests would wait for it.
    every(REFRESH_MS / 4, 'reading the serving state', () => choice.keepFresh());
    if (config.FEEDLOOP_MODEL_IDLE_UNLOAD_MS > 0) {
      every(
        Math.max(1000, Math.min(60_000, Math.floor(config.FEEDLOOP_MODEL_IDLE_UNLOAD_MS / 4))),
        'unloading idle model versions',
        () => choice.unloadIdle(),
      );
    }
    if (config.FEEDLOOP_CANARY_GUARD) {
      every(config.FEEDLOOP_CANARY_GUARD_CHECK_MS, 'the canary guard', async () => {
        const verdict = await checkCanaryGuard(app.db, {
          minSample: config.FEEDLOOP_CANARY_GUARD_MIN_SAMPLE,
        });
        if (verdict.stopped) {
          choice.invalidate();
          app.log.warn({ verdict }, 'the canary guard stopped the traffic split');
        }
      });
    }
    app.addHook('onClose', async () => {
      for (const timer of timers) clearInterval(timer);
    });
  },
  { name: 'version-choice', dependencies: ['services', 'served-models'] },
);
