// Turns WordNet synsets and country facts into corpus documents: plain statements in several
// phrasings plus chat-formatted Q&A, so the base model learns both the facts and the answer form.
import { formatChatExample, type ChatMessage } from '../chat-format.ts';
import { fnv1a } from '../rng.ts';
import { joinList, type CountryFacts } from './countries.ts';
import { isHeldOutQuestion, type QuestionKind } from './split.ts';
import type { PrimarySense, Synset } from './wordnet.ts';

export interface CorpusDocument {
  key: string;
  text: string;
}

/** A chat question with its expected answer; evaluation reuses these. */
export interface QuestionItem {
  id: string;
  kind: QuestionKind;
  messages: ChatMessage[];
  /** The full sentence the corpus uses as the assistant reply. */
  answer: string;
  /** The bare fact (e.g. "Paris") or definition, for exact-match / token-F1 scoring. */
  reference: string;
  /** True when the question's Q&A form was kept out of the pretraining corpus. */
  heldOut: boolean;
}

function pick<T>(key: string, options: readonly T[]): T {
  return options[fnv1a(key) % options.length]!;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function chatDocument(key: string, question: string, answer: string): CorpusDocument {
  return {
    key,
    text: formatChatExample([
      { role: 'user', content: question },
      { role: 'assistant', content: answer },
    ]),
  };
}

// ---------- countries ----------

interface CountryRelation {
  relation: string;
  statements: string[];
  questions: string[];
  answer: string;
  reference: string;
}

function countryRelations(c: CountryFacts): CountryRelation[] {
  const n = c.name;
  const out: CountryRelation[] = [];
  if (c.capitals.length) {
    const caps = joinList(c.capitals);
    const many = c.capitals.length > 1;
    out.push({
      relation: 'capital',
      statements: many
        ? [`The capitals of ${n} are ${caps}.`, `${n} has ${c.capitals.length} capitals: ${caps}.`]
        : [
            `The capital of ${n} is ${caps}.`,
            `${caps} is the capital city of ${n}.`,
            `${n}'s capital is ${caps}.`,
          ],
      questions: [`What is the capital of ${n}?`, `What is the capital city of ${n}?`],
      answer: many ? `The capitals of ${n} are ${caps}.` : `The capital of ${n} is ${caps}.`,
      reference: caps,
    });
  }
  out.push({
    relation: 'region',
    statements: [
      `${n} is located in ${c.region}.`,
      `${n} is a country in ${c.region}.`,
      `${n} lies in the ${c.region} region.`,
    ],
    questions: [`Which region is ${n} in?`, `In which region is ${n} located?`],
    answer: `${n} is in ${c.region}.`,
    reference: c.region,
  });
  if (c.subregion) {
    out.push({
      relation: 'subregion',
      statements: [
        `${n} is part of ${c.subregion}.`,
        `${n} lies in ${c.subregion}, in ${c.region}.`,
        `The subregion of ${n} is ${c.subregion}.`,
      ],
      questions: [`Which subregion is ${n} in?`, `What part of ${c.region} is ${n} in?`],
      answer: `${n} is in ${c.subregion}.`,
      reference: c.subregion,
    });
  }
  if (c.languages.length) {
    const langs = joinList(c.languages);
    const many = c.languages.length > 1;
    out.push({
      relation: 'languages',
      statements: many
        ? [
            `The official languages of ${n} are ${langs}.`,
            `In ${n}, people speak ${langs}.`,
            `${langs} are spoken in ${n}.`,
          ]
        : [
            `The official language of ${n} is ${langs}.`,
            `In ${n}, people speak ${langs}.`,
            `${langs} is spoken in ${n}.`,
          ],
      questions: [`What languages are spoken in ${n}?`, `What is the official language of ${n}?`],
      answer: many
        ? `The official languages of ${n} are ${langs}.`
        : `The official language of ${n} is ${langs}.`,
      reference: langs,
    });
  }
  if (c.currencies.length) {
    const names = joinList(c.currencies.map((x) => x.name));
    const withSymbols = joinList(c.currencies.map((x) => (x.symbol ? `${x.name} (${x.symbol})` : x.name)));
    out.push({
      relation: 'currency',
      statements: [
        `The currency of ${n} is the ${withSymbols}.`,
        `${n} uses the ${names}.`,
        `People in ${n} pay with the ${names}.`,
      ],
      questions: [`What currency is used in ${n}?`, `What is the currency of ${n}?`],
      answer: `The currency of ${n} is the ${names}.`,
      reference: names,
    });
  }
  const neighbours = joinList(c.neighbours);
  out.push({
    relation: 'neighbours',
    statements: c.neighbours.length
      ? [
          `${n} borders ${neighbours}.`,
          `The neighbours of ${n} are ${neighbours}.`,
          `${n} shares land borders with ${neighbours}.`,
        ]
      : [`${n} has no land borders.`, `${n} shares no land border with any country.`],
    questions: [`Which countries border ${n}?`, `What are the neighbouring countries of ${n}?`],
    answer: c.neighbours.length ? `${n} borders ${neighbours}.` : `${n} has no land borders.`,
    reference: c.neighbours.length ? neighbours : 'none',
  });
  return out;
}

export function countryDocuments(countries: readonly CountryFacts[]): {
  documents: CorpusDocument[];
  /** The held-out questions. */
  questions: QuestionItem[];
  /** Every question, held out or not. */
  suite: QuestionItem[];
} {
  const documents: CorpusDocument[] = [];
  const suite: QuestionItem[] = [];
  for (const c of countries) {
    for (const r of countryRelations(c)) {
      const id = `country:${c.code}:${r.relation}`;
      r.statements.forEach((s, i) => documents.push({ key: `${id}:s${i}`, text: s }));
      const heldOut = isHeldOutQuestion('country-fact', id);
      r.questions.forEach((q, i) => {
        suite.push({
          id: `${id}:q${i}`,
          kind: 'country-fact',
          messages: [{ role: 'user', content: q }],
          answer: r.answer,
          reference: r.reference,
          heldOut,
        });
        if (!heldOut) documents.push(chatDocument(`${id}:q${i}`, q, r.answer));
      });
    }
  }
  return { documents, questions: suite.filter((q) => q.heldOut), suite };
}

// ---------- WordNet ----------

const POS_PHRASE: Record<Synset['pos'], string> = {
  noun: 'noun',
  verb: 'verb',
  adjective: 'adjective',
  adverb: 'adverb',
};

function definitionStatement(s: Synset, lemma: string): string {
  const d = s.definition.replace(/[.]+$/, '');
  const options =
    s.pos === 'verb'
      ? [`To ${lemma} means to ${d}.`, `The verb "${lemma}" means to ${d}.`, `${lemma} (verb): to ${d}.`]
      : [
          `The ${POS_PHRASE[s.pos]} "${lemma}" means ${d}.`,
          `${lemma} (${POS_PHRASE[s.pos]}): ${d}.`,
          `"${lemma}" is defined as ${d}.`,
        ];
  return pick(`${s.id}:phrasing`, options);
}

export function definitionAnswer(lemma: string, pos: Synset['pos'], definition: string): string {
  return pos === 'verb' ? `To ${lemma} means to ${definition}.` : `"${lemma}" means ${definition}.`;
}

function definitionQuestion(key: string, lemma: string, pos: Synset['pos']): string {
  return pick(`${key}:question`, [
    `What does the ${POS_PHRASE[pos]} "${lemma}" mean?`,
    `Define the ${POS_PHRASE[pos]} "${lemma}".`,
    `What is the meaning of "${lemma}" as a ${POS_PHRASE[pos]}?`,
  ]);
}

/** Single plain words only: multiword and odd lemmas make poor questions. */
function askable(lemma: string): boolean {
  return /^[a-z]{3,14}$/.test(lemma);
}

export function wordnetDocuments(
  synsets: readonly Synset[],
  primarySenses: readonly PrimarySense[],
): { documents: CorpusDocument[]; questions: QuestionItem[]; suite: QuestionItem[] } {
  const documents: CorpusDocument[] = [];
  const suite: QuestionItem[] = [];
  const byId = new Map(synsets.map((s) => [s.id, s]));
  for (const s of synsets) {
    const lemma = s.lemmas[0]!;
    documents.push({ key: `wn:${s.id}:def`, text: oneLine(definitionStatement(s, lemma)) });
    if (s.examples.length) documents.push({ key: `wn:${s.id}:ex`, text: oneLine(s.examples.join(' ')) });
    if (s.lemmas.length > 1) {
      documents.push({
        key: `wn:${s.id}:syn`,
        text: oneLine(`"${lemma}" is a synonym of ${joinList(s.lemmas.slice(1).map((l) => `"${l}"`))}.`),
      });
    }
  }
  for (const p of primarySenses) {
    const s = byId.get(p.synsetId);
    if (!s || !askable(p.lemma)) continue;
    const id = `definition:${p.pos}:${p.lemma}`;
    const question = definitionQuestion(id, p.lemma, p.pos);
    const answer = oneLine(definitionAnswer(p.lemma, p.pos, s.definition.replace(/[.]+$/, '')));
    const heldOut = isHeldOutQuestion('definition', id);
    suite.push({
      id,
      kind: 'definition',
      messages: [{ role: 'user', content: question }],
      answer,
      reference: s.definition,
      heldOut,
    });
    if (!heldOut) documents.push(chatDocument(id, question, answer));
  }
  return { documents, questions: suite.filter((q) => q.heldOut), suite };
}
