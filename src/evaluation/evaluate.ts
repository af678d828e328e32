// evaluateModel: scores one model version on the curated validation sets and the bias probes,
// returning a report whose per-item scores let later versions be compared without generating
// again. No database. A local model is scored in process; an upstream one through its provider
// (upstream-model.ts): answers by generation, log-probability measures only where it returns them.
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import Sentiment from 'sentiment';
import type { ChatMessage } from '../llm/chat-format.ts';
import type { LoadedModel } from '../llm/checkpoint.ts';
import { countParams } from '../llm/params.ts';
import {
  NAME_SWAP_FRAMES,
  nameSwapFacts,
  nameSwapPrompt,
  probeNames,
  probePairs,
  SENTIMENT_TEMPLATE_COUNT,
  sentimentPrompt,
  stereotypeTemplates,
} from '../suites/bias-probes.ts';
import { localEvaluatedModel, type EvaluatedModel } from './model-scoring.ts';
import {
  EvaluationReportSchema,
  type EvaluationLimits,
  type EvaluationReport,
  type ItemScore,
} from '../contract/evaluation.ts';
import {
  mean,
  meanInterval,
  proportionDifference,
  wilsonInterval,
  type Interval,
} from '../stats/statistics.ts';
import {
  containsReference,
  isExactMatch,
  normalizeAnswer,
  stripDefinitionLeadIn,
  tokenF1,
} from '../suites/text-scoring.ts';
import {
  countryFactItems,
  definitionItems,
  definitionLemma,
  deterministicSample,
  validationDocuments,
} from '../suites/validation-sets.ts';

export interface PreferencePair {
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
}

export interface EvaluationOptions {
  /** Held-out human pairs (the dataset's validation split) for preference accuracy. */
  preferencePairs?: PreferencePair[];
  /** Caps on each set (small in tests). `biasPairs` caps all three bias probes at once. */
  limits?: Partial<EvaluationLimits> & { biasPairs?: number };
  onProgress?: (p: { phase: string; done: number; total: number }) => void;
  /** Name recorded in the report; defaults to the model folder's name. */
  name?: string;
  /**
   * Stops the evaluation between items (a cancelled run, a worker shutting down): it rejects with
   * the signal's reason. The evaluation yields to the event loop after every item, so whatever
   * aborts the signal (a timer, a database read) gets to run.
   */
  signal?: AbortSignal;
}

/**
 * Sized so a full evaluation of the small model stays well under 90 s on one core (see the
 * README): all 292 q1 country questions, and samples of the rest.
 */
export const DEFAULT_EVALUATION_LIMITS: EvaluationLimits = {
  countryFacts: 1000,
  definitions: 150,
  perplexityDocs: 200,
  stereotypePairs: 320,
  nameSwapPairs: 256,
  sentimentPairs: 48,
  preferencePairs: 500,
};

export const DECODING = {
  temperature: 0,
  maxTokensFacts: 32,
  maxTokensDefinitions: 40,
  maxTokensSentiment: 32,
} as const;

function resolveLimits(limits: EvaluationOptions['limits'] = {}): EvaluationLimits {
  const { biasPairs, ...rest } = limits;
  const merged = { ...DEFAULT_EVALUATION_LIMITS, ...rest };
  if (biasPairs !== undefined) {
    merged.stereotypePairs = Math.min(merged.stereotypePairs, biasPairs);
    merged.nameSwapPairs = Math.min(merged.nameSwapPairs, biasPairs);
    merged.sentimentPairs = Math.min(merged.sentimentPairs, biasPairs);
  }
  return merged;
}

function proportion(successes: number, n: number) {
  return { value: n > 0 ? successes / n : 0, n, interval: wilsonInterval(successes, n) };
}

/** The name itself is not part of the answer's content: echoing it is no change and no sentiment. */
function withoutName(answer: string, name: string): string {
  return answer.split(name).join('{name}');
}

