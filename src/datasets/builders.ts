// The dataset builders: pure functions from feedback rows to training examples in the field names
// of Hugging Face TRL (conversational form), then one pipeline that applies rater trust, hygiene,
// the split and augmentation and hashes the result.
import { createHash } from 'node:crypto';
import type { ChatMessage } from '../llm/index.ts';
import type { DatasetBuildConfig } from '../contract/dataset-build-config.ts';
import type { AnswerRow, FeedbackRows, RatingRow, VoteRow } from '../feedback/feedback-rows.ts';
import { dropNearDuplicates, promptVariants, scrubPii, splitOf } from './hygiene.ts';
import { isContaminated } from '../suites/contamination.ts';
import { assessRaters, ratingPolarity, trustOf, type RaterAssessment } from '../feedback/raters/raters.ts';
import { consensusLabels, verdictOf, type ItemConsensus } from '../feedback/annotation/judgements.ts';
import type { AnnotationJudgementRow } from '../feedback/feedback-rows.ts';

/** Bumped when the export layout changes, so old and new snapshots never share a hash. */
export const DATASET_FORMAT_VERSION = 1;
import {
  DATASET_FORMATS,
  DATASET_SPLITS,
  type DatasetFormat,
  type DatasetSplit,
} from '../contract/datasets.ts';
import { pushTo } from '../platform/push-to.ts';

/**
 * Where an example's label came from. `implicit` is weak (behaviour, not a judgement); `consensus`
 * is the trust-weighted majority of several raters on an annotation queue item.
 */
export type ExampleSource = 'correction' | 'rating' | 'vote' | 'thumbs' | 'stars' | 'implicit' | 'consensus';
export type FeedbackKind = 'rating' | 'pairwise_vote' | 'correction' | 'implicit_event';
export interface FeedbackRef {
  kind: FeedbackKind;
  id: string;
  /** Implicit events only: their ids are the client's own, unique per user (not across users). */
  userId?: string;
}

/** A feedback row's identity in lineage: kind and id, and the user for implicit events. */
export const feedbackRefKey = (ref: FeedbackRef) => `${ref.kind}:${ref.userId ?? ''}:${ref.id}`;

/** Lineage order: by kind and id, then user (two users' events may share an id). */
export function compareFeedbackRefs(a: FeedbackRef, b: FeedbackRef): number {
  const ka = a.kind + a.id;
  const kb = b.kind + b.id;
  if (ka !== kb) return ka < kb ? -1 : 1;
  const ua = a.userId ?? '';
  const ub = b.userId ?? '';
  return ua < ub ? -1 : ua > ub ? 1 : 0;
}

/** The annotation queue item a consensus example came from, as lineage records it. */
export interface AnnotationRef {
  itemId: string;
  consensus: { verdict?: 'good' | 'bad'; choice?: 'a' | 'b' | 'tie' | 'both_bad'; label?: string };
  weight: number;
  /** Share of agreeing pairs of raters on the item; null with one rater. */
  agreement: number | null;
  raters: number;
}

interface ExampleBase {
  /** The conversation up to and including the user's prompt. */
  prompt: ChatMessage[];
  source: ExampleSource;
  /** How much the example should count in training, 0..1 (rater trust, or the weak-label weight). */
  weight: number;
  synthetic: boolean;
  feedback: FeedbackRef[];
  answerIds: string[];
  /** For `consensus` examples: the queue item and its agreement. */
  annotation?: AnnotationRef;
}
export type SftExample = ExampleBase & { format: 'sft'; completion: string };
export type PreferenceExample = ExampleBase & { format: 'preference'; chosen: string; rejected: string };
export type KtoExample = ExampleBase & { format: 'kto'; completion: string; label: boolean };
export type Example = SftExample | PreferenceExample | KtoExample;

type Trust = (userId: string) => number;

const round = (x: number) => Math.round(x * 1e4) / 1e4;
const ratingRef = (r: RatingRow): FeedbackRef => ({ kind: 'rating', id: r.id });

