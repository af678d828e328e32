// What every process entry point (the API, the workers) shares: config parsed or a one-line exit,
// and a graceful close on SIGINT/SIGTERM.
import { loadConfig, ConfigError, type Config } from './config.ts';

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
