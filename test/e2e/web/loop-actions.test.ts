// The ops dashboard's loop actions in a real browser against the real loop routes (no workers, so
// runs stay queued): pause and resume the schedule, start a run and cancel it, each confirmed and
// audited; queue health and reports answer with what there is.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Browser } from 'playwright-core';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { startLoopTest, type LoopTest } from '../../helpers/loop.ts';
import { assertNoConsoleErrors, launchBrowser, openSignedIn, screenshot } from './browser.ts';

let t: LoopTest;
let url: string;
let browser: Browser;
let ops: TestUser;
const PASSWORD = 'ops password here';

before(async () => {
  t = await startLoopTest();
  url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  ops = await makeUser(t.app, 'ops', PASSWORD);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await t?.close();
});

describe('ops dashboard: loop actions', () => {
  test('pause and resume the schedule, start a run and cancel it, queues and reports', async () => {
    const watched = await openSignedIn(browser, url, ops, PASSWORD);
    const { page } = watched;
    await page.goto('/dashboard/training');
    await page.getByText('No runs yet. Start one with the button above.').waitFor();

    await page.getByRole('button', { name: 'Pause schedule' }).click();
    await page
      .getByRole('dialog', { name: 'Pause the schedule?' })
      .getByRole('button', { name: 'Pause' })
      .click();
    await page.getByRole('button', { name: 'Resume schedule' }).waitFor();
    const schedule = () => request(t.app.server).get('/v1/loop/schedule').set('authorization', ops.auth);
    assert.equal((await schedule()).body.enabled, false);
    await page.getByRole('button', { name: 'Resume schedule' }).click();
    await page
      .getByRole('dialog', { name: 'Resume the schedule?' })
      .getByRole('button', { name: 'Resume' })
      .click();
    await page.getByRole('button', { name: 'Pause schedule' }).waitFor();
    assert.equal((await schedule()).body.enabled, true);

    // Change the cron and threshold.
    await page.getByLabel('Cron').fill('15 4 * * *');
    await page.getByLabel('Feedback threshold').fill('40');
    await page.getByRole('button', { name: 'Save schedule' }).click();
    await page
      .getByRole('dialog', { name: 'Change the schedule?' })
      .getByRole('button', { name: 'Save schedule' })
      .click();
    await page.getByText('0 of 40 new approved feedback since the last run').waitFor();
    assert.equal((await schedule()).body.cron, '15 4 * * *');

    // Cancelling the dialog does nothing; confirming starts a run with the reason.
    await page.getByRole('button', { name: 'Start a training run' }).click();
    await page
      .getByRole('dialog', { name: 'Start a training run?' })
      .getByRole('button', { name: 'Cancel' })
      .click();
    assert.equal(await t.app.db.prisma.loopRun.count(), 0);
    await page.getByRole('button', { name: 'Start a training run' }).click();
    const dialog = page.getByRole('dialog', { name: 'Start a training run?' });
    assert.equal(
      await dialog.getByRole('button', { name: 'Start run' }).isDisabled(),
      true,
      'a reason is required',
    );
    await dialog.getByLabel('Reason (kept in the audit log)').fill('started from the browser');
    await dialog.getByRole('button', { name: 'Start run' }).click();
    await page.getByText(/^Run [0-9a-f]{8} is queued\.$/).waitFor();
    const run = await t.app.db.prisma.loopRun.findFirstOrThrow();
    assert.equal(run.reason, 'started from the browser');
    await page.getByTestId('run-phase').getByText('queued').waitFor();
    await screenshot(page, 'dashboard-training-queued');

    await page.getByRole('button', { name: 'Cancel run' }).click();
    const cancel = page.getByRole('dialog', { name: 'Cancel this run?' });
    await cancel.getByLabel('Reason (kept in the audit log)').fill('only a test');
    await cancel.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByRole('heading', { name: /Run [0-9a-f]{8} cancelled/ }).waitFor();
    assert.equal(
      (await t.app.db.prisma.loopRun.findUniqueOrThrow({ where: { id: run.id } })).status,
      'cancelled',
    );
    const actions = (await t.app.db.prisma.auditLogEntry.findMany({ where: { actorId: ops.id } })).map(
      (e) => e.action,
    );
    assert.ok(actions.length >= 5, `audited: ${actions.join(', ')}`);

    await page.getByRole('link', { name: 'Queues' }).click();
    const queues = await request(t.app.server).get('/v1/jobs/queues').set('authorization', ops.auth);
    assert.ok(queues.body.queues.length > 0);
    for (const q of queues.body.queues as { name: string }[]) {
      await page.getByRole('rowheader', { name: q.name, exact: true }).waitFor();
    }
    await screenshot(page, 'dashboard-queues');

    await page.getByRole('link', { name: 'Reports and versions' }).click();
    await page.getByText('No reports yet.').waitFor();

    assertNoConsoleErrors(watched);
    await watched.context.close();
  });
});
