// The dataset build of bench/scale.ts, alone in its own process so its peak RSS is the build's:
// reads DATABASE_URL, FEEDLOOP_DATA_DIR and FEEDLOOP_BUILD_HEAP_MB, builds every export of the whole
// window in the build thread the API and the workers use (its heap capped the same way), prints one
// JSON line ({seconds, peakRssMb, heapMb, examples}). With SCALE_BUILD_TRACE=<file> it also writes
// the process's RSS every 250 ms there (JSONL), to see which part of the build holds memory (run
// it with --trace-gc for the live heap after each full collection, the build thread's included).
import { appendFileSync, writeFileSync } from 'node:fs';
import { createDatabase } from '../src/platform/db/client.ts';
import { buildDatasets } from '../src/datasets/snapshots.ts';
import { DatasetBuildThread } from '../src/datasets/build-thread.ts';
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

const config = configSchema.parse(process.env);
const db = createDatabase(config.DATABASE_URL, { poolSize: 4 });
const thread = new DatasetBuildThread(config.DATABASE_URL, config.FEEDLOOP_BUILD_HEAP_MB);
try {
  const { build } = await buildDatasets(
    db.prisma,
    {},
    // No evaluation prompts, as before: building that set (it reads the corpus sources) is a one-off cost per thread.
    { dataDir: config.FEEDLOOP_DATA_DIR, runner: thread.build, evaluationPrompts: new Set() },
  );
  const seconds = (performance.now() - start) / 1000;
  const examples = Object.values(build.sizes).reduce((sum, s) => sum + s.train + s.validation, 0);
  // maxRSS is in kilobytes: the high-water mark of this whole process.
  process.stdout.write(
    `${JSON.stringify({
      seconds,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      heapMb: config.FEEDLOOP_BUILD_HEAP_MB,
      examples,
      feedback: build.lineage.feedback,
    })}\n`,
  );
} finally {
  clearInterval(sampler);
  await thread.close();
  await db.close();
}
