// A dataset build streams (issue 17): its memory does not grow with the feedback it reads. The same
// kind of data (bench/scale-seed.ts) is seeded at N and at 4N rows and built by bench/scale-build.ts
// in a child process whose JavaScript heap is capped at HEAP_MB, so its peak RSS is the build's
// alone and V8 cannot defer collection by growing the heap. Loading every row into memory (the
// build before issue 17) runs out of that heap at 4N; a streamed build completes at both sizes
// with about the same peak RSS.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createDatabase } from '../../../src/platform/db/client.ts';
import { seed } from '../../../bench/scale-seed.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

/** Messages at N: 2 explicit feedback rows and 4 implicit events per message (20k and 80k rows). */
const MESSAGES_AT_N = 10_000;
/**
 * The build's V8 heap: ~100 MB of it is code and clients; the build's own state must fit the rest.
 * Loading every row fits it at N and runs out of it at 4N.
 */
const HEAP_MB = 200;
/**
 * Growth of peak RSS from N to 4N that a streamed build stays under. Measured: +34 to +44 MB (the
 * near-duplicate index's ~0.4 KB per kept example is most of it); a build whose state grew with the
 * rows would add about 3 x its N state (~90 MB over the ~300 MB of code and clients), so 80 MB
 * leaves room for allocator noise on a loaded machine and still fails such a build. The heap cap
 * above is the sharper check: loading every row does not finish at 4N.
 */
const ALLOWED_GROWTH_MB = 80;

const databases: TestDatabase[] = [];
after(async () => {
  for (const d of databases) await d.drop();
});

interface BuildRun {
  seconds: number;
  peakRssMb: number;
  examples: number;
}

async function seedAndBuild(messages: number): Promise<BuildRun> {
  const database = await createTestDatabase();
  databases.push(database);
  const db = createDatabase(database.url, { poolSize: 2 });
  try {
    await seed(
      db.pool,
      { messages, feedback: messages * 2, events: messages * 4, users: Math.round(messages / 30) },
      () => {},
    );
  } finally {
    await db.close();
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-bounded-'));
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        `--max-old-space-size=${HEAP_MB}`,
        '--import',
        'tsx',
        fileURLToPath(new URL('../../../bench/scale-build.ts', import.meta.url)),
      ],
      { env: { ...process.env, DATABASE_URL: database.url, FEEDLOOP_DATA_DIR: dataDir } },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as BuildRun;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

test('a dataset build of 4N feedback rows fits the heap of a build of N and peaks at about its memory', async () => {
  const small = await seedAndBuild(MESSAGES_AT_N);
  const large = await seedAndBuild(MESSAGES_AT_N * 4);
  const growth = large.peakRssMb - small.peakRssMb;
  process.stderr.write(
    `bounded-memory: N peak RSS ${small.peakRssMb.toFixed(1)} MB (${small.examples} examples, ${small.seconds.toFixed(1)} s), ` +
      `4N ${large.peakRssMb.toFixed(1)} MB (${large.examples} examples, ${large.seconds.toFixed(1)} s)\n`,
  );
  assert.ok(large.examples > small.examples * 2, 'the larger build has more examples');
  assert.ok(
    growth < ALLOWED_GROWTH_MB,
    `peak RSS grew by ${growth.toFixed(1)} MB from N to 4N (allowed ${ALLOWED_GROWTH_MB} MB)`,
  );
});
