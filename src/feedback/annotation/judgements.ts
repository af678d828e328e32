// What several raters' judgements of the same items say, as pure functions: Krippendorff's alpha
// per rubric dimension with a bootstrap interval, each rater's agreement with the majority of the
// others, and each item's consensus weighted by rater trust (a tie gives no label).
import type { AgreementDimension } from '../../contract/annotation.ts';
import type { AnnotationJudgementRow } from '../feedback-rows.ts';
import { prepareAlpha, type MeasurementLevel } from '../../stats/krippendorff.ts';
import { bootstrapCountsInterval } from '../../stats/bootstrap.ts';
import { pushTo } from '../../platform/push-to.ts';

export type Judgement = Pick<
  AnnotationJudgementRow,
  'itemId' | 'raterId' | 'thumbs' | 'stars' | 'choice' | 'label'
>;

/** How stars become good (+1), neutral (0) or bad (-1), as in the dataset build config. */
export interface StarCutoffs {
  positiveMin: number;
  negativeMax: number;
}

export const DIMENSION_LEVELS: Record<AgreementDimension, MeasurementLevel> = {
  thumbs: 'nominal',
  stars: 'ordinal',
  pairwise: 'nominal',
  label: 'nominal',
};

function valueOf(j: Judgement, dimension: AgreementDimension): string | number | null {
  switch (dimension) {
    case 'thumbs':
      return j.thumbs === null ? null : j.thumbs > 0 ? 'up' : 'down';
    case 'stars':
      return j.stars;
    case 'pairwise':
      return j.choice;
    case 'label':
      return j.label;
  }
}

export function starPolarity(stars: number, cutoffs: StarCutoffs): -1 | 0 | 1 {
  if (stars >= cutoffs.positiveMin) return 1;
  if (stars <= cutoffs.negativeMax) return -1;
  return 0;
}

/**
 * A rater's verdict on a single answer: the sign of their thumbs plus their stars' polarity
 * (thumbs and stars on one answer are one verdict); null when they gave neither.
 */
export function verdictOf(j: Judgement, cutoffs: StarCutoffs): -1 | 0 | 1 | null {
  if (j.thumbs === null && j.stars === null) return null;
  const sum =
    (j.thumbs === null ? 0 : Math.sign(j.thumbs)) + (j.stars === null ? 0 : starPolarity(j.stars, cutoffs));
  return Math.sign(sum) as -1 | 0 | 1;
}

/** Judgements grouped by item, items in first-seen order. */
export function byItem<J extends Judgement>(judgements: readonly J[]): Map<string, J[]> {
  const items = new Map<string, J[]>();
  for (const j of judgements) pushTo(items, j.itemId, j);
  return items;
}

export interface DimensionAgreement {
  dimension: AgreementDimension;
  level: 'nominal' | 'ordinal';
  alpha: number | null;
  interval: [number, number] | null;
  items: number;
  judgements: number;
}

/**
 * Krippendorff's alpha per rubric dimension that has values (nominal for thumbs, pairwise choices
 * and labels, ordinal for stars), each with a percentile bootstrap 95% interval over items.
 */
export function agreementByDimension(
  judgements: readonly Judgement[],
  options: { resamples?: number; seed?: number } = {},
): DimensionAgreement[] {
  const items = [...byItem(judgements).values()];
  const out: DimensionAgreement[] = [];
  for (const dimension of Object.keys(DIMENSION_LEVELS) as AgreementDimension[]) {
    const level = DIMENSION_LEVELS[dimension] as 'nominal' | 'ordinal';
    const units = items
      .map((js) => js.map((j) => valueOf(j, dimension)).filter((v) => v !== null))
      .filter((u) => u.length > 0);
    if (units.length === 0) continue;
    const prepared = prepareAlpha(units, level);
    const result = prepared.result;
    const interval =
      result.alpha === null
        ? null
        : bootstrapCountsInterval(prepared.pairableUnits, prepared.ofCounts, {
            resamples: options.resamples ?? 1000,
            seed: options.seed ?? 1,
          });
    out.push({
      dimension,
      level,
      alpha: result.alpha,
      interval: interval ? [interval.low, interval.high] : null,
      items: result.units,
      judgements: units.reduce((s, u) => s + u.length, 0),
    });
  }
  return out;
}

/**
 * The most frequent value by summed weight, with its share of the weight and the largest weight
 * behind it; null on a tie for first place or without votes of positive weight.
 */
function plurality<T>(
  votes: readonly { value: T; weight: number }[],
): { value: T; share: number; strongest: number } | null {
  const totals = new Map<T, number>();
  let sum = 0;
  for (const v of votes) {
    if (v.weight <= 0) continue;
    totals.set(v.value, (totals.get(v.value) ?? 0) + v.weight);
    sum += v.weight;
  }
  const ranked = [...totals].sort((a, b) => b[1] - a[1]);
  if (ranked.length === 0 || (ranked.length > 1 && Math.abs(ranked[0]![1] - ranked[1]![1]) < 1e-12))
    return null;
  const value = ranked[0]![0];
  const strongest = Math.max(...votes.filter((v) => v.value === value).map((v) => v.weight));
  return { value, share: ranked[0]![1] / sum, strongest };
}

export interface RaterComparison {
  /** Items where the others had a majority on at least one dimension this rater judged. */
  comparisons: number;
  /** Sum over those items of the share of compared dimensions where this rater sided with it. */
  agreed: number;
}

