// What every process entry point (the API, the workers) shares: config parsed or a one-line exit,
// Postgres and Redis found or started on a bare machine, and a graceful close on SIGINT/SIGTERM.
import { loadConfig, ConfigError, type Config } from './config.ts';
import { LocalServiceError, startLocalServices } from './local-services.ts';

/** Exits with a message naming the bad variable instead of a stack trace. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

export interface ServicesInPlace {
  /** The config with the URLs of the Postgres and Redis to use. */
  config: Config;
  /** The environment for child processes (the workers), carrying the same URLs. */
  env: NodeJS.ProcessEnv;
  /** Stops the services this process started; call it after everything using them closed. */
  stop(): Promise<void>;
}

/**
 * Explicit DATABASE_URL and REDIS_URL win; when one is unset and nothing answers on its default
 * port, the service is started here (src/platform/local-services.ts). A service that cannot be had
 * exits with one line saying how to get it.
 */
export async function localServicesOrExit(
  config: Config,
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
  options: { redis?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<ServicesInPlace> {
  const env = options.env ?? process.env;
  try {
    const services = await startLocalServices({
      dataDir: config.FEEDLOOP_DATA_DIR,
      databaseUrl: env.DATABASE_URL || undefined,
      redisUrl: env.REDIS_URL || undefined,
      redis: options.redis,
      log,
    });
    return {
      config: { ...config, DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl },
      env: { ...env, DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl },
      stop: services.stop,
    };
  } catch (err) {
    if (err instanceof LocalServiceError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

export function closeOnSignals(close: () => Promise<void>, log: { info(msg: string): void }) {
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      log.info(`${signal}: finishing in-flight work, then exiting`);
      close().then(
        () => process.exit(0),
        (err) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}
