// The environment, described once. Parsed at boot; a bad value stops the process with a message
// that names the variable.
import { z } from 'zod';
import { cronProblem } from './cron.ts';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/feedloop';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    .default(DEFAULT_DATABASE_URL),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default(DEFAULT_REDIS_URL),
  MODEL_DIR: z.string().min(1).default('models'),
  /** Where dataset snapshots are written (one folder per content hash under `datasets/`). */
  FEEDLOOP_DATA_DIR: z.string().min(1).default('data'),
  /**
   * The V8 heap (old generation, MB) of the thread that builds datasets, in the API and in the
   * workers. A build's live memory was about 150 MB at 1x, and building the evaluation prompt set
   * as the thread starts peaks at ~265 MB; without a cap V8 lets garbage grow to several times
   * that before it collects.
   */
  FEEDLOOP_BUILD_HEAP_MB: z.coerce.number().int().min(384).default(512),
  MODEL_BACKEND: z.enum(['auto', 'gpu', 'node', 'wasm', 'cpu']).default('auto'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** When set, an admin user holding this API key exists after boot. */
  FEEDLOOP_ADMIN_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  /** Whether anyone may create a `user` account with POST /v1/auth/signup. */
  FEEDLOOP_SIGNUP: bool.default(true),
  /** Requests per minute per user (across all their API keys and sessions), or per client address when anonymous. */
  FEEDLOOP_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(1200),
  /** Failed authentications (unknown, revoked or malformed credentials) per client address per minute; then 429s. */
  FEEDLOOP_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().positive().default(30),
  /** Password sign-in attempts per client address per minute. */
  FEEDLOOP_LOGIN_PER_MINUTE: z.coerce.number().int().positive().default(10),
  /** Failed sign-ins to one email within 15 minutes before it is locked for 15 minutes (known account or not). */
  FEEDLOOP_LOGIN_FAILURES_PER_ACCOUNT: z.coerce.number().int().positive().default(5),
  /** Sign-ups per client address per hour. */
  FEEDLOOP_SIGNUPS_PER_HOUR: z.coerce.number().int().positive().default(5),
  /** Active (unrevoked) API keys one user may hold. */
  FEEDLOOP_API_KEYS_PER_USER: z.coerce.number().int().positive().default(20),
  /** Session cookie lifetime in hours. */
  FEEDLOOP_SESSION_HOURS: z.coerce
    .number()
    .positive()
    .default(24 * 7),
  /** Mark the session cookie Secure always (it is Secure anyway on requests that arrived over HTTPS). */
  FEEDLOOP_COOKIE_SECURE: bool.default(false),
  /**
   * Which proxies to believe about the client (X-Forwarded-For, X-Forwarded-Proto): `true` (any),
   * or a comma-separated list of proxy addresses/CIDRs. Unset: none.
   */
  FEEDLOOP_TRUST_PROXY: z
    .string()
    .trim()
    .regex(
      /^(true|false|[0-9A-Fa-f.:/]+(\s*,\s*[0-9A-Fa-f.:/]+)*)$/,
      'must be true, false or proxy addresses',
    )
    .optional(),
  /** Whether /docs (the OpenAPI UI and document) is open to anonymous callers; false: signed-in only. */
  FEEDLOOP_DOCS_PUBLIC: bool.default(true),
  /** Whether /metrics is open to anonymous callers; false: ops and admins only (a scraper uses an ops API key). */
  FEEDLOOP_METRICS_PUBLIC: bool.default(true),
  /** Answers one chat socket may generate at once. */
  FEEDLOOP_SOCKET_GENERATIONS: z.coerce.number().int().min(1).default(4),
  /** Answers one user may generate at once over chat sockets (all their sockets to this process). */
  FEEDLOOP_USER_GENERATIONS: z.coerce.number().int().min(1).default(8),
  /** Messages one chat socket may send per minute (generate, regenerate, cancel); more get rate_limited. */
  FEEDLOOP_SOCKET_MESSAGES_PER_MINUTE: z.coerce.number().int().min(1).default(120),
  /** How often an open WebSocket checks its credential again (revoked, logged out, role changed), in milliseconds. */
  FEEDLOOP_SOCKET_AUTH_CHECK_MS: z.coerce.number().int().min(100).max(5000).default(5000),
  /**
   * Origins allowed to open WebSockets (comma-separated, e.g. `https://feedloop.example.com`).
   * Unset: only the server's own origin (the Origin's host equals the Host header).
   */
  FEEDLOOP_ALLOWED_ORIGINS: z
    .string()
    .trim()
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ message: 'must be origins like https://host[:port]' })))
    .optional(),
  /** Largest request body in bytes. */
  FEEDLOOP_BODY_LIMIT: z.coerce.number().int().positive().default(1_048_576),
  /** Upstream (provider `openai`) versions: time for the upstream to start its HTTP response. */
  FEEDLOOP_UPSTREAM_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(1).default(10_000),
  /** Upstream versions: time from the request until the first token of the answer. */
  FEEDLOOP_UPSTREAM_FIRST_TOKEN_TIMEOUT_MS: z.coerce.number().int().min(1).default(60_000),
  /** Upstream versions: time for the whole answer. */
  FEEDLOOP_UPSTREAM_TOTAL_TIMEOUT_MS: z.coerce.number().int().min(1).default(600_000),
  /** Upper bound on events written in one group-commit INSERT. */
  FEEDLOOP_EVENT_BATCH_MAX: z.coerce.number().int().min(1).max(20_000).default(5000),
  /** Group-commit statements of implicit events in flight at once (see src/feedback/events/plugin.ts). */
  FEEDLOOP_EVENT_FLUSHES: z.coerce.number().int().min(1).max(32).default(4),
  /** Implicit events are kept this many whole months besides the current one; older months are dropped (unset: kept). */
  FEEDLOOP_EVENT_RETENTION_MONTHS: z.coerce.number().int().min(0).optional(),
  /** Start the BullMQ workers as a child process of `npm start` (false when they run elsewhere). */
  FEEDLOOP_WORKERS: bool.default(true),
  /**
   * Postgres connections of an API process for everything but implicit events, which have a pool of
   * FEEDLOOP_EVENT_FLUSHES connections of their own. Each streamed answer holds one for its two
   * writes (the prompt, then the answer), never while it waits for tokens.
   */
  FEEDLOOP_DB_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  /** Opening a Postgres connection, or waiting for a free one in the pool, in milliseconds. */
  FEEDLOOP_DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  /** Postgres cancels a statement that runs longer than this (statement_timeout), in milliseconds. */
  FEEDLOOP_DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  /** A query Postgres has not answered after this fails and its connection is closed, in milliseconds. */
  FEEDLOOP_DB_QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).default(20_000),
  /** Redis key prefix of every BullMQ queue (tests use a unique one). */
  FEEDLOOP_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, "_", "." or "-"')
    .default('feedloop'),
  /** When the loop runs on a schedule (cron, UTC). Seeds the schedule row; the API changes it after. */
  FEEDLOOP_LOOP_CRON: z
    .string()
    .trim()
    .regex(/^\S+( \S+){4,5}$/, 'must be a cron pattern of 5 or 6 fields')
    .refine((pattern) => !/^\S+( \S+){4,5}$/.test(pattern) || cronProblem(pattern) === null, {
      error: (issue) => cronProblem(String(issue.input)) ?? 'invalid cron pattern',
    })
    .default('0 */6 * * *'),
  /** Newly approved feedback items that start a run. Seeds the schedule row; the API changes it after. */
  FEEDLOOP_LOOP_FEEDBACK_THRESHOLD: z.coerce.number().int().min(1).default(200),
  /** How often the scheduler counts new feedback against the threshold, in milliseconds. */
  FEEDLOOP_LOOP_CHECK_MS: z.coerce.number().int().min(100).default(60_000),
  /** How often the worker process checks that every queued or running run still has its job in Redis, and that the schedulers exist. */
  FEEDLOOP_LOOP_RECONCILE_MS: z.coerce.number().int().min(100).default(30_000),
  /** Items per evaluation suite (country facts, definitions, perplexity docs, bias pairs); unset: the suite's own sizes. */
  FEEDLOOP_EVAL_LIMIT: z.coerce.number().int().min(1).optional(),
  /** First retry delay of a failed loop job in milliseconds; each later retry waits twice as long. */
  FEEDLOOP_JOB_BACKOFF_MS: z.coerce.number().int().min(1).default(30_000),
  /** How long a worker's lock on a job lasts without renewal; a worker that dies loses its job after this. */
  FEEDLOOP_WORKER_LOCK_MS: z.coerce.number().int().min(500).default(60_000),
  /** When set, the workers process touches this file every 10 s (a container health check reads its age). */
  FEEDLOOP_HEARTBEAT_FILE: z.string().min(1).optional(),
  /** How often workers look for jobs whose worker died (stalled) and put them back in the queue. */
  FEEDLOOP_WORKER_STALLED_MS: z.coerce.number().int().min(200).default(30_000),
  /** A model version nobody has asked for in this long is unloaded from the worker threads (0: never); the active version and the split's stay. */
  FEEDLOOP_MODEL_IDLE_UNLOAD_MS: z.coerce.number().int().min(0).default(900_000),
  /** Stop a traffic split by itself when a canary's thumbs-down or harmful-flag rate is worse than the baseline's beyond the 95% interval. */
  FEEDLOOP_CANARY_GUARD: bool.default(false),
  /** Answers (for the flag rate) and thumbs ratings (for the thumbs-down rate) each arm needs before the guard judges it. */
  FEEDLOOP_CANARY_GUARD_MIN_SAMPLE: z.coerce.number().int().min(1).default(200),
  /** How often each API process runs the canary guard, in milliseconds. */
  FEEDLOOP_CANARY_GUARD_CHECK_MS: z.coerce.number().int().min(100).default(30_000),
});

export type Config = z.infer<typeof configSchema>;

/** FEEDLOOP_TRUST_PROXY as Fastify's `trustProxy` option. */
export function trustProxyOption(value: string | undefined): boolean | string {
  if (value === undefined || value === 'false') return false;
  return value === 'true' ? true : value;
}

export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment (process.env by default). Empty strings count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  return parsed.data;
}
