// The loop's cron patterns, checked where they enter: the schedule API (src/loop/schemas.ts) and
// FEEDLOOP_LOOP_CRON, which seeds the schedule (src/platform/config.ts).
import { CronExpressionParser } from 'cron-parser';

/**
 * The loop's cron may fire at most every 5 minutes: a run builds datasets, trains and evaluates,
 * which takes minutes, and a tick every second would only queue ticks that find a run in progress.
 */
export const MIN_CRON_INTERVAL_MS = 5 * 60_000;
/** Firings looked at: enough to see every gap a pattern of minutes, hours and days has. */
const FIRINGS_CHECKED = 500;

/** Why `pattern` is not an acceptable schedule, or null when it is. */
export function cronProblem(pattern: string, from = new Date()): string | null {
  let expression;
  try {
    expression = CronExpressionParser.parse(pattern, { tz: 'UTC', currentDate: from });
  } catch (err) {
    return (err as Error).message;
  }
  let previous = expression.next().getTime();
  for (let i = 1; i < FIRINGS_CHECKED && expression.hasNext(); i++) {
    const next = expression.next().getTime();
    if (next - previous < MIN_CRON_INTERVAL_MS) {
      const minutes = MIN_CRON_INTERVAL_MS / 60_000;
      return `fires ${Math.round((next - previous) / 1000)} s apart at ${new Date(previous).toISOString()}; the loop may run at most every ${minutes} minutes`;
    }
    previous = next;
  }
  return null;
}