/**
 * Each rater's agreement with the (unweighted) majority of the other raters on the same items:
 * per item, their good/bad verdict (from thumbs and stars), pairwise choice and label are each
 * compared with the others' majority when there is one; the item counts once, with the share of
 * dimensions agreed.
 */
export function agreementWithOthers(
  judgements: readonly Judgement[],
  cutoffs: StarCutoffs,
): Map<string, RaterComparison> {
  const result = new Map<string, RaterComparison>();
  for (const js of byItem(judgements).values()) {
    for (const own of js) {
      const others = js.filter((j) => j.raterId !== own.raterId);
      let compared = 0;
      let agreed = 0;
      const verdict = verdictOf(own, cutoffs);
      if (verdict !== null && verdict !== 0) {
        const sum = others.reduce((s, j) => s + (verdictOf(j, cutoffs) ?? 0), 0);
        if (sum !== 0) {
          compared++;
          if (Math.sign(sum) === verdict) agreed++;
        }
      }
      for (const key of ['choice', 'label'] as const) {
        const value = own[key];
        if (value === null) continue;
        const majority = plurality(
          others.filter((j) => j[key] !== null).map((j) => ({ value: j[key]!, weight: 1 })),
        );
        if (!majority) continue;
        compared++;
        if (majority.value === value) agreed++;
      }
      if (compared === 0) continue;
      const entry = result.get(own.raterId) ?? { comparisons: 0, agreed: 0 };
      entry.comparisons++;
      entry.agreed += agreed / compared;
      result.set(own.raterId, entry);
    }
  }
  return result;
}

export interface ConsensusPart<T> {
  value: T;
  /**
   * 0 to 1: the trust-weighted share of the item's raters behind the value, times the trust of its
   * most trusted supporter (three trusted raters agreeing give 1; two of them against a third, 2/3;
   * an excluded dissenter changes nothing; agreeing raters trusted 0.5 give 0.5).
   */
  weight: number;
}

export interface ItemConsensus<J extends Judgement = Judgement> {
  itemId: string;
  /** Good or bad (single answers, from thumbs and stars); null on a tie or without such judgements. */
  verdict: ConsensusPart<'good' | 'bad'> | null;
  /** The pairwise choice (pairs of answers). */
  choice: ConsensusPart<'a' | 'b' | 'tie' | 'both_bad'> | null;
  label: ConsensusPart<string> | null;
  /** Share of agreeing pairs of raters on the item (over its verdicts, choices and labels); null with one rater. */
  agreement: number | null;
  /** Raters who judged the item. */
  raters: number;
  judgements: J[];
}

/** Share of agreeing pairs among `values` (null with fewer than two). */
function pairAgreement<T>(values: readonly T[]): number | null {
  if (values.length < 2) return null;
  let agree = 0;
  let pairs = 0;
  for (let i = 0; i < values.length; i++) {
    for (let k = i + 1; k < values.length; k++) {
      pairs++;
      if (values[i] === values[k]) agree++;
    }
  }
  return agree / pairs;
}

/**
 * Each item's label by majority weighted by rater trust; a tie (or only raters of no trust) gives
 * no label. Items are in first-seen order.
 */
export function consensusLabels<J extends Judgement>(
  judgements: readonly J[],
  trust: (raterId: string) => number,
  cutoffs: StarCutoffs,
): ItemConsensus<J>[] {
  const out: ItemConsensus<J>[] = [];
  for (const [itemId, js] of byItem(judgements)) {
    const weighted = <T>(pick: (j: J) => T | null) =>
      js.filter((j) => pick(j) !== null).map((j) => ({ value: pick(j)!, weight: trust(j.raterId) }));
    // Good against bad by trust; neutral verdicts (middling stars) count in the share only.
    const verdicts = weighted((j) => verdictOf(j, cutoffs)).filter((v) => v.weight > 0);
    let verdict: ItemConsensus['verdict'] = null;
    const total = verdicts.reduce((s, v) => s + v.weight, 0);
    const net = verdicts.reduce((s, v) => s + v.weight * v.value, 0);
    if (total > 0 && Math.abs(net) > 1e-12) {
      const side = Math.sign(net);
      const behind = verdicts.filter((v) => v.value === side);
      const share = behind.reduce((s, v) => s + v.weight, 0) / total;
      const strongest = Math.max(...behind.map((v) => v.weight));
      verdict = { value: side > 0 ? 'good' : 'bad', weight: share * strongest };
    }
    const part = <T>(p: { value: T; share: number; strongest: number } | null): ConsensusPart<T> | null =>
      p ? { value: p.value, weight: p.share * p.strongest } : null;
    const choice = part(plurality(weighted((j) => j.choice)));
    const label = part(plurality(weighted((j) => j.label)));
    const agreements = [
      pairAgreement(js.map((j) => verdictOf(j, cutoffs)).filter((v) => v !== null)),
      pairAgreement(js.map((j) => j.choice).filter((v) => v !== null)),
      pairAgreement(js.map((j) => j.label).filter((v) => v !== null)),
    ].filter((a) => a !== null);
    out.push({
      itemId,
      verdict,
      choice,
      label,
      agreement: agreements.length ? agreements.reduce((s, a) => s + a, 0) / agreements.length : null,
      raters: new Set(js.map((j) => j.raterId)).size,
      judgements: js,
    });
  }
  return out;
}
