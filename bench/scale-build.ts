// The dataset build of bench/scale.ts, alone in its own process so its peak RSS is the build's:
// reads DATABASE_URL and FEEDLOOP_DATA_DIR, builds every export of the whole window, prints one
// JSON line ({seconds, peakRssMb, peakHeapUsedMb, peakExternalMb, examples}). With
// SCALE_BUILD_TRACE=<file> it also writes process.memoryUsage() every 250 ms there (JSONL), to see
// which part of the build holds memory.
import { appendFileSync, writeFileSync } from 'node:fs';
import { createDatabase } from '../src/platform/db/client.ts';
import { buildDatasets } from '../src/datasets/snapshots.ts';

const MB = 1024 * 1024;
const trace = process.env.SCALE_BUILD_TRACE;
if (trace) writeFileSync(trace, '');
const start = performance.now();
const peak = { heapUsed: 0, external: 0 };
const sample = () => {
  const m = process.memoryUsage();
  peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
  peak.external = Math.max(peak.external, m.external);
  if (trace) {
    const line = {
      s: Math.round(performance.now() - start) / 1000,
      rss: Math.round(m.rss / MB),
      heapTotal: Math.round(m.heapTotal / MB),
      heapUsed: Math.round(m.heapUsed / MB),
      external: Math.round(m.external / MB),
      arrayBuffers: Math.round(m.arrayBuffers / MB),
    };
    appendFileSync(trace, `${JSON.stringify(line)}\n`);
  }
};
const sampler = setInterval(sample, 250);

const db = createDatabase(process.env.DATABASE_URL!, { poolSize: 4 });
try {
  const { build } = await buildDatasets(
    db.prisma,
    {},
    { dataDir: process.env.FEEDLOOP_DATA_DIR!, evaluationPrompts: new Set() },
  );
  const seconds = (performance.now() - start) / 1000;
  sample();
  const examples = Object.values(build.sizes).reduce((sum, s) => sum + s.train + s.validation, 0);
  // maxRSS is in kilobytes: the high-water mark of this whole process.
  process.stdout.write(
    `${JSON.stringify({
      seconds,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      peakHeapUsedMb: peak.heapUsed / MB,
      peakExternalMb: peak.external / MB,
      examples,
      feedback: build.lineage.feedback,
    })}\n`,
  );
} finally {
  clearInterval(sampler);
  await db.close();
}
