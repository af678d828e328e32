// The tests behind the split comparison and the arena: the two-proportion test, the difference of
// means, the sample needed for an effect, and Bradley–Terry's fit and intervals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  meanDifferenceTest,
  sampleSizeForProportions,
  twoProportionTest,
} from '../../../src/stats/statistics.ts';
import { eloRating, fitBradleyTerry } from '../../../src/stats/bradley-terry.ts';

const close = (a: number, b: number, tol: number) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('the two-proportion z test matches the textbook figures', () => {
  // 60/100 against 45/100: pooled 0.525, se 0.07062, z 2.124, p 0.0337.
  const { z, pValue } = twoProportionTest({ successes: 60, n: 100 }, { successes: 45, n: 100 });
  close(z, 2.124, 1e-3);
  close(pValue, 0.0337, 2e-4);
  assert.equal(twoProportionTest({ successes: 0, n: 10 }, { successes: 0, n: 10 }).pValue, 1);
  assert.equal(twoProportionTest({ successes: 1, n: 0 }, { successes: 0, n: 10 }).pValue, 1);
});

test('the sample for an effect follows Fleiss: 0.50 against 0.55 needs 1565 per group', () => {
  assert.equal(sampleSizeForProportions(0.5, 0.55), 1565);
  // A larger effect or a lower power needs fewer.
  assert.ok(sampleSizeForProportions(0.5, 0.6) < 1565);
  assert.ok(sampleSizeForProportions(0.5, 0.55, { power: 0.5 }) < 1565);
  assert.throws(() => sampleSizeForProportions(0.5, 0.5), RangeError);
});

test('the difference of two means has a Welch interval and a z test', () => {
  // a: 4, 5, 4, 5 (mean 4.5, var 1/3); b: 2, 3, 2, 3 (mean 2.5, var 1/3): se sqrt(1/6) = 0.408.
  const sums = (xs: number[]) => ({
    n: xs.length,
    sum: xs.reduce((s, x) => s + x, 0),
    squares: xs.reduce((s, x) => s + x * x, 0),
  });
  const d = meanDifferenceTest(sums([4, 5, 4, 5]), sums([2, 3, 2, 3]));
  close(d.value!, 2, 1e-12);
  close(d.high! - d.value!, 1.96 * Math.sqrt(1 / 6), 1e-3);
  assert.ok(d.pValue! < 0.001);
  assert.deepEqual(meanDifferenceTest(sums([4]), sums([2, 3])), {
    value: null,
    low: null,
    high: null,
    pValue: null,
  });
});

test('Bradley–Terry: two evenly matched players tie at the reference; the stronger one rates higher', () => {
  const even = fitBradleyTerry(2, [
    { a: 0, b: 1, scoreA: 1 },
    { a: 0, b: 1, scoreA: 0 },
  ]);
  close(even.theta[0]!, 0, 1e-9);
  close(even.theta[1]!, 0, 1e-9);
  const lopsided = fitBradleyTerry(
    2,
    Array.from({ length: 30 }, (_, i) => ({ a: 0, b: 1, scoreA: i < 24 ? 1 : 0 })),
  );
  assert.ok(lopsided.theta[0]! > 0 && lopsided.theta[1]! < 0);
  // The likelihood's score is zero at the fit: player 0's expected score equals its score.
  const [p0, p1] = lopsided.theta.map(Math.exp) as [number, number];
  assert.ok(p0 > p1);
  // More games, narrower intervals.
  const more = fitBradleyTerry(
    2,
    Array.from({ length: 300 }, (_, i) => ({ a: 0, b: 1, scoreA: i < 240 ? 1 : 0 })),
  );
  assert.ok(more.se[0]! < lopsided.se[0]!);
  const r = eloRating(lopsided.theta[0]!, lopsided.se[0]!);
  assert.ok(r.low < r.rating && r.rating < r.high);
  // A player who never won still gets a finite rating.
  const shutout = fitBradleyTerry(2, [
    { a: 0, b: 1, scoreA: 1 },
    { a: 0, b: 1, scoreA: 1 },
  ]);
  assert.ok(Number.isFinite(shutout.theta[1]!) && shutout.theta[1]! < 0);
});

test('Bradley–Terry: an outcome seen n times (count) fits as n separate outcomes', () => {
  const separate = fitBradleyTerry(3, [
    ...Array.from({ length: 7 }, () => ({ a: 0, b: 1, scoreA: 1 })),
    ...Array.from({ length: 2 }, () => ({ a: 0, b: 1, scoreA: 0.5 })),
    ...Array.from({ length: 5 }, () => ({ a: 2, b: 1, scoreA: 0 })),
  ]);
  const counted = fitBradleyTerry(3, [
    { a: 0, b: 1, scoreA: 1, count: 7 },
    { a: 0, b: 1, scoreA: 0.5, count: 2 },
    { a: 2, b: 1, scoreA: 0, count: 5 },
  ]);
  for (let i = 0; i < 3; i++) {
    close(counted.theta[i]!, separate.theta[i]!, 1e-9);
    close(counted.se[i]!, separate.se[i]!, 1e-9);
  }
  assert.ok(counted.theta[0]! > counted.theta[2]!);
});