/** Answers a moderator judged bad (approved correction or flag): never copied, never "chosen". */
function badAnswers(rows: FeedbackRows): Set<string> {
  return new Set([...rows.corrections.map((c) => c.messageId), ...rows.flags.map((f) => f.messageId)]);
}

function ratingsByAnswer(
  rows: FeedbackRows,
  kind: RatingRow['kind'],
  trust: Trust,
): Map<string, RatingRow[]> {
  const map = new Map<string, RatingRow[]>();
  for (const r of rows.ratings) {
    if (r.kind !== kind || trust(r.userId) <= 0) continue;
    pushTo(map, r.messageId, r);
  }
  return map;
}

/** Trust-weighted thumbs per answer: sum of trust × (±1). */
function thumbsScores(
  rows: FeedbackRows,
  trust: Trust,
): Map<string, { score: number; ratings: RatingRow[] }> {
  const out = new Map<string, { score: number; ratings: RatingRow[] }>();
  for (const [id, ratings] of ratingsByAnswer(rows, 'thumbs', trust)) {
    out.set(id, { score: ratings.reduce((s, r) => s + trust(r.userId) * Math.sign(r.value), 0), ratings });
  }
  return out;
}

/** Trust-weighted mean stars per answer, with the total trust behind it. */
function starMeans(
  rows: FeedbackRows,
  trust: Trust,
): Map<string, { mean: number; support: number; ratings: RatingRow[] }> {
  const out = new Map<string, { mean: number; support: number; ratings: RatingRow[] }>();
  for (const [id, ratings] of ratingsByAnswer(rows, 'stars', trust)) {
    const support = ratings.reduce((s, r) => s + trust(r.userId), 0);
    out.set(id, {
      mean: ratings.reduce((s, r) => s + trust(r.userId) * r.value, 0) / support,
      support,
      ratings,
    });
  }
  return out;
}

export type Consensus = ItemConsensus<AnnotationJudgementRow>;

/** Consensus labels of the annotation queue items in `rows`, under the raters' trust. */
function itemConsensus(rows: FeedbackRows, config: DatasetBuildConfig, trust: Trust): Consensus[] {
  return consensusLabels(rows.annotations ?? [], trust, config.stars);
}

function annotationRef(c: Consensus, weight: number): AnnotationRef {
  return {
    itemId: c.itemId,
    consensus: {
      ...(c.verdict ? { verdict: c.verdict.value } : {}),
      ...(c.choice ? { choice: c.choice.value } : {}),
      ...(c.label ? { label: c.label.value } : {}),
    },
    weight: round(weight),
    agreement: c.agreement === null ? null : round(c.agreement),
    raters: c.raters,
  };
}

/** Single answers whose queue consensus is `value`. */
function consensusVerdicts(consensus: Consensus[], value: 'good' | 'bad'): Map<string, Consensus> {
  const out = new Map<string, Consensus>();
  for (const c of consensus) {
    const j = c.judgements[0]!;
    if (j.messageBId === null && c.verdict?.value === value) out.set(j.messageId, c);
  }
  return out;
}

/** Sibling answers (same prompt), each group sorted by id. */
function siblings(answers: AnswerRow[]): AnswerRow[][] {
  const groups = new Map<string, AnswerRow[]>();
  for (const a of answers) pushTo(groups, a.parentId, a);
  return [...groups.values()].filter((g) => g.length > 1);
}

/**
 * SFT: approved corrections (the corrected text), and answers with a top rating (thumbs up or
 * `sft.minStars`) from a rater trusted at least `sft.minRaterTrust`, unless the trust-weighted
 * ratings on the answer lean negative, a moderator judged it bad or an annotation queue's consensus
 * found it bad. Answers a queue's consensus found good enter too, when the consensus weight reaches
 * `sft.minRaterTrust` and a rater trusted that much gave them a top rating.
 */
