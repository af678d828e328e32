// `npm start` runs the loop workers as a child process (`workers/main.ts`): fine-tuning is
// CPU-bound and would stall the API's event loop if it ran in this process. A child that crashes
// is started again after a pause; on shutdown it gets SIGTERM (it puts running jobs back in their
// queue) and, if it has not exited after the grace period, SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { nodeArgs, siblingModule } from './paths.ts';

// workers/main.ts from the sources, dist/workers/main.js from the build.
const WORKERS_MAIN = siblingModule('../../workers/main.ts', import.meta.url);
const RESTART_DELAY_MS = 5000;
const STOP_GRACE_MS = 60_000;

interface Log {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WorkerProcess {
  pid(): number | undefined;
  stop(): Promise<void>;
}

export function startWorkerProcess(log: Log, env: NodeJS.ProcessEnv = process.env): WorkerProcess {
  let child: ChildProcess | null = null;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;

  const start = () => {
    const proc = spawn(process.execPath, nodeArgs(WORKERS_MAIN), { env, stdio: 'inherit' });
    child = proc;
    log.info({ pid: proc.pid }, 'started the workers process');
    proc.on('exit', (code, signal) => {
      if (child === proc) child = null;
      if (stopping) return;
      log.error({ code, signal }, `the workers process exited; starting it again in ${RESTART_DELAY_MS} ms`);
      restartTimer = setTimeout(start, RESTART_DELAY_MS);
    });
  };
  start();

  return {
    pid: () => child?.pid,
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      const proc = child;
      if (!proc || proc.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
        proc.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        proc.kill('SIGTERM');
      });
    },
  };
}
