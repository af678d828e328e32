// Feasibility experiment for the feedback loop: does SFT on users' corrections of country-fact
// questions (first phrasing, ':q0') raise exact match on the SECOND phrasing (':q1') of the same
// held-out facts? Builds a dataset snapshot folder from the q0 items (+ as many non-held-out
// country questions), measures greedy exact match / recall on q1 before and after fineTune, and
// prints one JSON line per phase (the last one is the summary).
//
//   npx tsx scripts/experiments/sft-paraphrase.ts [--lr 1e-3] [--epochs 6] [--batch-size 16]
//     [--layer-decay 0.8] [--unfreeze] [--max-steps 0] [--limit 0] [--seed 1] [--base models/base]
//     [--dpo]   also write preference rows (chosen = the answer, rejected = the same sentence with
//               another country's fact) and run the default method sequence, SFT then DPO
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  formatChatPrompt,
  GenerationSession,
  heldOutQuestions,
  loadModel,
  selectBackend,
  SPECIAL_TOKENS,
  type ChatMessage,
  type LoadedModel,
  type QuestionItem,
} from '../../src/llm/index.ts';
import { SPECIAL_TOKEN_LIST } from '../../src/llm/chat-format.ts';
import { readCountries } from '../../src/llm/corpus/countries.ts';
import { countryDocuments } from '../../src/llm/corpus/documents.ts';
import { fnv1a } from '../../src/llm/rng.ts';
import { fineTune, type TrainingConfigInput } from '../../src/training/index.ts';

