// Real feedloop processes for end-to-end tests: spawned with their own environment, their pino
// lines parsed as they come, stopped with SIGTERM (and SIGKILL if a test fails half-way).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { waitFor } from './wait-for.ts';

export interface LogLine {
  msg?: string;
  [key: string]: unknown;
}

export interface RunningProcess {
  child: ChildProcess;
  pid: number;
  exit: Promise<number | null>;
  output(): string;
  lines(): LogLine[];
  /** Waits for a log line whose msg matches and returns it. */
  logged(msg: RegExp, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  kill(): void;
}

export function startProcess(args: string[], env: NodeJS.ProcessEnv, name = args.join(' ')): RunningProcess {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exited = false;
  void exit.then(() => (exited = true));
  const lines = () =>
    text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as LogLine];
        } catch {
          return [];
        }
      });
  return {
    child,
    pid: child.pid!,
    exit,
    output: () => text,
    lines,
    logged: (msg, timeoutMs = 120_000) =>
      waitFor(
        `${name} to log ${msg}`,
        () => {
          const line = lines().find((l) => typeof l.msg === 'string' && msg.test(l.msg));
          if (!line && exited) throw new Error(`${name} exited: ${text.slice(-2000)}`);
          return line;
        },
        timeoutMs,
        100,
      ),
    async stop() {
      if (!exited) child.kill('SIGTERM');
      return exit;
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
  };
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
