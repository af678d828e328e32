// Krippendorff's alpha against the worked examples of the literature, and the bootstrap interval.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { krippendorffAlpha, type ReliabilityUnit } from '../../../src/stats/krippendorff.ts';
import { bootstrapInterval, quantileSorted } from '../../../src/stats/bootstrap.ts';

const close = (actual: number | null, expected: number, eps = 5e-4) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < eps, `${actual} is not ${expected}`);

/** Observers as rows, units as columns; null is a missing judgement. */
function byUnit(rows: (number | null)[][]): ReliabilityUnit<number>[] {
  return rows[0]!.map((_, u) => rows.map((row) => row[u]));
}

// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section on any number of
// observers with missing data: 4 observers, 12 units, values 1 to 5. Published: nominal .743,
// ordinal .815, interval .849.
const KRIPPENDORFF_2011 = byUnit([
  [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
  [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
  [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
  [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
]);

// The computational example of the Wikipedia article: 3 coders, 15 units. Published: nominal
// .691, interval .811.
const WIKIPEDIA = byUnit([
  [null, null, null, null, null, 3, 4, 1, 2, 1, 1, 3, 3, null, 3],
  [1, null, 2, 1, 3, 3, 4, 3, null, null, null, null, null, null, null],
  [null, null, 2, 1, 3, 4, 4, null, 2, 1, 1, 3, 3, null, 4],
]);

describe("Krippendorff's alpha", () => {
  test("reproduces Krippendorff's published example at every level", () => {
    const nominal = krippendorffAlpha(KRIPPENDORFF_2011, 'nominal');
    close(nominal.alpha, 0.743);
    // Unit 12 has a single value, so 11 units and 40 pairable values.
    assert.equal(nominal.units, 11);
    assert.equal(nominal.values, 40);
    close(krippendorffAlpha(KRIPPENDORFF_2011, 'ordinal').alpha, 0.815);
    close(krippendorffAlpha(KRIPPENDORFF_2011, 'interval').alpha, 0.849);
  });

  test('reproduces the Wikipedia computational example', () => {
    close(krippendorffAlpha(WIKIPEDIA, 'nominal').alpha, 0.691);
    close(krippendorffAlpha(WIKIPEDIA, 'interval').alpha, 0.811);
  });

  test('nominal values may be strings; the labels themselves do not matter', () => {
    const names = ['', 'one', 'two', 'three', 'four', 'five'];
    const labelled = KRIPPENDORFF_2011.map((u) => u.map((v) => (v === null ? null : names[v!]!)));
    close(krippendorffAlpha(labelled, 'nominal').alpha, 0.743);
  });

  test('perfect agreement is 1, systematic disagreement is below 0, no variation is undefined', () => {
    close(
      krippendorffAlpha(
        [
          ['up', 'up'],
          ['down', 'down', 'down'],
        ],
        'nominal',
      ).alpha,
      1,
    );
    const opposed = krippendorffAlpha(
      [
        ['up', 'down'],
        ['down', 'up'],
        ['up', 'down'],
      ],
      'nominal',
    );
    assert.ok(opposed.alpha! < 0, `alpha ${opposed.alpha}`);
    assert.equal(krippendorffAlpha([['up', 'up', 'up']], 'nominal').alpha, null);
    assert.equal(krippendorffAlpha([['up'], [null, 'down']], 'nominal').alpha, null);
  });

  test('ordinal alpha counts a near miss as less disagreement than a far one', () => {
    const near = krippendorffAlpha(
      [
        [4, 5],
        [1, 2],
        [5, 5],
        [1, 1],
      ],
      'ordinal',
    ).alpha!;
    const far = krippendorffAlpha(
      [
        [1, 5],
        [1, 2],
        [5, 5],
        [1, 1],
      ],
      'ordinal',
    ).alpha!;
    assert.ok(near > far, `near ${near}, far ${far}`);
    assert.throws(() => krippendorffAlpha([['a', 'b']], 'ordinal'), TypeError);
  });
});

describe('bootstrapInterval', () => {
  test('the interval of a mean covers it, narrows with more data, and is reproducible', () => {
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const small = Array.from({ length: 20 }, (_, i) => i % 5);
    const large = Array.from({ length: 2000 }, (_, i) => i % 5);
    const a = bootstrapInterval(small, mean, { seed: 7 })!;
    const b = bootstrapInterval(large, mean, { seed: 7 })!;
    assert.ok(a.low < 2 && a.high > 2, JSON.stringify(a));
    assert.ok(b.high - b.low < (a.high - a.low) / 5, `${JSON.stringify(a)} ${JSON.stringify(b)}`);
    assert.deepEqual(bootstrapInterval(small, mean, { seed: 7 }), a);
    // A normal approximation: the half-width of a mean of 2000 draws of sd 1.414 is about 0.062.
    assert.ok(Math.abs((b.high - b.low) / 2 - 0.062) < 0.01, JSON.stringify(b));
  });

  test("alpha's interval on Krippendorff's example contains the estimate", () => {
    const alpha = (units: ReliabilityUnit<number>[]) => krippendorffAlpha(units, 'nominal').alpha;
    const interval = bootstrapInterval(KRIPPENDORFF_2011, alpha, { resamples: 500 })!;
    assert.ok(interval.low < 0.743 && 0.743 < interval.high, JSON.stringify(interval));
    assert.ok(interval.high <= 1);
  });

  test('undefined resamples are left out; none defined gives null', () => {
    assert.equal(
      bootstrapInterval([1, 2], () => null),
      null,
    );
    assert.equal(
      bootstrapInterval([], () => 1),
      null,
    );
    assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  });
});
