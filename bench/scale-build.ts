// The dataset build of bench/scale.ts, alone in its own process so its peak RSS is the build's:
// reads DATABASE_URL and FEEDLOOP_DATA_DIR, builds every export of the whole window, prints one
// JSON line ({seconds, peakRssMb, examples}). Run it with --max-old-space-size=FEEDLOOP_BUILD_HEAP_MB
// (bench/scale.ts does): the heap the API's and the workers' build thread gets. One isolate, so
// the peak RSS is the build's, not a second isolate's collection headroom. With
// SCALE_BUILD_TRACE=<file> it also writes the process's RSS every 250 ms there (JSONL), to see which
// part of the build holds memory (with --trace-gc: the live heap after each full collection).
import { appendFileSync, writeFileSync } from 'node:fs';
import { createDatabase } from '../src/platform/db/client.ts';
import { buildDatasets } from '../src/datasets/snapshots.ts';
import { configSchema } from '../src/platform/config.ts';

const MB = 1024 * 1024;
const trace = process.env.SCALE_BUILD_TRACE;
if (trace) writeFileSync(trace, '');
const start = performance.now();
const sampler = trace
  ? setInterval(() => {
      const line = {
        s: Math.round(performance.now() - start) / 1000,
        rss: Math.round(process.memoryUsage.rss() / MB),
      };
      appendFileSync(trace, `${JSON.stringify(line)}\n`);
    }, 250)
  : undefined;

/** Seconds spent in each phase of the build (src/datasets/stream-build.ts BuildPhase). */
const phases: Record<string, number> = {};
let phaseStart = start;
const config = configSchema.parse(process.env);
const db = createDatabase(config.DATABASE_URL, { poolSize: 4 });
try {
  const { build } = await buildDatasets(
    db.prisma,
    {},
    // No evaluation prompts: building that set (it reads the corpus sources) is a one-off cost per
    // thread, with a live peak of ~265 MB (--trace-gc), more than the build's own state at 1x.
    {
      dataDir: config.FEEDLOOP_DATA_DIR,
      evaluationPrompts: new Set(),
      onPhase: (phase) => {
        const now = performance.now();
        phases[phase] = Math.round(now - phaseStart) / 1000;
        phaseStart = now;
      },
    },
  );
  const seconds = (performance.now() - start) / 1000;
  const examples = Object.values(build.sizes).reduce((sum, s) => sum + s.train + s.validation, 0);
  // maxRSS is in kilobytes: the high-water mark of this whole process.
  process.stdout.write(
    `${JSON.stringify({
      seconds,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      examples,
      feedback: build.lineage.feedback,
      phases,
    })}\n`,
  );
} finally {
  clearInterval(sampler);
  await db.close();
}
