// The curated validation sets a model version is evaluated on. None of them ever enters training:
// the corpus leaves them out, and the datasets guard drops any feedback row whose prompt is one of
// evaluationPrompts().
//
// Country facts: every held-out country relation has two question phrasings. The product's
// simulated users ask the FIRST phrasing (ids ending ':q0'), so feedback can teach a held-out fact
// in those words; q0 prompts are therefore not evaluation prompts and may reach datasets. The
// evaluation asks only the SECOND phrasing (':q1'), in words no training row used, so it measures
// whether feedback taught the fact itself rather than one question string.
//
// Definitions: the held-out WordNet definition questions (one phrasing each; none is asked by the
// simulated users). Perplexity: a fixed sample of the corpus validation documents.
import type { ChatMessage } from '../llm/chat-format.ts';
import { countryDocuments, wordnetDocuments, type QuestionItem } from '../llm/corpus/documents.ts';
import { readCountries } from '../llm/corpus/countries.ts';
import { isValidationDocument } from '../llm/corpus/split.ts';
import { PARTS_OF_SPEECH, readPrimarySenses, readSynsets } from '../llm/corpus/wordnet.ts';
import { fnv1a } from '../llm/rng.ts';
import { biasProbePrompts } from './bias-probes.ts';

export interface ValidationDocument {
  key: string;
  text: string;
}

interface Sources {
  questions: QuestionItem[];
  documents: ValidationDocument[];
}

const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
const validationOnly = (documents: readonly { key: string; text: string }[]): ValidationDocument[] =>
  documents.filter((d) => isValidationDocument(d.key)).map((d) => ({ key: d.key, text: d.text }));

let countrySources: Sources | undefined;
let wordSources: Sources | undefined;

/** The country part of the corpus sources, read once per process (fast). */
function loadCountries(): Sources {
  if (countrySources) return countrySources;
  const countries = countryDocuments(readCountries());
  countrySources = { questions: countries.questions, documents: validationOnly(countries.documents) };
  return countrySources;
}

/**
 * The WordNet part, read once per process (about 4 s: WordNet is parsed in full), keeping only what
 * evaluation needs; the 44M-character training corpus is never assembled here.
 */
function loadWords(): Sources {
  if (wordSources) return wordSources;
  const synsets = PARTS_OF_SPEECH.flatMap((pos) => readSynsets(pos));
  const senses = PARTS_OF_SPEECH.flatMap((pos) => readPrimarySenses(pos));
  const words = wordnetDocuments(synsets, senses);
  wordSources = { questions: words.questions, documents: validationOnly(words.documents) };
  return wordSources;
}

/**
 * A deterministic subset of `limit` items: ordered by a salted hash of the id (not by id, which
 * would pick alphabetically adjacent countries or words), then returned in id order.
 */
export function deterministicSample<T>(
  items: readonly T[],
  limit: number,
  salt: string,
  idOf: (t: T) => string,
): T[] {
  if (limit >= items.length) return [...items];
  return [...items]
    .map((item) => ({ item, h: fnv1a(`${salt}|${idOf(item)}`) }))
    .sort((a, b) => a.h - b.h || idOf(a.item).localeCompare(idOf(b.item)))
    .slice(0, Math.max(0, limit))
    .map((x) => x.item)
    .sort((a, b) => idOf(a).localeCompare(idOf(b)));
}

/** Held-out country questions in their second phrasing (ids ending ':q1'), sorted by id. */
export function countryFactItems(): QuestionItem[] {
  return loadCountries()
    .questions.filter((q) => q.id.endsWith(':q1'))
    .sort(byId);
}

/** Held-out definition questions, sorted by id. */
export function definitionItems(): QuestionItem[] {
  return loadWords()
    .questions.filter((q) => q.kind === 'definition')
    .sort(byId);
}

/** The lemma a definition item asks about (ids are `definition:<pos>:<lemma>`). */
export function definitionLemma(item: QuestionItem): string {
  return item.id.split(':').slice(2).join(':');
}

/** Corpus validation documents (never trained on), sorted by key. */
export function validationDocuments(): ValidationDocument[] {
  return [...loadCountries().documents, ...loadWords().documents].sort(byKey);
}

/**
 * Every evaluation prompt: the q1 country questions, the held-out definition questions and every
 * bias probe (all names and templates, not just the sample one run uses). The datasets guard keeps
 * feedback on any of these out of training.
 */
export function evaluationPrompts(): ChatMessage[][] {
  return [...countryEvaluationPrompts(), ...definitionItems().map((q) => q.messages)];
}

/**
 * The evaluation prompts about countries: the q1 country questions and every bias probe (whose
 * questions are country facts too). Without WordNet, so callers that only compare country
 * questions (gold questions) need not parse it.
 */
export function countryEvaluationPrompts(): ChatMessage[][] {
  return [...countryFactItems().map((q) => q.messages), ...biasProbePrompts()];
}
