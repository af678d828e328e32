// Interval arithmetic against values computed by hand (Wilson, Agresti-Caffo, normal mean).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  halfWidth,
  meanInterval,
  normalQuantile,
  proportionDifference,
  wilsonInterval,
  Z95,
} from '../../../src/stats/statistics.ts';

const close = (actual: number, expected: number, eps = 1e-4) =>
  assert.ok(Math.abs(actual - expected) < eps, `${actual} is not ${expected}`);

describe('normalQuantile', () => {
  test('matches table values and is symmetric', () => {
    close(normalQuantile(0.975), Z95, 1e-8);
    close(normalQuantile(0.95), 1.6448536, 1e-6);
    close(normalQuantile(0.5), 0, 1e-12);
    close(normalQuantile(0.999), 3.0902323, 1e-6);
    close(normalQuantile(0.01), -2.3263479, 1e-6);
    close(normalQuantile(0.2), -normalQuantile(0.8), 1e-9);
  });

  test('rejects probabilities outside (0, 1)', () => {
    for (const p of [0, 1, -0.1, Number.NaN]) assert.throws(() => normalQuantile(p), RangeError);
  });
});

describe('wilsonInterval', () => {
  test('matches textbook values', () => {
    const [lo0, hi0] = wilsonInterval(0, 10);
    close(lo0, 0);
    close(hi0, 0.2775);
    const [lo5, hi5] = wilsonInterval(5, 10);
    close(lo5, 0.2366);
    close(hi5, 0.7634);
    const [lo, hi] = wilsonInterval(81, 263);
    close(lo, 0.2553);
    close(hi, 0.3662);
  });

  test('no items means no information', () => {
    assert.deepEqual(wilsonInterval(0, 0), [0, 1]);
  });

  test('stays inside [0, 1] and narrows with n', () => {
    const [lo, hi] = wilsonInterval(100, 100);
    assert.ok(lo > 0.96 && hi === 1);
    assert.ok(halfWidth(wilsonInterval(50, 100)) > halfWidth(wilsonInterval(500, 1000)));
  });
});

describe('proportionDifference', () => {
  test('value is the plain difference; interval is Agresti-Caffo', () => {
    const d = proportionDifference({ successes: 30, n: 50 }, { successes: 20, n: 50 });
    close(d.value, 0.2);
    // p~ = 31/52 and 21/52; se = sqrt(p~(1-p~)/52 * 2 terms)
    const pa = 31 / 52;
    const pb = 21 / 52;
    const se = Math.sqrt((pa * (1 - pa)) / 52 + (pb * (1 - pb)) / 52);
    close(d.interval[0], pa - pb - 1.96 * se, 1e-3);
    close(d.interval[1], pa - pb + 1.96 * se, 1e-3);
  });

  test('two groups at zero still get a non-empty interval', () => {
    const d = proportionDifference({ successes: 0, n: 64 }, { successes: 0, n: 64 });
    assert.equal(d.value, 0);
    assert.ok(d.interval[0] < 0 && d.interval[1] > 0);
  });
});

describe('meanInterval', () => {
  test('mean +- 1.96 sd / sqrt(n)', () => {
    const { value, interval } = meanInterval([1, 2, 3, 4, 5]);
    close(value, 3);
    const half = (1.959964 * Math.sqrt(2.5)) / Math.sqrt(5);
    close(interval[0], 3 - half);
    close(interval[1], 3 + half);
  });

  test('constant values have a zero-width interval', () => {
    assert.deepEqual(meanInterval([0.5, 0.5, 0.5]), { value: 0.5, interval: [0.5, 0.5] });
  });
});
