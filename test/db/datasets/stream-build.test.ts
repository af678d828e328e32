// The streamed build (cursors, sorted runs on disk) gives what buildDataset gives on every row in
// memory: the same files and content hash, sizes, stats, raters and lineage, on the benchmark's
// kind of data (heavy-tailed users, branches, votes, flags, corrections, implicit events), also
// when every sorted run is small and the merge does the ordering.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createDatabase, type Database } from '../../../src/platform/db/client.ts';
import {
  parseBuildConfig,
  type DatasetBuildConfigInput,
} from '../../../src/contract/dataset-build-config.ts';
import { buildDataset } from '../../../src/datasets/builders.ts';
import { eventsCounted, streamDataset } from '../../../src/datasets/stream-build.ts';
import { loadFeedbackRows } from '../../../src/feedback/feedback-rows.ts';
import { seed } from '../../../bench/scale-seed.ts';
import { createTestDatabase, type TestDatabase } from '../../helpers/database.ts';

let database: TestDatabase;
let db: Database;
let dir: string;

before(async () => {
  database = await createTestDatabase();
  db = createDatabase(database.url, { poolSize: 4 });
  await seed(db.pool, { messages: 1500, feedback: 3000, events: 6000, users: 40 }, () => {});
  dir = await mkdtemp(path.join(tmpdir(), 'feedloop-stream-build-'));
});
after(async () => {
  await db?.close();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

const cases: [string, DatasetBuildConfigInput, number | undefined][] = [
  ['default config', {}, undefined],
  [
    'augmented, a low near-duplicate threshold, runs of 20 kB',
    {
      hygiene: { nearDuplicateThreshold: 0.5, validationPercent: 20 },
      augmentation: { variantsPerExample: 2, formats: ['sft', 'kto'] },
    },
    20_000,
  ],
];
for (const [name, input, runBytes] of cases) {
  test(`streamed and in-memory builds are the same (${name})`, async () => {
    const config = parseBuildConfig(input);
    const window = { to: new Date(Date.now() + 60_000) };
    const noEvaluation = new Set<string>();
    const rows = await loadFeedbackRows(db.prisma, { window, events: eventsCounted(config) });
    const expected = buildDataset(rows, config, noEvaluation);
    const job = {
      config,
      window,
      outDir: path.join(dir, name, 'out'),
      workDir: path.join(dir, name, 'work'),
      runBytes,
    };
    const streamed = await streamDataset(db.prisma, job, noEvaluation);

    assert.ok(
      Object.values(expected.sizes).some((s) => s.train > 100),
      'the data builds many examples',
    );
    for (const [file, content] of Object.entries(expected.files))
      assert.equal(await readFile(path.join(job.outDir, file), 'utf8'), content, file);
    assert.equal(streamed.contentHash, expected.contentHash);
    assert.equal(JSON.stringify(streamed.sizes), JSON.stringify(expected.sizes));
    assert.equal(JSON.stringify(streamed.sizesBySource), JSON.stringify(expected.sizesBySource));
    assert.deepEqual(streamed.stats, expected.stats);
    assert.deepEqual(streamed.raters, expected.raters);
    assert.deepEqual(streamed.lineage.modelVersionIds, expected.lineage.modelVersionIds);
    assert.deepEqual(streamed.lineage.annotations, expected.lineage.annotations);
    const lineage = (await readFile(streamed.lineageFile, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(lineage, JSON.parse(JSON.stringify(expected.lineage.feedback)));
    assert.equal(streamed.lineage.feedback, expected.lineage.feedback.length);
  });
}
