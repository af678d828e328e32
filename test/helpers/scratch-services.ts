// A Postgres cluster and a Redis server of a test's own, on free ports in a temp dir, for the fault
// tests that stop, kill, stall or wipe them. The shared services on 5432 and 6379 are never touched.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from './wait-for.ts';

const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** initdb and the server refuse to run as root: as root, they run as the `postgres` user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).split(':');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

function run(command: string, args: string[], user: { uid: number; gid: number } | undefined): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...user });
}

/** The pids of `pid`'s children (the postmaster's backends and auxiliary processes). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

export interface ScratchPostgres {
  port: number;
  /** A URL of a database on this cluster. */
  url(database?: string): string;
  /** `pg_ctl stop -m immediate` (a crash: no shutdown checkpoint) or `fast`. */
  stop(mode: 'immediate' | 'fast'): void;
  /** Starts the cluster again and waits until it accepts connections. */
  start(): void;
  /** SIGSTOP the postmaster and every backend: connections stay open and nothing answers. */
  freeze(): number[];
  /** SIGCONT what freeze() stopped. */
  thaw(pids: number[]): void;
  close(): Promise<void>;
}

export async function startScratchPostgres(): Promise<ScratchPostgres> {
  const user = postgresUser();
  const dir = mkdtempSync(path.join(tmpdir(), 'feedloop-pg-'));
  chmodSync(dir, 0o700);
  if (user) chownSync(dir, user.uid, user.gid);
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  run(
    path.join(PG_BIN, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    user,
  );
  const start = () =>
    run(
      path.join(PG_BIN, 'pg_ctl'),
      [
        '-D',
        dataDir,
        '-l',
        path.join(dir, 'server.log'),
        '-w',
        '-t',
        '60',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=50 -c shared_buffers=16MB`,
        'start',
      ],
      user,
    );
  start();
  const postmasterPid = () =>
    Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    port,
    url: (database = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    stop: (mode) => {
      run(path.join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', 'stop'], user);
    },
    start: () => {
      start();
    },
    freeze() {
      const postmaster = postmasterPid();
      // The postmaster first, so it starts no new backend meanwhile.
      process.kill(postmaster, 'SIGSTOP');
      const pids = [postmaster, ...childrenOf(postmaster)];
      for (const pid of pids.slice(1)) process.kill(pid, 'SIGSTOP');
      return pids;
    },
    thaw(pids) {
      for (const pid of pids.reverse()) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // a backend that was killed meanwhile
        }
      }
    },
    async close() {
      try {
        run(path.join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], user);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ScratchRedis {
  port: number;
  url: string;
  /** SIGKILL: whatever Redis held is gone (no snapshot, no append-only file). */
  kill(): Promise<void>;
  /** A new, empty server on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startScratchRedis(): Promise<ScratchRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const start = async () => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    child = proc;
    await waitFor(`redis-server on port ${port}`, async () => {
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
      return new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write('PING\r\n');
        });
        socket.once('data', (d) => {
          socket.destroy();
          resolve(String(d).startsWith('+PONG'));
        });
        socket.once('error', () => resolve(false));
      });
    });
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      const proc = child!;
      proc.kill('SIGKILL');
      await exited(proc);
    },
    start,
    async close() {
      if (child) {
        child.kill('SIGKILL');
        await exited(child);
      }
    },
  };
}
