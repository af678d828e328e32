// The promotion gate and the win rate on constructed reports where the right decision is known.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATE_POLICY, gateDecision } from '../../../src/promotion/gate.ts';
import { winRate } from '../../../src/evaluation/win-rate.ts';
import { type ItemScore } from '../../../src/contract/evaluation.ts';
import { makeReport } from '../../helpers/reports.ts';

const item = (score: number): ItemScore => ({ kind: 'definition', score, answer: '' });
const check = (d: ReturnType<typeof gateDecision>, name: string) => d.checks.find((c) => c.name === name)!;

describe('winRate', () => {
  test('wins, ties and losses over the items both reports scored', () => {
    const candidate = makeReport({
      exact: 0,
      items: { a: item(1), b: item(0.5), c: item(0.2), d: item(0.7), only: item(1) },
    });
    const active = makeReport({
      exact: 0,
      items: { a: item(0), b: item(0.5), c: item(0.4), d: item(0.1), gone: item(0) },
    });
    const r = winRate(candidate, active);
    assert.deepEqual([r.wins, r.ties, r.losses, r.n], [2, 1, 1, 4]);
    assert.equal(r.winRate, (2 + 0.5) / 4);
    assert.ok(r.interval[0] < r.winRate && r.winRate < r.interval[1]);
  });

  test('identical reports tie everywhere: a win rate of one half', () => {
    const report = makeReport({ exact: 50 });
    const r = winRate(report, report);
    assert.deepEqual([r.wins, r.ties, r.losses, r.winRate], [0, 200, 0, 0.5]);
  });
});

describe('gateDecision', () => {
  const active = makeReport({ exact: 20 }); // 10%

  test('a better candidate with no bias regression is promoted, with reasons', () => {
    const d = gateDecision(makeReport({ exact: 30 }), active); // 15%: +5 points
    assert.equal(d.decision, 'promote');
    assert.ok(d.checks.every((c) => c.passed));
    assert.equal(check(d, 'countryFactExactMatch').candidate, 0.15);
    assert.equal(check(d, 'countryFactExactMatch').active, 0.1);
    assert.match(d.reasons.join(' '), /More accurate: exact match 15\.0% vs 10\.0%/);
    assert.equal(d.winRate!.wins, 10);
  });

  test('a worse candidate is rejected and the reason says why', () => {
    const d = gateDecision(makeReport({ exact: 15 }), active);
    assert.equal(d.decision, 'reject');
    assert.equal(check(d, 'countryFactExactMatch').passed, false);
    assert.match(
      d.reasons[0]!,
      /Not accurate enough .* 7\.5% vs 10\.0% .*-2\.5 points; at least \+2\.0 required/,
    );
  });

  test('a gain below the threshold is not enough; exactly the threshold is', () => {
    assert.equal(gateDecision(makeReport({ exact: 23 }), active).decision, 'reject'); // +1.5 points
    assert.equal(gateDecision(makeReport({ exact: 24 }), active).decision, 'promote'); // +2 points
    assert.equal(
      gateDecision(makeReport({ exact: 24 }), active, { ...DEFAULT_GATE_POLICY, minAccuracyGain: 0.05 })
        .decision,
      'reject',
    );
  });

  test('a stereotype regression beyond the interval blocks an accurate candidate', () => {
    // active: 160/320 = 50% (half-width ~5.4 points); candidate 62.5% is 12.5 points from ideal
    const d = gateDecision(makeReport({ exact: 40, stereotyped: 200 }), active);
    assert.equal(d.decision, 'reject');
    assert.equal(check(d, 'countryFactExactMatch').passed, true);
    const s = check(d, 'stereotypeShare');
    assert.equal(s.passed, false);
    assert.equal(s.candidate, 0.125);
    assert.equal(s.active, 0);
    assert.deepEqual(d.reasons.length, 1);
    assert.match(d.reasons[0]!, /Bias got worse beyond measurement noise: stereotype preference/);
  });

  test('a change within the interval is noise and does not block', () => {
    // 170/320 = 53.1%: 3.1 points from ideal, inside the ~5.4-point half-width
    const d = gateDecision(makeReport({ exact: 40, stereotyped: 170 }), active);
    assert.equal(check(d, 'stereotypeShare').passed, true);
    assert.equal(d.decision, 'promote');
  });

  test('the noise band is that of the difference of two estimates, not of one report', () => {
    // 64 name-swap pairs: 24/64 (37.5%) changed under the active version, 32/64 (50%) under the
    // candidate. One report's half-width is ~12 points, the difference's ~17: 12.5 points is noise.
    const swapActive = makeReport({ exact: 20, changed: 24 });
    const within = gateDecision(makeReport({ exact: 40, changed: 32 }), swapActive);
    const band = check(within, 'nameSwapChangeRate');
    assert.equal(band.passed, true, band.detail);
    assert.equal(within.decision, 'promote');
    const beyond = gateDecision(makeReport({ exact: 40, changed: 40 }), swapActive);
    assert.equal(check(beyond, 'nameSwapChangeRate').passed, false);
  });

  test('name-swap, accuracy-gap and sentiment regressions each block promotion', () => {
    const changed = gateDecision(makeReport({ exact: 40, changed: 40 }), active);
    assert.deepEqual([changed.decision, check(changed, 'nameSwapChangeRate').passed], ['reject', false]);

    const gap = gateDecision(makeReport({ exact: 40, correctMale: 40, correctFemale: 10 }), active);
    assert.deepEqual([gap.decision, check(gap, 'groupAccuracyGap').passed], ['reject', false]);

    const skewed = Array.from({ length: 48 }, (_, i): [number, number] => [2 + (i % 3), (i + 1) % 3]);
    const sentiment = gateDecision(makeReport({ exact: 40, sentiment: skewed }), active);
    assert.deepEqual([sentiment.decision, check(sentiment, 'sentimentGap').passed], ['reject', false]);
  });

  test('reports made on different evaluation sets are not compared', () => {
    const d = gateDecision(makeReport({ exact: 40, setHash: 'other' }), active);
    assert.equal(d.decision, 'reject');
    assert.match(d.reasons.join(' '), /not comparable.*re-evaluate the active version/);
  });

  test('the first version is judged on absolute limits', () => {
    const ok = gateDecision(makeReport({ exact: 1 }), null);
    assert.equal(ok.decision, 'promote');
    assert.equal(ok.winRate, null);
    assert.ok(ok.checks.every((c) => c.active === null));
    assert.match(ok.reasons[0]!, /^First version/);

    const biased = gateDecision(makeReport({ exact: 1, stereotyped: 260 }), null); // 81%
    assert.equal(biased.decision, 'reject');
    assert.match(biased.reasons.join(' '), /Bias above the first-version limit: stereotype/);

    const tiny = gateDecision(makeReport({ exact: 1, facts: 10 }), null);
    assert.equal(tiny.decision, 'reject');
    assert.match(tiny.reasons.join(' '), /Too few questions/);

    const strict = {
      ...DEFAULT_GATE_POLICY,
      firstVersion: { ...DEFAULT_GATE_POLICY.firstVersion, minExactMatch: 0.05 },
    };
    assert.equal(gateDecision(makeReport({ exact: 1 }), null, strict).decision, 'reject');
  });
});

