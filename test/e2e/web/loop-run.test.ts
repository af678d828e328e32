// The ops dashboard's loop views in a real browser with real workers: pause and resume the
// schedule, start a run, watch its loss curve grow over /v1/loop/socket until it is done, then read
// its report and the gate's decision, roll back a promotion, and see queue health.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { Browser } from 'playwright-core';
import { ALL_WORKERS } from '../../../src/loop/jobs/worker-catalog.ts';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { activateTinyModel, seedCorrections, smallTraining } from '../../helpers/loop-runs.ts';
import { assertNoConsoleErrors, launchBrowser, openSignedIn, screenshot } from './browser.ts';
import { waitFor } from '../../helpers/wait-for.ts';

let t: LoopTest;
let url: string;
let modelDir: string;
let browser: Browser;
let ops: TestUser;
const PASSWORD = 'ops password here';

before(async () => {
  modelDir = await mkdtemp(path.join(tmpdir(), 'feedloop-web-models-'));
  t = await startLoopTest({ workers: ALL_WORKERS, env: { MODEL_DIR: modelDir, FEEDLOOP_EVAL_LIMIT: '3' } });
  url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const [user, moderator] = await Promise.all([makeUser(t.app, 'user'), makeUser(t.app, 'moderator')]);
  ops = await makeUser(t.app, 'ops', PASSWORD);
  await activateTinyModel(t);
  await seedCorrections(t, user, moderator, 12);
  // The schedule's training overrides apply to every run: a small one for the test.
  const schedule = await request(t.app.server)
    .put('/v1/loop/schedule')
    .set('authorization', ops.auth)
    .send({ training: smallTraining(24) });
  assert.equal(schedule.status, 200, JSON.stringify(schedule.body));
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await t?.close();
  await rm(modelDir, { recursive: true, force: true });
});

/**
 * The training-loss points on the Loss chart: each legend item carries the number of points uPlot
 * holds for its series (`data-points`), summed over the training methods.
 */
async function lossPoints(page: import('playwright-core').Page): Promise<number> {
  const counts = await page
    .getByRole('figure', { name: 'Loss', exact: true })
    .locator('li[data-series$="training loss"][data-points]')
    .evaluateAll((items) => items.map((item) => Number(item.getAttribute('data-points'))));
  return counts.reduce((sum, n) => sum + n, 0);
}

describe('ops dashboard: the loop', () => {
  test('schedule, a run with a live curve, its report and gate decision, rollback and queues', async () => {
    const watched = await openSignedIn(browser, url, ops, PASSWORD);
    const { page } = watched;
    await page.goto('/dashboard/training');

    // Pause, then resume the schedule; each asks first.
    await page.getByRole('button', { name: 'Pause schedule' }).click();
    await page
      .getByRole('dialog', { name: 'Pause the schedule?' })
      .getByRole('button', { name: 'Pause' })
      .click();
    await page.getByRole('button', { name: 'Resume schedule' }).waitFor();
    const paused = await request(t.app.server).get('/v1/loop/schedule').set('authorization', ops.auth);
    assert.equal(paused.body.enabled, false);
    await page.getByRole('button', { name: 'Resume schedule' }).click();
    await page
      .getByRole('dialog', { name: 'Resume the schedule?' })
      .getByRole('button', { name: 'Resume' })
      .click();
    await page.getByRole('button', { name: 'Pause schedule' }).waitFor();

    // Start a run with a reason.
    await page.getByRole('button', { name: 'Start a training run' }).click();
    const dialog = page.getByRole('dialog', { name: 'Start a training run?' });
    await dialog.getByLabel('Reason (kept in the audit log)').fill('started from the browser test');
    await dialog.getByRole('button', { name: 'Start run' }).click();
    await page.getByText(/^Run [0-9a-f]{8} is (queued|running)\.$/).waitFor();
    const run = await t.app.db.prisma.loopRun.findFirstOrThrow({ orderBy: { createdAt: 'desc' } });
    assert.equal(run.reason, 'started from the browser test');

    // The loss curve moves while the page is open.
    const first = await waitFor('the first loss points', async () => lossPoints(page), 180_000);
    await waitFor('the loss curve to grow', async () => (await lossPoints(page)) > first, 180_000);
    await screenshot(page, 'dashboard-training');
    await page.getByTestId('run-phase').getByText('done').waitFor({ timeout: 300_000 });
    const finished = await request(t.app.server)
      .get(`/v1/loop/runs/${run.id}`)
      .set('authorization', ops.auth);
    assert.equal(finished.body.run.status, 'succeeded', JSON.stringify(finished.body.logs));
    assert.ok((await lossPoints(page)) >= 12, 'every training step is on the chart');

    // Hovering shows the values under the cursor; dragging across zooms in, double-click zooms out.
    const loss = page.getByRole('figure', { name: 'Loss', exact: true });
    await loss.scrollIntoViewIfNeeded();
    const plot = (await loss.getByRole('img').boundingBox())!;
    const at = (share: number) => [plot.x + plot.width * share, plot.y + plot.height * 0.3] as const;
    await page.mouse.move(...at(0.5));
    await loss.getByText(/^sft training loss: \d/).waitFor();
    await page.mouse.move(...at(0.35));
    await page.mouse.down();
    await page.mouse.move(...at(0.55), { steps: 5 });
    await page.mouse.up();
    await page.mouse.move(0, 0);
    await loss.getByText(/^Showing step \d+ to \d+; double-click to zoom out\.$/).waitFor();
    await page.mouse.dblclick(...at(0.5));
    await page.mouse.move(0, 0);
    await loss.getByText('Drag across the chart to zoom in, double-click to zoom out.').waitFor();

    // The report: accuracy and bias, and the gate's decision with its reasons.
    await page.getByRole('link', { name: 'Open the report' }).click();
    assert.match(page.url(), new RegExp(`/dashboard/reports/${finished.body.run.reportId}$`));
    const decision = finished.body.run.decision as 'promoted' | 'rejected';
    await page
      .getByTestId('gate-decision')
      .getByText(decision === 'promoted' ? 'promote' : 'reject')
      .waitFor();
    await page.getByRole('rowheader', { name: 'Country facts, exact match' }).first().waitFor();
    await page
      .getByRole('rowheader', { name: /Stereotype share/ })
      .first()
      .waitFor();
    await screenshot(page, 'dashboard-reports');

    if (decision === 'promoted') {
      await page.getByRole('button', { name: 'Roll back to the previous version' }).click();
      const rollback = page.getByRole('dialog', { name: 'Roll back to the previous version?' });
      await rollback.getByLabel('Reason (kept in the audit log)').fill('browser test rollback');
      await rollback.getByRole('button', { name: 'Roll back' }).click();
      await page.getByText('tiny-base is now active.').waitFor();
    }

    // Queue health.
    await page.getByRole('link', { name: 'Queues' }).click();
    const queues = await request(t.app.server).get('/v1/jobs/queues').set('authorization', ops.auth);
    for (const q of queues.body.queues as { name: string }[]) {
      await page.getByRole('rowheader', { name: q.name, exact: true }).waitFor();
    }
    await screenshot(page, 'dashboard-queues');

    assertNoConsoleErrors(watched);
    await watched.context.close();
  });
});