const { values } = parseArgs({
  options: {
    lr: { type: 'string' },
    epochs: { type: 'string' },
    'batch-size': { type: 'string' },
    'layer-decay': { type: 'string' },
    unfreeze: { type: 'boolean', default: false },
    'no-early-stopping': { type: 'boolean', default: false },
    'max-steps': { type: 'string' },
    limit: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    base: { type: 'string', default: 'models/base' },
    keep: { type: 'boolean', default: false },
    dpo: { type: 'boolean', default: false },
  },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const log = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const normalize = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();

async function answer(model: LoadedModel, messages: ChatMessage[]): Promise<string> {
  const ids = await model.tokenizer.encode(formatChatPrompt(messages));
  const stopIds = SPECIAL_TOKEN_LIST.map((t) => model.tokenizer.requireId(t));
  const session = new GenerationSession(model, ids, { temperature: 0, maxTokens: 32, seed: 0 }, stopIds);
  for (;;) {
    const ev = await session.step();
    if (ev.done) return ev.result!.text;
  }
}

async function score(model: LoadedModel, items: QuestionItem[]) {
  let exact = 0;
  let recall = 0;
  const t0 = performance.now();
  for (const item of items) {
    const got = normalize(await answer(model, item.messages));
    const ref = normalize(item.reference);
    if (got === normalize(item.answer) || got === ref) exact++;
    if (ref.length > 0 && got.includes(ref)) recall++;
  }
  return {
    n: items.length,
    exactMatch: exact / items.length,
    recall: recall / items.length,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** `<|user|>Q<|end|><|assistant|>A<|end|>` back to its question and answer. */
function parseChat(text: string): { question: string; answer: string } {
  const [q, a] = text
    .split(SPECIAL_TOKENS.assistant)
    .map((part) => part.replace(SPECIAL_TOKENS.user, '').replace(SPECIAL_TOKENS.end, ''));
  return { question: q!, answer: a! };
}

const backend = await selectBackend('wasm');
log({ event: 'backend', backend: backend.backend });
const seed = Number(values.seed);
const countryItems = heldOutQuestions().filter((q) => q.kind === 'country-fact');
const limit = Number(values.limit);
const q0 = countryItems.filter((q) => q.id.endsWith(':q0'));
const q1All = countryItems.filter((q) => q.id.endsWith(':q1'));
const q1 = limit > 0 ? q1All.filter((_, i) => i % Math.ceil(q1All.length / limit) === 0) : q1All;

// The corrections: every held-out fact asked in the first phrasing, answered with the right sentence,
// plus the same number of ordinary (non-held-out) country questions.
const ordinary = countryDocuments(readCountries())
  .documents.filter((d) => /^country:.*:q0$/.test(d.key))
  .sort((a, b) => fnv1a(`${seed}:${a.key}`) - fnv1a(`${seed}:${b.key}`))
  .slice(0, q0.length)
  .map((d) => parseChat(d.text));
const rows = [
  ...q0.map((q) => ({ key: q.id, question: q.messages[0]!.content, answer: q.answer, source: 'correction' })),
  ...ordinary.map((o, i) => ({ key: `ordinary:${i}`, ...o, source: 'ordinary' })),
];
const datasetDir = mkdtempSync(join(tmpdir(), 'feedloop-sft-paraphrase-'));
const split = { train: [] as string[], validation: [] as string[] };
for (const r of rows) {
  const line = JSON.stringify({
    messages: [
      { role: 'user', content: r.question },
      { role: 'assistant', content: r.answer },
    ],
    source: r.source,
    weight: 1,
    synthetic: false,
  });
  // 10% validation, as the dataset builder does; those facts are then not trained on.
  (fnv1a(`split:${r.key}`) % 10 === 0 ? split.validation : split.train).push(line);
}
writeFileSync(join(datasetDir, 'sft.train.jsonl'), split.train.join('\n') + '\n');
if (values.dpo) {
  // A plausible wrong fact: the same answer sentence with another country's value for the relation.
  const relation = (id: string) => id.split(':')[2];
  const pairs = { train: [] as string[], validation: [] as string[] };
  q0.forEach((q, i) => {
    const other = q0.find(
      (o, j) => j > i && relation(o.id) === relation(q.id) && o.reference !== q.reference,
    );
    if (!other || !q.answer.includes(q.reference)) return;
    const line = JSON.stringify({
      prompt: q.messages,
      chosen: [{ role: 'assistant', content: q.answer }],
      rejected: [{ role: 'assistant', content: q.answer.replace(q.reference, other.reference) }],
      source: 'correction',
      weight: 1,
      synthetic: false,
    });
    (fnv1a(`split:${q.id}`) % 10 === 0 ? pairs.validation : pairs.train).push(line);
  });
  writeFileSync(join(datasetDir, 'preference.train.jsonl'), pairs.train.join('\n') + '\n');
  writeFileSync(join(datasetDir, 'preference.validation.jsonl'), pairs.validation.join('\n') + '\n');
  log({ event: 'preference', train: pairs.train.length, validation: pairs.validation.length });
}
writeFileSync(join(datasetDir, 'sft.validation.jsonl'), split.validation.join('\n') + '\n');
log({
  event: 'dataset',
  dir: datasetDir,
  train: split.train.length,
  validation: split.validation.length,
  q1: q1.length,
});

const baseModel = loadModel(values.base!);
const before = await score(baseModel, q1);
log({ event: 'before', ...before });

const config: TrainingConfigInput = {
  methods: values.dpo ? ['sft', 'dpo'] : ['sft'],
  batchSize: num(values['batch-size']),
  layerDecay: num(values['layer-decay']),
  unfreezing: { enabled: values.unfreeze },
  earlyStopping: { enabled: !values['no-early-stopping'] },
  sft: { lr: num(values.lr), epochs: num(values.epochs), maxSteps: num(values['max-steps']) },
};
const outDir = join(datasetDir, 'out');
const workDir = join(datasetDir, 'work');
mkdirSync(workDir, { recursive: true });
const t0 = performance.now();
const result = await fineTune({
  baseDir: values.base!,
  datasetDir,
  outDir,
  workDir,
  config,
  seed,
  onProgress: (p) => {
    if (p.phase !== 'training' || p.step % 10 === 0 || p.valLoss !== undefined)
      log({ event: 'progress', ...p, seconds: Math.round((performance.now() - t0) / 100) / 10 });
  },
});
const trainSeconds = (performance.now() - t0) / 1000;
const tuned = loadModel(outDir);
const after = await score(tuned, q1);
log({ event: 'after', ...after });
log({
  event: 'summary',
  config: result.manifest.config,
  methods: result.methods,
  trainSeconds,
  before: { exactMatch: before.exactMatch, recall: before.recall },
  after: { exactMatch: after.exactMatch, recall: after.recall },
  gainPoints: Math.round((after.exactMatch - before.exactMatch) * 1000) / 10,
  n: q1.length,
});
if (!values.keep) rmSync(datasetDir, { recursive: true, force: true });
