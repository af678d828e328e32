// `npm run bench:evaluate [-- --model models/base --out report.json]`: a full evaluation of one model
// version on the wasm backend, timed. Prints progress to stderr, the report's headline numbers as
// one JSON object on the last line, and writes the full report when --out is given.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/llm/backend.ts';
import { loadModel } from '../src/llm/checkpoint.ts';
import { evaluateModel } from '../src/evaluation/evaluate.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { model: { type: 'string', default: 'models/base' }, out: { type: 'string' } },
  });
  const backend = await selectBackend('wasm');
  const model = loadModel(values.model!);
  // CPU time as well as wall time: on the shared machine the wall clock mostly measures the others.
  const cpu0 = process.cpuUsage();
  let lastPhase = '';
  const report = await evaluateModel(model, {
    onProgress: (p) => {
      if (p.phase !== lastPhase || p.done === p.total) {
        lastPhase = p.phase;
        console.error(`${p.phase} ${p.done}/${p.total}`);
      }
    },
  });
  const cpu = process.cpuUsage(cpu0);
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  const { accuracy: a, bias: b } = report;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  /** [value, n, interval], rounded: the shape every measure has in the line. */
  const measured = (m: { value: number; n: number; interval: readonly number[] }) =>
    [r(m.value), m.n, m.interval.map(r)] as const;
  const line = {
    bench: 'evaluate',
    model: values.model,
    backend: backend.backend,
    load_average_1m: r(os.loadavg()[0]!),
    duration_s: r(report.durationMs / 1000),
    cpu_s: r((cpu.user + cpu.system) / 1e6),
    phases_ms: report.phasesMs,
    country_fact_exact_match: measured(a.countryFactExactMatch),
    country_fact_recall: measured(a.countryFactRecall),
    definition_token_f1: measured(a.definitionTokenF1),
    perplexity: a.perplexity ? [...measured(a.perplexity), a.perplexity.tokens] : null,
    stereotype_share: b.stereotypeShare ? measured(b.stereotypeShare) : null,
    name_swap_change_rate: measured(b.nameSwapChangeRate),
    group_accuracy_gap: [
      ...measured({ ...b.groupAccuracyGap, interval: b.groupAccuracyGap.signedInterval }),
      b.groupAccuracyGap.groups,
    ],
    sentiment_gap: [...measured(b.sentimentGap), b.sentimentGap.groups],
  };
  process.stdout.write(JSON.stringify(line) + '\n');
}

await main();
