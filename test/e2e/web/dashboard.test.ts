// The ops dashboard in a real browser: feedback volume and per-version metrics from real feedback,
// dataset builds and JSONL downloads. The loop views: loop-actions.test.ts and loop-run.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Browser } from 'playwright-core';
import { makeUser } from '../../helpers/app.ts';
import { startExchange } from '../../helpers/conversations.ts';
import { registerModelVersion } from '../../../src/promotion/model-versions.ts';
import {
  assertNoConsoleErrors,
  launchBrowser,
  openSignedIn,
  screenshot,
  startWebApp,
  type WebTestApp,
} from './browser.ts';

let t: WebTestApp;
let browser: Browser;

before(async () => {
  t = await startWebApp();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await t?.close();
});

/** Two answers from version `v`, one thumbs up and one down, and a correction approved by a moderator. */
async function seedFeedback(versionId: string) {
  const alice = await makeUser(t.app, 'user');
  const moderator = await makeUser(t.app, 'moderator');
  const api = () => request(t.app.server);
  const ids: string[] = [];
  for (const [i, thumbs] of (['up', 'down'] as const).entries()) {
    const ex = await startExchange(t, alice, `Capital number ${i}?`, `Answer ${i}.`, versionId);
    ids.push(ex.answerId);
    const rated = await api()
      .put(`/v1/messages/${ex.answerId}/rating`)
      .set('authorization', alice.auth)
      .send({ kind: 'thumbs', value: thumbs });
    assert.equal(rated.status, 200);
  }
  const correction = await api()
    .post(`/v1/messages/${ids[1]}/corrections`)
    .set('authorization', alice.auth)
    .send({ text: 'A much better answer.' });
  assert.equal(correction.status, 201);
  const approved = await api()
    .post(`/v1/moderation/corrections/${correction.body.id}/approve`)
    .set('authorization', moderator.auth)
    .send({ reason: 'good' });
  assert.equal(approved.status, 200);
}

describe('ops dashboard', () => {
  test('feedback volume, metrics with intervals, datasets with downloads', async () => {
    const version = await registerModelVersion(t.app.db.prisma, {
      name: 'dash-v1',
      path: 'dash-v1',
      actorId: null,
    });
    await seedFeedback(version.id);
    const password = 'ops password here';
    const ops = await makeUser(t.app, 'ops', password);
    const watched = await openSignedIn(browser, t.url, ops, password);
    const { page } = watched;
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.deepEqual(await nav.getByRole('link').allTextContents(), ['Chat', 'Dashboard', 'Settings']);
    await nav.getByRole('link', { name: 'Dashboard' }).click();

    // Metrics: 1 of 2 thumbs up (50.0%), 1 of 2 answers corrected, with intervals.
    const row = page.getByRole('row', { name: /dash-v1/ });
    await row.waitFor();
    const cells = await row.getByRole('cell').allTextContents();
    assert.equal(cells[0], '2', 'answers');
    assert.match(cells[1]!, /^50\.0% \[\d+\.\d%, \d+\.\d%\] n=2$/, `thumbs-up rate: ${cells[1]}`);
    assert.match(cells[3]!, /^50\.0% /, `correction rate: ${cells[3]}`);
    const chart = page.getByRole('figure').filter({ hasText: 'Feedback per day by kind' });
    await chart.getByText(/thumbs up \(1 points, last 1\)/).waitFor();
    await chart.getByText(/correction \(1 points, last 1\)/).waitFor();
    await screenshot(page, 'dashboard-metrics');

    // Datasets: build one (after confirming), then download a JSONL split with the session.
    await page.getByRole('link', { name: 'Datasets' }).click();
    await page.getByText('No datasets yet.').waitFor();
    await page.getByRole('button', { name: 'Build datasets now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Build datasets now?' });
    await dialog.getByRole('button', { name: 'Build' }).click();
    // The build's first rater assessment builds the evaluation prompt set (8 s and more when the
    // cores are shared).
    await page.getByText(/^Built [0-9a-f]{12}\.$/).waitFor({ timeout: 60_000 });
    const dataset = await t.app.db.prisma.dataset.findFirstOrThrow();
    const sftRow = page.getByRole('row', { name: /^sft/ });
    await sftRow.waitFor();
    const href = await sftRow.getByRole('link', { name: 'train' }).getAttribute('href');
    assert.equal(href, `/v1/datasets/${dataset.id}/train.jsonl?format=sft`);
    const download = await page.request.get(href!);
    assert.equal(download.status(), 200);
    assert.match(download.headers()['content-type']!, /jsonl/);
    assert.ok(
      (await download.text()).includes('A much better answer.'),
      'the approved correction is in the SFT data',
    );
    await screenshot(page, 'dashboard-datasets');

    assertNoConsoleErrors(watched);
    await watched.context.close();
  });
});
