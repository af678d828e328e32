// The environment, described once. Parsed at boot; a bad value stops the process with a message
// that names the variable.
import { z } from 'zod';

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
    .default('postgresql://postgres@127.0.0.1:5432/feedloop'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  MODEL_DIR: z.string().min(1).default('models'),
  /** Where dataset snapshots are written (one folder per content hash under `datasets/`). */
  FEEDLOOP_DATA_DIR: z.string().min(1).default('data'),
  MODEL_BACKEND: z.enum(['auto', 'gpu', 'node', 'wasm', 'cpu']).default('auto'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** When set, an admin user holding this API key exists after boot. */
  FEEDLOOP_ADMIN_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  /** Whether anyone may create a `user` account with POST /v1/auth/signup. */
  FEEDLOOP_SIGNUP: bool.default(true),
  /** Requests per minute per API key, session or client address. */
  FEEDLOOP_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(1200),
  /** Session cookie lifetime in hours. */
  FEEDLOOP_SESSION_HOURS: z.coerce
    .number()
    .positive()
    .default(24 * 7),
  /** Mark the session cookie Secure (serve over HTTPS). */
  FEEDLOOP_COOKIE_SECURE: bool.default(false),
  /** Largest request body in bytes. */
  FEEDLOOP_BODY_LIMIT: z.coerce.number().int().positive().default(1_048_576),
  /** Upper bound on events written in one group-commit INSERT. */
  FEEDLOOP_EVENT_BATCH_MAX: z.coerce.number().int().min(1).max(20_000).default(5000),
  /** Run the BullMQ workers inside `npm start` (set false when workers run on other machines). */
  FEEDLOOP_WORKERS: bool.default(true),
});

export type Config = z.infer<typeof configSchema>;

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
