// `npm run pretrain [-- --size small --steps 900 --out models/base]`: resumable pretraining.
// Logs one JSON object per line; Ctrl-C (or SIGTERM) checkpoints and exits, and re-running resumes.
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/llm/backend.ts';
import { PretrainConfigSchema } from '../src/llm/config.ts';
import { runPretraining } from '../src/llm/pretrain.ts';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: 'small' },
    steps: { type: 'string' },
    'batch-size': { type: 'string' },
    seed: { type: 'string' },
    'eval-every': { type: 'string' },
    'max-seconds': { type: 'string' },
    precision: { type: 'string' },
    corpus: { type: 'string', default: 'data/corpus' },
    out: { type: 'string', default: 'models/base' },
  },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const config = PretrainConfigSchema.parse({
  size: values.size,
  steps: num(values.steps),
  batchSize: num(values['batch-size']),
  seed: num(values.seed),
  evalEvery: num(values['eval-every']),
  maxSeconds: num(values['max-seconds']),
  precision: values.precision,
});
const log = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
const backend = await selectBackend();
log({ event: 'backend', ...backend });
let stop = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => (stop = true));
const result = await runPretraining({
  corpusDir: values.corpus!,
  outDir: values.out!,
  config,
  backend: backend.backend,
  log,
  shouldStop: () => stop,
});
process.exitCode = result.finished ? 0 : 3;
