// The one polling helper of the test suite: wait on an event (a row present, a job finished, a frame
// received) with a bounded timeout, never for a fixed time.
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `probe` until it returns a truthy value and returns that value. Errors thrown by the probe
 * count as "not yet" (the last one is quoted if time runs out). `intervalMs` 0 checks on every turn
 * of the event loop, for conditions that change between two I/O callbacks.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await (intervalMs > 0 ? sleep(intervalMs) : nextTurn());
  }
}
