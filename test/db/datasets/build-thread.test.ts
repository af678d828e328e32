// Dataset builds run off the API's event loop (issue 13, defect 3): while a large build computes in
// the build thread, /healthz still answers, and the build's result is the one an in-process build
// gives.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { makeUser, startTestApp, type TestApp, type TestUser } from '../../helpers/app.ts';
import { buildDatasets } from '../../../src/datasets/snapshots.ts';

const ANSWERS = 500;
let t: TestApp;
let dataDir: string;
let ops: TestUser;

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'feedloop-build-thread-'));
  t = await startTestApp({ FEEDLOOP_DATA_DIR: dataDir });
  ops = await makeUser(t.app, 'ops');
  const rater = await makeUser(t.app, 'user');
  // (the corrections' author)
  // Many distinct corrected answers: near-duplicate removal alone is over a hundred thousand comparisons.
  await t.app.db.pool.query(
    `WITH n AS (SELECT i, md5('c' || i)::uuid AS c, md5('p' || i)::uuid AS p, md5('a' || i)::uuid AS a
                  FROM generate_series(1, $2::int) AS i),
          conv AS (INSERT INTO conversations (id, user_id, title, updated_at)
                   SELECT c, $1::uuid, 'seeded', now() FROM n),
          prompt AS (INSERT INTO messages (id, conversation_id, role, content)
                     SELECT p, c, 'user', 'Question ' || i || ': what is ' || md5('q' || i) || ' made of ' || i * 7 || '?' FROM n),
          answer AS (INSERT INTO messages (id, conversation_id, parent_id, role, content, author, logged_model)
                     SELECT a, c, p, 'assistant', 'It is made of ' || md5('x' || i) || ' and ' || i || ' parts.', 'logged', 'seed' FROM n)
     INSERT INTO corrections (id, message_id, user_id, submitted_text, corrected_text, status, reviewed_at, updated_at)
     SELECT gen_random_uuid(), a, $1::uuid, 'Made of ' || i, 'Made of ' || md5('y' || i) || ', ' || i || ' parts.',
            'approved', now(), now() FROM n`,
    [rater.id, ANSWERS],
  );
});
after(async () => {
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('/healthz answers while a large dataset build computes; the build matches an in-process one', async () => {
  const computing = new Promise<void>((resolve) => {
    const stop = t.app.datasetBuilds.onChange((event) => {
      if (event === 'started') {
        stop();
        resolve();
      }
    });
  });
  const config = { hygiene: { validationPercent: 0 } };
  const building = request(t.app.server)
    .post('/v1/datasets/builds')
    .set('authorization', ops.auth)
    .send({ config })
    .then((res) => res);
  await computing;
  const health = await request(t.app.server).get('/healthz');
  assert.equal(health.status, 200);
  assert.equal(t.app.datasetBuilds.running.size, 1, 'the build was still computing when /healthz answered');

  const res = await building;
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(res.body.dataset.sizes.sft, { train: ANSWERS, validation: 0 });
  assert.equal(t.app.datasetBuilds.running.size, 0);
  const inProcess = await buildDatasets(t.app.db.prisma, config, {
    dataDir,
    now: new Date(res.body.dataset.windowEnd),
    // None of the seeded prompts is an evaluation question: an empty set builds the same examples.
    evaluationPrompts: new Set(),
  });
  assert.equal(inProcess.dataset.contentHash, res.body.dataset.contentHash);
  assert.equal(inProcess.created, false);
});
