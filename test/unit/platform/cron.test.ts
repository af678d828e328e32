// The loop's cron may fire at most every 5 minutes, through the API and through FEEDLOOP_LOOP_CRON
// alike: a pattern with two firings closer than that is refused with the gap it found.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cronProblem } from '../../../src/platform/cron.ts';
import { ConfigError, loadConfig } from '../../../src/platform/config.ts';

test('patterns firing more often than every 5 minutes are refused, others pass', () => {
  const from = new Date('2026-01-01T00:00:00Z');
  for (const pattern of ['* * * * *', '*/30 * * * * *', '*/4 * * * *', '0,3 12 * * *', '58,59 23 * * *'])
    assert.match(cronProblem(pattern, from) ?? '', /at most every 5 minutes/, pattern);
  for (const pattern of ['*/5 * * * *', '0 */6 * * *', '30 2 * * *', '0 0 1 1 *', '0,30 * * * *'])
    assert.equal(cronProblem(pattern, from), null, pattern);
  assert.ok(cronProblem('99 99 * * *', from), 'an unparseable pattern is refused');
});

test('FEEDLOOP_LOOP_CRON is checked at boot, naming the variable', () => {
  assert.throws(
    () => loadConfig({ FEEDLOOP_LOOP_CRON: '* * * * *' }),
    (err: unknown) => err instanceof ConfigError && /FEEDLOOP_LOOP_CRON: .*5 minutes/.test(err.message),
  );
  assert.equal(loadConfig({ FEEDLOOP_LOOP_CRON: '*/5 * * * *' }).FEEDLOOP_LOOP_CRON, '*/5 * * * *');
});