export function buildSft(rows: FeedbackRows, config: DatasetBuildConfig, trust: Trust): SftExample[] {
  const answers = new Map(rows.answers.map((a) => [a.id, a]));
  const consensus = itemConsensus(rows, config, trust);
  const bad = new Set([...badAnswers(rows), ...consensusVerdicts(consensus, 'bad').keys()]);
  const ratingsOf = new Map<string, RatingRow[]>();
  for (const r of rows.ratings) pushTo(ratingsOf, r.messageId, r);
  const out: SftExample[] = [];
  for (const c of rows.corrections) {
    const a = answers.get(c.messageId);
    if (!a) continue;
    out.push({
      format: 'sft',
      prompt: a.context,
      completion: c.correctedText,
      source: 'correction',
      weight: 1,
      synthetic: false,
      feedback: [{ kind: 'correction', id: c.id }],
      answerIds: [a.id],
    });
  }
  for (const a of rows.answers) {
    if (bad.has(a.id)) continue;
    const rated = (ratingsOf.get(a.id) ?? []).filter((r) => trust(r.userId) > 0);
    const net = rated.reduce((s, r) => s + trust(r.userId) * ratingPolarity(r, config), 0);
    const top = rated.filter(
      (r) =>
        trust(r.userId) >= config.sft.minRaterTrust &&
        (r.kind === 'thumbs' ? r.value > 0 : r.value >= config.sft.minStars),
    );
    if (top.length === 0 || net <= 0) continue;
    out.push({
      format: 'sft',
      prompt: a.context,
      completion: a.content,
      source: 'rating',
      weight: round(Math.max(...top.map((r) => trust(r.userId)))),
      synthetic: false,
      feedback: top.map(ratingRef),
      answerIds: [a.id],
    });
  }
  for (const [answerId, c] of consensusVerdicts(consensus, 'good')) {
    const a = answers.get(answerId);
    if (!a || bad.has(a.id) || c.verdict!.weight < config.sft.minRaterTrust) continue;
    const top = c.judgements.some(
      (j) =>
        trust(j.raterId) >= config.sft.minRaterTrust &&
        verdictOf(j, config.stars) === 1 &&
        ((j.thumbs ?? 0) > 0 || (j.stars ?? 0) >= config.sft.minStars),
    );
    if (!top) continue;
    out.push({
      format: 'sft',
      prompt: a.context,
      completion: a.content,
      source: 'consensus',
      weight: round(c.verdict!.weight),
      synthetic: false,
      feedback: [],
      answerIds: [a.id],
      annotation: annotationRef(c, c.verdict!.weight),
    });
  }
  return out;
}

function preferenceOf(
  chosen: AnswerRow,
  rejected: AnswerRow,
  source: ExampleSource,
  weight: number,
  feedback: FeedbackRef[],
): PreferenceExample {
  return {
    format: 'preference',
    prompt: chosen.context,
    chosen: chosen.content,
    rejected: rejected.content,
    source,
    weight: round(Math.min(1, weight)),
    synthetic: false,
    feedback,
    answerIds: [chosen.id, rejected.id],
  };
}

/**
 * Pairs from pairwise votes: trust-weighted, per pair of answers (ties and "both bad" give no pair),
 * in the order of the pairs' ids; none whose chosen answer is `bad`. `votes` in id order.
 */
export function votePreferences(
  votes: readonly VoteRow[],
  answers: ReadonlyMap<string, AnswerRow>,
  bad: ReadonlySet<string>,
  trust: Trust,
): PreferenceExample[] {
  const tallies = new Map<string, { low: string; high: string; score: number; refs: FeedbackRef[] }>();
  for (const v of votes) {
    const w = trust(v.userId);
    if (w <= 0 || (v.choice !== 'a' && v.choice !== 'b')) continue;
    const winner = v.choice === 'a' ? v.messageAId : v.messageBId;
    const [low, high] = [v.messageAId, v.messageBId].sort() as [string, string];
    const t = tallies.get(`${low}|${high}`) ?? { low, high, score: 0, refs: [] };
    t.score += winner === low ? w : -w; // positive: `low` preferred
    t.refs.push({ kind: 'pairwise_vote', id: v.id });
    tallies.set(`${low}|${high}`, t);
  }
  const out: PreferenceExample[] = [];
  for (const t of [...tallies.values()].sort((a, b) => (a.low + a.high < b.low + b.high ? -1 : 1))) {
    const low = answers.get(t.low);
    const high = answers.get(t.high);
    if (!low || !high || t.score === 0) continue;
    const [chosen, rejected] = t.score > 0 ? [low, high] : [high, low];
    if (!bad.has(chosen.id)) out.push(preferenceOf(chosen, rejected, 'vote', Math.abs(t.score), t.refs));
  }
  return out;
}

