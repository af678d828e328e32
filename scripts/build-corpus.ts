// `npm run corpus`: writes data/corpus/{train.txt,valid.txt,held-out.jsonl,manifest.json}.
import { buildCorpus, DEFAULT_CORPUS_OPTIONS, writeCorpus } from '../src/llm/corpus/build.ts';

const outDir = process.argv[2] ?? 'data/corpus';
const corpus = buildCorpus(DEFAULT_CORPUS_OPTIONS);
const manifest = writeCorpus(outDir, corpus, DEFAULT_CORPUS_OPTIONS);
process.stdout.write(`${JSON.stringify({ outDir, counts: manifest.counts, hash: manifest.hash })}\n`);