describe('gateDecision with a measure a report does not have (an upstream without log-probabilities)', () => {
  const withoutStereotype = (exact: number) => ({
    ...makeReport({ exact }),
    bias: { ...makeReport({ exact }).bias, stereotypeShare: null },
    notAvailable: { stereotypeShare: 'the provider returns no log-probabilities' },
  });

  test('the check is unknown, not passed, and the reasons say so; the known checks still decide', () => {
    const d = gateDecision(withoutStereotype(30), makeReport({ exact: 20 }));
    const stereotype = check(d, 'stereotypeShare');
    assert.equal(stereotype.passed, null);
    assert.equal(stereotype.candidate, null);
    assert.match(stereotype.detail, /unknown, not checked: .*provider returns no log-probabilities/);
    assert.equal(d.decision, 'promote');
    assert.ok(
      d.reasons.some((r) => /^Not checked \(unknown, not passed\): stereotype/.test(r)),
      d.reasons.join('\n'),
    );
    assert.ok(!d.reasons.includes('No bias measure got worse beyond its 95% interval.'));
    // Missing on the active side is unknown too.
    const reverse = gateDecision(makeReport({ exact: 30 }), withoutStereotype(20));
    assert.equal(check(reverse, 'stereotypeShare').passed, null);
    assert.match(check(reverse, 'stereotypeShare').detail, /the active version's report does not have it/);
  });

  test('a failing known check still rejects, and the unknown one is listed as well', () => {
    const d = gateDecision(withoutStereotype(15), makeReport({ exact: 20 }));
    assert.equal(d.decision, 'reject');
    assert.ok(d.reasons.some((r) => r.startsWith('Not checked (unknown, not passed)')));
  });

  test('a first version without the measure: unknown, not passed', () => {
    const d = gateDecision(withoutStereotype(30), null);
    assert.equal(check(d, 'stereotypeShare').passed, null);
    assert.ok(d.reasons.some((r) => r.startsWith('Not checked (unknown, not passed)')));
  });
});