/** Pairs judged in annotation queues: the trust-weighted majority choice, when it is a or b. */
export function consensusPreferences(
  consensus: readonly Consensus[],
  answers: ReadonlyMap<string, AnswerRow>,
  bad: ReadonlySet<string>,
): PreferenceExample[] {
  const out: PreferenceExample[] = [];
  for (const c of consensus) {
    const j = c.judgements[0]!;
    if (j.messageBId === null || (c.choice?.value !== 'a' && c.choice?.value !== 'b')) continue;
    const a = answers.get(j.messageId);
    const b = answers.get(j.messageBId);
    if (!a || !b) continue;
    const [chosen, rejected] = c.choice.value === 'a' ? [a, b] : [b, a];
    if (bad.has(chosen.id)) continue;
    out.push({
      ...preferenceOf(chosen, rejected, 'consensus', c.choice.weight, []),
      weight: round(c.choice.weight),
      annotation: annotationRef(c, c.choice.weight),
    });
  }
  return out;
}

/**
 * Preference pairs: an approved correction over the original; pairwise votes (trust-weighted, per
 * pair of answers; ties and "both bad" give no pair); among answers to one prompt, thumbs-up over
 * thumbs-down and mean stars at least `preference.minStarGap` apart.
 */
export function buildPreference(
  rows: FeedbackRows,
  config: DatasetBuildConfig,
  trust: Trust,
): PreferenceExample[] {
  const answers = new Map(rows.answers.map((a) => [a.id, a]));
  const bad = badAnswers(rows);
  const out: PreferenceExample[] = [];
  const pair = (
    chosen: AnswerRow,
    rejected: AnswerRow,
    source: ExampleSource,
    weight: number,
    feedback: FeedbackRef[],
  ): void => {
    if (!bad.has(chosen.id)) out.push(preferenceOf(chosen, rejected, source, weight, feedback));
  };

  for (const c of rows.corrections) {
    const a = answers.get(c.messageId);
    if (!a) continue;
    out.push({
      format: 'preference',
      prompt: a.context,
      chosen: c.correctedText,
      rejected: a.content,
      source: 'correction',
      weight: 1,
      synthetic: false,
      feedback: [{ kind: 'correction', id: c.id }],
      answerIds: [a.id],
    });
  }
  out.push(...votePreferences(rows.votes, answers, bad, trust));
  out.push(...consensusPreferences(itemConsensus(rows, config, trust), answers, bad));

  const thumbs = thumbsScores(rows, trust);
  const stars = starMeans(rows, trust);
  for (const group of siblings(rows.answers)) {
    for (const x of group) {
      for (const y of group) {
        const tx = thumbs.get(x.id);
        const ty = thumbs.get(y.id);
        if (tx && ty && tx.score > 0 && ty.score < 0) {
          pair(x, y, 'thumbs', Math.min(tx.score, -ty.score), [...tx.ratings, ...ty.ratings].map(ratingRef));
        }
        const sx = stars.get(x.id);
        const sy = stars.get(y.id);
        if (sx && sy && sx.mean - sy.mean >= config.preference.minStarGap) {
          pair(
            x,
            y,
            'stars',
            Math.min(sx.support, sy.support),
            [...sx.ratings, ...sy.ratings].map(ratingRef),
          );
        }
      }
    }
  }
  return out;
}

/**
 * Unpaired (KTO) labels: trust-weighted thumbs; mean stars at or above `stars.positiveMin` (good)
 * or at or below `stars.negativeMax` (bad); approved corrections (original bad, correction good);
 * annotation queue consensus (good or bad, with its weight); and, only for answers with no
 * explicit label, weak labels from implicit events.
 */
