// The dataset build of bench/scale.ts, alone in its own process so its peak RSS is the build's:
// reads DATABASE_URL and FEEDLOOP_DATA_DIR, builds every export of the whole window, prints one
// JSON line ({seconds, peakRssMb, examples}).
import { createDatabase } from '../src/platform/db/client.ts';
import { buildDatasets } from '../src/datasets/snapshots.ts';

const db = createDatabase(process.env.DATABASE_URL!, { poolSize: 4 });
try {
  const start = performance.now();
  const { build } = await buildDatasets(
    db.prisma,
    {},
    { dataDir: process.env.FEEDLOOP_DATA_DIR!, evaluationPrompts: new Set() },
  );
  const seconds = (performance.now() - start) / 1000;
  const examples = Object.values(build.sizes).reduce((sum, s) => sum + s.train + s.validation, 0);
  // maxRSS is in kilobytes: the high-water mark of this whole process.
  process.stdout.write(
    `${JSON.stringify({ seconds, peakRssMb: process.resourceUsage().maxRSS / 1024, examples, feedback: build.lineage.feedback })}\n`,
  );
} finally {
  await db.close();
}