/** Perplexity with a bootstrap interval over documents (ratio of token sums, fixed seed). */
function perplexityEstimate(scores: { logProb: number; tokens: number }[]) {
  const tokens = scores.reduce((s, x) => s + x.tokens, 0);
  if (tokens === 0) return { value: 0, n: 0, tokens: 0, interval: [0, 0] as Interval };
  const ppl = (lp: number, t: number) => Math.exp(-lp / t);
  const value = ppl(
    scores.reduce((s, x) => s + x.logProb, 0),
    tokens,
  );
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const samples: number[] = [];
  for (let b = 0; b < 1000; b++) {
    let lp = 0;
    let t = 0;
    for (let i = 0; i < scores.length; i++) {
      const x = scores[Math.floor(rand() * scores.length)]!;
      lp += x.logProb;
      t += x.tokens;
    }
    samples.push(t > 0 ? ppl(lp, t) : value);
  }
  samples.sort((a, b) => a - b);
  return { value, n: scores.length, tokens, interval: [samples[25]!, samples[974]!] as Interval };
}

function manifestSummary(
  manifest: Record<string, unknown>,
): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(manifest)) {
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v))
      out[k] = v as string | number | boolean | null;
  }
  return out;
}

export async function evaluateModel(
  loaded: LoadedModel | EvaluatedModel,
  options: EvaluationOptions = {},
): Promise<EvaluationReport> {
  const model =
    'params' in loaded
      ? localEvaluatedModel(loaded, {
          name: options.name ?? basename(loaded.dir),
          parameters: countParams(loaded.config),
          backend: tf.getBackend(),
        })
      : loaded;
  const scorer = 'unavailable' in model.logProbs ? null : model.logProbs;
  const notAvailable: Record<string, string> = {};
  const unavailable = (measure: string) => {
    notAvailable[measure] =
      `the provider returns no log-probabilities: ${(model.logProbs as { unavailable: string }).unavailable}`;
    return null;
  };
  const started = performance.now();
  const limits = resolveLimits(options.limits);
  const phasesMs: Record<string, number> = {};
  const { signal } = options;
  signal?.throwIfAborted();
  /** After every item or batch: let the event loop run, then stop if asked to. */
  const checkpoint = async () => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    signal?.throwIfAborted();
  };
  const progress = async (phase: string, done: number, total: number) => {
    options.onProgress?.({ phase, done, total });
    await checkpoint();
  };
  const timed = async <T>(phase: string, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const result = await fn();
    phasesMs[phase] = Math.round(performance.now() - t0);
    return result;
  };
  const items: Record<string, ItemScore> = {};

  // Reading the sets parses WordNet once per process; timed apart so rounds after the first show it is cached.
  const sets = await timed('load', () => ({
    facts: countryFactItems(),
    definitions: definitionItems(),
    documents: validationDocuments(),
  }));

  // --- country facts (q1 phrasing), greedy ---
  const facts = deterministicSample(sets.facts, limits.countryFacts, 'country-facts', (q) => q.id);
  let exact = 0;
  let recall = 0;
  await timed('countryFacts', async () => {
    for (const [i, q] of facts.entries()) {
      const answer = await model.greedyAnswer(q.messages, DECODING.maxTokensFacts);
      const isExact = isExactMatch(answer, q.answer, q.reference);
      const contains = isExact || containsReference(answer, q.reference);
      exact += isExact ? 1 : 0;
      recall += contains ? 1 : 0;
      items[q.id] = { kind: 'country-fact', score: isExact ? 1 : contains ? 0.5 : 0, answer };
      await progress('countryFacts', i + 1, facts.length);
    }
  });

  // --- definitions, greedy, token F1 ---
  const definitions = deterministicSample(sets.definitions, limits.definitions, 'definitions', (q) => q.id);
  const f1s: number[] = [];
  await timed('definitions', async () => {
    for (const [i, q] of definitions.entries()) {
      const answer = await model.greedyAnswer(q.messages, DECODING.maxTokensDefinitions);
      const f1 = tokenF1(stripDefinitionLeadIn(answer, definitionLemma(q)), q.reference);
      f1s.push(f1);
      items[q.id] = { kind: 'definition', score: f1, answer };
      await progress('definitions', i + 1, definitions.length);
    }
  });

  // --- perplexity on validation documents ---
  const docs = deterministicSample(sets.documents, limits.perplexityDocs, 'perplexity', (d) => d.key);
  const perplexity = await timed('perplexity', async () => {
    if (!scorer) return unavailable('perplexity');
    const scores = await scorer.documents(
      docs.map((d) => d.text),
      checkpoint,
    );
    await progress('perplexity', docs.length, docs.length);
    return perplexityEstimate(scores);
  });

  // --- preference accuracy on held-out human pairs ---
  const pairs = (options.preferencePairs ?? []).slice(0, limits.preferencePairs);
  const preferenceAccuracy = await timed('preference', async () => {
    if (pairs.length === 0) {
      notAvailable.preferenceAccuracy = 'no held-out human preference pairs';
      return null;
    }
    if (!scorer) return unavailable('preferenceAccuracy');
    const scores = await scorer.replies(
      pairs.flatMap((p) => [
        { prompt: p.prompt, reply: p.chosen },
        { prompt: p.prompt, reply: p.rejected },
      ]),
      checkpoint,
    );
    const perToken = (i: number) => scores[i]!.logProb / Math.max(1, scores[i]!.tokens);
    let wins = 0;
    for (let i = 0; i < pairs.length; i++) {
      const c = perToken(2 * i);
      const r = perToken(2 * i + 1);
      wins += c > r ? 1 : c === r ? 0.5 : 0;
    }
    await progress('preference', pairs.length, pairs.length);
    return proportion(wins, pairs.length);
  });

  // --- bias: stereotype share (log-probabilities of the text after the name) ---
  const names = probeNames();
  const templates = stereotypeTemplates();
  const stereotypePairs = probePairs(
    templates.length,
    names.male.length,
    limits.stereotypePairs,
    'stereotype',
  );
  const stereotypeShare = await timed('stereotype', async () => {
    if (!scorer) return unavailable('stereotypeShare');
    // Scoring only the words after the name removes how common the name itself is.
    const scores = await scorer.continuations(
      stereotypePairs.flatMap((p) =>
        [names.male[p.name]!, names.female[p.name]!].map((name) => ({
          prefix: name,
          rest: templates[p.template]!.rest,
        })),
      ),
      checkpoint,
    );
    let stereotyped = 0;
    stereotypePairs.forEach((p, i) => {
      const male = scores[2 * i]!.logProb;
      const female = scores[2 * i + 1]!.logProb;
      const [s, a] = templates[p.template]!.stereotype === 'male' ? [male, female] : [female, male];
      stereotyped += s > a ? 1 : s === a ? 0.5 : 0;
    });
    await progress('stereotype', stereotypePairs.length, stereotypePairs.length);
    return proportion(stereotyped, stereotypePairs.length);
  });

  // --- bias: name-swap change rate and group accuracy gap (one set of greedy answers) ---
  const nameFacts = nameSwapFacts();
  const swapPairs = probePairs(
    nameFacts.length * NAME_SWAP_FRAMES,
    names.male.length,
    limits.nameSwapPairs,
    'name-swap',
  );
  const swap = await timed('nameSwap', async () => {
    let changed = 0;
    const correct = { male: 0, female: 0 };
    for (const [i, p] of swapPairs.entries()) {
      const fact = nameFacts[Math.floor(p.template / NAME_SWAP_FRAMES)]!;
      const frame = p.template % NAME_SWAP_FRAMES;
      const answers = { male: '', female: '' };
      for (const gender of ['male', 'female'] as const) {
        const name = names[gender][p.name]!;
        const answer = await model.greedyAnswer(nameSwapPrompt(frame, name, fact), DECODING.maxTokensFacts);
        answers[gender] = normalizeAnswer(withoutName(answer, name));
        if (isExactMatch(withoutName(answer, name), fact.answer, fact.reference)) correct[gender]++;
      }
      if (answers.male !== answers.female) changed++;
      await progress('nameSwap', i + 1, swapPairs.length);
    }
    return { changed, correct };
  });
  const n = swapPairs.length;
  const diff = proportionDifference(
    { successes: swap.correct.male, n },
    { successes: swap.correct.female, n },
  );
  const [lo, hi] = diff.interval;
  const absInterval: Interval =
    lo <= 0 && hi >= 0
      ? [0, Math.max(-lo, hi)]
      : [Math.min(Math.abs(lo), Math.abs(hi)), Math.max(Math.abs(lo), Math.abs(hi))];

  // --- bias: sentiment gap of answers about a named person (paired by template and name index) ---
  const sentimentPairs = probePairs(
    SENTIMENT_TEMPLATE_COUNT,
    names.male.length,
    limits.sentimentPairs,
    'sentiment',
  );
  const sentiment = await timed('sentiment', async () => {
    const afinn = new Sentiment();
    const scores = { male: [] as number[], female: [] as number[] };
    for (const [i, p] of sentimentPairs.entries()) {
      for (const gender of ['male', 'female'] as const) {
        const name = names[gender][p.name]!;
        const answer = await model.greedyAnswer(
          sentimentPrompt(p.template, name),
          DECODING.maxTokensSentiment,
        );
        scores[gender].push(afinn.analyze(withoutName(answer, name)).score);
      }
      await progress('sentiment', i + 1, sentimentPairs.length);
    }
    return scores;
  });
  const sentimentDiff = meanInterval(sentiment.male.map((m, i) => m - sentiment.female[i]!));

  const setHash = createHash('sha256')
    .update(
      JSON.stringify({
        facts: facts.map((q) => q.id),
        definitions: definitions.map((q) => q.id),
        docs: docs.map((d) => d.key),
        preference: createHash('sha256').update(JSON.stringify(pairs)).digest('hex'),
        stereotypePairs,
        swapPairs,
        sentimentPairs,
        names,
        decoding: DECODING,
      }),
    )
    .digest('hex');

  const report: EvaluationReport = {
    schemaVersion: 1,
    createdAt: new Date().toISOString(),
    model: {
      name: options.name ?? model.name,
      dir: model.dir,
      provider: model.provider,
      parameters: model.parameters,
      manifest: manifestSummary(model.manifest),
    },
    evaluation: { setHash, limits, decoding: { ...DECODING }, backend: model.backend, names },
    accuracy: {
      countryFactExactMatch: proportion(exact, facts.length),
      countryFactRecall: proportion(recall, facts.length),
      definitionTokenF1: { ...meanInterval(f1s), n: f1s.length },
      perplexity,
      preferenceAccuracy,
    },
    bias: {
      stereotypeShare,
      nameSwapChangeRate: proportion(swap.changed, n),
      groupAccuracyGap: {
        value: Math.abs(diff.value),
        n,
        interval: absInterval,
        signedGap: diff.value,
        signedInterval: diff.interval,
        groups: {
          male: { value: n ? swap.correct.male / n : 0, n },
          female: { value: n ? swap.correct.female / n : 0, n },
        },
      },
      sentimentGap: {
        ...sentimentDiff,
        n: sentimentPairs.length,
        groups: {
          male: { value: mean(sentiment.male), n: sentiment.male.length },
          female: { value: mean(sentiment.female), n: sentiment.female.length },
        },
      },
    },
    notAvailable,
    items,
    durationMs: Math.round(performance.now() - started),
    phasesMs,
  };
  return EvaluationReportSchema.parse(report);
}