export function buildKto(rows: FeedbackRows, config: DatasetBuildConfig, trust: Trust): KtoExample[] {
  const answers = new Map(rows.answers.map((a) => [a.id, a]));
  const out: KtoExample[] = [];
  const label = (
    a: AnswerRow,
    completion: string,
    good: boolean,
    source: ExampleSource,
    weight: number,
    feedback: FeedbackRef[],
    annotation?: AnnotationRef,
  ) =>
    out.push({
      format: 'kto',
      prompt: a.context,
      completion,
      label: good,
      source,
      weight: round(Math.min(1, weight)),
      synthetic: false,
      feedback,
      answerIds: [a.id],
      ...(annotation ? { annotation } : {}),
    });

  const explicit = new Set<string>();
  for (const c of rows.corrections) {
    const a = answers.get(c.messageId);
    if (!a) continue;
    explicit.add(a.id);
    label(a, a.content, false, 'correction', 1, [{ kind: 'correction', id: c.id }]);
    label(a, c.correctedText, true, 'correction', 1, [{ kind: 'correction', id: c.id }]);
  }
  const thumbs = thumbsScores(rows, trust);
  const stars = starMeans(rows, trust);
  for (const a of rows.answers) {
    const t = thumbs.get(a.id);
    if (t && t.score !== 0) {
      explicit.add(a.id);
      label(a, a.content, t.score > 0, 'thumbs', Math.abs(t.score), t.ratings.map(ratingRef));
    }
    const s = stars.get(a.id);
    if (s && (s.mean >= config.stars.positiveMin || s.mean <= config.stars.negativeMax)) {
      explicit.add(a.id);
      label(a, a.content, s.mean >= config.stars.positiveMin, 'stars', s.support, s.ratings.map(ratingRef));
    }
  }
  const consensus = itemConsensus(rows, config, trust);
  for (const value of ['good', 'bad'] as const) {
    for (const [answerId, c] of consensusVerdicts(consensus, value)) {
      const a = answers.get(answerId);
      if (!a || c.verdict!.weight <= 0) continue;
      explicit.add(a.id);
      const weight = c.verdict!.weight;
      label(a, a.content, value === 'good', 'consensus', weight, [], annotationRef(c, weight));
    }
  }

  if (!config.implicit.enabled) return out;
  const { weights, dwellMinMs, minScore, labelWeight } = config.implicit;
  const implicit = new Map<string, { score: number; refs: FeedbackRef[] }>();
  for (const e of rows.implicitEvents) {
    const w = weights[e.type as keyof typeof weights];
    if (!w || trust(e.userId) <= 0 || explicit.has(e.messageId)) continue;
    if (e.type === 'dwell' && (e.value ?? 0) < dwellMinMs) continue;
    const entry = implicit.get(e.messageId) ?? { score: 0, refs: [] };
    entry.score += w;
    entry.refs.push({ kind: 'implicit_event', id: e.id, userId: e.userId });
    implicit.set(e.messageId, entry);
  }
  for (const a of rows.answers) {
    const entry = implicit.get(a.id);
    if (entry && Math.abs(entry.score) >= minScore - 1e-9) {
      label(a, a.content, entry.score > 0, 'implicit', labelWeight, entry.refs);
    }
  }
  return out;
}

/** The example as one JSONL row, in TRL's conversational field names plus source/weight/synthetic. */
export function toTrlRow(example: Example): Record<string, unknown> {
  const meta = { source: example.source, weight: example.weight, synthetic: example.synthetic };
  const assistant = (content: string) => [{ role: 'assistant', content }];
  switch (example.format) {
    case 'sft':
      return { messages: [...example.prompt, ...assistant(example.completion)], ...meta };
    case 'preference':
      return {
        prompt: example.prompt,
        chosen: assistant(example.chosen),
        rejected: assistant(example.rejected),
        ...meta,
      };
    case 'kto':
      return {
        prompt: example.prompt,
        completion: assistant(example.completion),
        label: example.label,
        ...meta,
      };
  }
}

