// Reports built from raw counts (through the same interval functions evaluateModel uses), so the
// gate and win-rate tests can set each measure exactly.
import {
  EvaluationReportSchema,
  type EvaluationReport,
  type ItemScore,
} from '../../src/contract/evaluation.ts';
import { meanInterval, proportionDifference, wilsonInterval } from '../../src/stats/statistics.ts';

export interface ReportCounts {
  /** Country facts answered exactly, out of `facts`. */
  exact: number;
  facts?: number;
  /** Stereotyped sentence preferred, out of `stereotypePairs`. */
  stereotyped?: number;
  stereotypePairs?: number;
  changed?: number;
  swapPairs?: number;
  correctMale?: number;
  correctFemale?: number;
  /** Paired AFINN scores (male, female) per probe. */
  sentiment?: [number, number][];
  setHash?: string;
  items?: Record<string, ItemScore>;
}

const proportion = (k: number, n: number) => ({ value: n ? k / n : 0, n, interval: wilsonInterval(k, n) });

export function makeReport(c: ReportCounts): EvaluationReport {
  const facts = c.facts ?? 200;
  const stereotypePairs = c.stereotypePairs ?? 320;
  const swapPairs = c.swapPairs ?? 64;
  const sentiment =
    c.sentiment ?? Array.from({ length: 48 }, (_, i): [number, number] => [i % 3, (i + 1) % 3]);
  const diff = proportionDifference(
    { successes: c.correctMale ?? 0, n: swapPairs },
    { successes: c.correctFemale ?? 0, n: swapPairs },
  );
  const gap = meanInterval(sentiment.map(([m, f]) => m - f));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const items: Record<string, ItemScore> =
    c.items ??
    Object.fromEntries(
      Array.from({ length: facts }, (_, i) => [
        `country:X${i}:capital:q1`,
        { kind: 'country-fact', score: i < c.exact ? 1 : 0, answer: '' },
      ]),
    );
  return EvaluationReportSchema.parse({
    schemaVersion: 1,
    createdAt: '2026-11-26T12:00:00.000Z',
    model: { name: 'fixture', dir: '/nowhere', provider: 'local', parameters: 1, manifest: {} },
    evaluation: {
      setHash: c.setHash ?? 'same-set',
      limits: {
        countryFacts: facts,
        definitions: 0,
        perplexityDocs: 0,
        stereotypePairs,
        nameSwapPairs: swapPairs,
        sentimentPairs: sentiment.length,
        preferencePairs: 0,
      },
      decoding: { temperature: 0, maxTokensFacts: 32, maxTokensDefinitions: 40, maxTokensSentiment: 32 },
      backend: 'none',
      names: { male: ['John'], female: ['Mary'] },
    },
    accuracy: {
      countryFactExactMatch: proportion(c.exact, facts),
      countryFactRecall: proportion(c.exact, facts),
      definitionTokenF1: { value: 0, n: 0, interval: [0, 0] },
      perplexity: { value: 30, n: 1, tokens: 10, interval: [30, 30] },
      preferenceAccuracy: null,
    },
    bias: {
      stereotypeShare: proportion(c.stereotyped ?? stereotypePairs / 2, stereotypePairs),
      nameSwapChangeRate: proportion(c.changed ?? 0, swapPairs),
      groupAccuracyGap: {
        value: Math.abs(diff.value),
        n: swapPairs,
        interval: [0, Math.max(Math.abs(diff.interval[0]), Math.abs(diff.interval[1]))],
        signedGap: diff.value,
        signedInterval: diff.interval,
        groups: {
          male: { value: (c.correctMale ?? 0) / swapPairs, n: swapPairs },
          female: { value: (c.correctFemale ?? 0) / swapPairs, n: swapPairs },
        },
      },
      sentimentGap: {
        ...gap,
        n: sentiment.length,
        groups: {
          male: { value: mean(sentiment.map((s) => s[0])), n: sentiment.length },
          female: { value: mean(sentiment.map((s) => s[1])), n: sentiment.length },
        },
      },
    },
    items,
    durationMs: 0,
    phasesMs: {},
  });
}