/** The text two examples are compared by for near-duplicates (label included: it is the content). */
export function comparableText(e: Example): string {
  const prompt = e.prompt.map((m) => m.content).join('\n');
  if (e.format === 'preference') return `${prompt}\n${e.chosen}\n${e.rejected}`;
  if (e.format === 'kto') return `${prompt}\n${e.completion}\n${e.label ? 'good' : 'bad'}`;
  return `${prompt}\n${e.completion}`;
}

export function scrubExample(e: Example): Example {
  const prompt = e.prompt.map((m) => ({ role: m.role, content: scrubPii(m.content) }));
  if (e.format === 'preference')
    return { ...e, prompt, chosen: scrubPii(e.chosen), rejected: scrubPii(e.rejected) };
  return { ...e, prompt, completion: scrubPii(e.completion) };
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export interface DatasetStats {
  raters: { total: number; trusted: number; downWeighted: number; excluded: number };
  /** Examples built before hygiene, by how their label was obtained. */
  labels: { explicit: number; implicit: number };
  dropped: { evaluationPrompts: number; nearDuplicates: number };
  piiScrubbedExamples: number;
  syntheticExamples: number;
}

export interface ExampleOfFormat {
  sft: SftExample;
  preference: PreferenceExample;
  kto: KtoExample;
}

export interface DatasetBuild {
  examples: { [F in DatasetFormat]: Record<DatasetSplit, ExampleOfFormat[F][]> };
  /** File name (`<format>.<split>.jsonl`) to its content. */
  files: Record<string, string>;
  sizes: Record<DatasetFormat, Record<DatasetSplit, number>>;
  /** Per format: real examples by source, and `synthetic` for augmented ones. */
  sizesBySource: Record<DatasetFormat, Record<string, number>>;
  stats: DatasetStats;
  raters: RaterAssessment[];
  /** Feedback rows, annotation queue items (with their consensus and agreement) and versions used. */
  lineage: { feedback: FeedbackRef[]; annotations: AnnotationRef[]; modelVersionIds: string[] };
  /** sha256 over the format version, the config (minus the window) and every file. */
  contentHash: string;
}

export const fileName = (format: DatasetFormat, split: DatasetSplit) => `${format}.${split}.jsonl`;

/**
 * Everything a snapshot holds, from rows and config alone: raters are assessed, the three
 * builders run with their trust, then evaluation prompts are removed, PII scrubbed, near-duplicates
 * dropped (the heavier example kept), prompts split by hash, and training prompts augmented.
 * `evaluationPrompts` are normalized evaluation questions (hygiene.evaluationPromptSet()).
 * Snapshots are built by the streamed build (./stream-build.ts), which gives exactly this for the
 * same rows in bounded memory; this in-memory form is its specification and the builders' tests.
 */
export function buildDataset(
  rows: FeedbackRows,
  config: DatasetBuildConfig,
  evaluationPrompts: ReadonlySet<string>,
): DatasetBuild {
  const raters = assessRaters(rows, config);
  const trust = trustOf(raters);
  const built: Record<DatasetFormat, Example[]> = {
    sft: buildSft(rows, config, trust),
    preference: buildPreference(rows, config, trust),
    kto: buildKto(rows, config, trust),
  };
  const all = DATASET_FORMATS.flatMap((f) => built[f]);
  const stats: DatasetStats = {
    raters: raterCounts(raters),
    labels: {
      explicit: all.filter((e) => e.source !== 'implicit').length,
      implicit: all.filter((e) => e.source === 'implicit').length,
    },
    dropped: { evaluationPrompts: 0, nearDuplicates: 0 },
    piiScrubbedExamples: 0,
    syntheticExamples: 0,
  };

  // Filled per format below; typed loosely here, precisely in DatasetBuild.
  const examples = {} as Record<DatasetFormat, Record<DatasetSplit, Example[]>>;
  for (const format of DATASET_FORMATS) {
    let list = built[format].filter((e) => !isContaminated(e.prompt, evaluationPrompts));
    stats.dropped.evaluationPrompts += built[format].length - list.length;
    if (config.hygiene.scrubPii) {
      list = list.map((e) => {
        const scrubbed = scrubExample(e);
        if (comparableText(scrubbed) !== comparableText(e)) stats.piiScrubbedExamples++;
        return scrubbed;
      });
    }
    // Heaviest first, then by text, so the kept duplicate is the best-supported one and the order
    // never depends on the database.
    const ordered = list
      .map((e) => ({ e, text: comparableText(e) }))
      .sort((a, b) => b.e.weight - a.e.weight || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
      .map(({ e }) => e);
    const { kept, dropped } = dropNearDuplicates(
      ordered,
      comparableText,
      config.hygiene.nearDuplicateThreshold,
    );
    stats.dropped.nearDuplicates += dropped;

    const train = kept.filter((e) => splitOf(e.prompt, config.hygiene.validationPercent) === 'train');
    const validation = kept.filter(
      (e) => splitOf(e.prompt, config.hygiene.validationPercent) === 'validation',
    );
    if (config.augmentation.formats.includes(format)) {
      const variants = train.flatMap((e) =>
        promptVariants(e.prompt, config.augmentation.variantsPerExample)
          .filter((p) => !isContaminated(p, evaluationPrompts))
          .map((prompt): Example => ({ ...e, prompt, synthetic: true })),
      );
      stats.syntheticExamples += variants.length;
      train.push(...variants);
    }
    examples[format] = { train, validation };
  }

  const files: Record<string, string> = {};
  const sizes = {} as DatasetBuild['sizes'];
  const sizesBySource = {} as DatasetBuild['sizesBySource'];
  const feedback = new Map<string, FeedbackRef>();
  const annotations = new Map<string, AnnotationRef>();
  const answerIds = new Set<string>();
  for (const format of DATASET_FORMATS) {
    sizes[format] = { train: 0, validation: 0 };
    sizesBySource[format] = {};
    for (const split of DATASET_SPLITS) {
      const lines = examples[format][split].map((e) => JSON.stringify(toTrlRow(e)));
      // Sorted by the hash of each line: a stable order that does not group by source or prompt.
      const order = lines
        .map((line, i) => ({ line, i, key: sha256(line) }))
        .sort((a, b) => (a.key < b.key ? -1 : 1));
      examples[format][split] = order.map(({ i }) => examples[format][split][i]!);
      files[fileName(format, split)] = order.map(({ line }) => `${line}\n`).join('');
      sizes[format][split] = lines.length;
      for (const e of examples[format][split]) {
        const key = e.synthetic ? 'synthetic' : e.source;
        sizesBySource[format][key] = (sizesBySource[format][key] ?? 0) + 1;
        for (const ref of e.feedback) feedback.set(feedbackRefKey(ref), ref);
        if (e.annotation) annotations.set(e.annotation.itemId, e.annotation);
        for (const id of e.answerIds) answerIds.add(id);
      }
    }
  }
  const modelVersionIds = [
    ...new Set(
      rows.answers.filter((a) => answerIds.has(a.id) && a.modelVersionId).map((a) => a.modelVersionId!),
    ),
  ].sort();
  const { window: _window, ...hashedConfig } = config;
  const contentHash = sha256(
    JSON.stringify({
      version: DATASET_FORMAT_VERSION,
      config: hashedConfig,
      files: Object.entries(files).sort(),
    }),
  );
  return {
    examples: examples as DatasetBuild['examples'],
    files,
    sizes,
    sizesBySource,
    stats,
    raters,
    lineage: {
      feedback: [...feedback.values()].sort(compareFeedbackRefs),
      annotations: [...annotations.values()].sort((a, b) => (a.itemId < b.itemId ? -1 : 1)),
      modelVersionIds,
    },
    contentHash,
  };
}

/** How many raters a build weighed, by their standing (the snapshot's stats). */
export function raterCounts(raters: readonly { status: string }[]): DatasetStats['raters'] {
  return {
    total: raters.length,
    trusted: raters.filter((r) => r.status === 'trusted').length,
    downWeighted: raters.filter((r) => r.status === 'down_weighted').length,
    excluded: raters.filter((r) => r.status === 'excluded').length,
  };
}
