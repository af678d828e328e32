// The moderation UI in a real browser: the correction queue as a diff with the prompt and the
// submitter's trust, keyboard shortcuts, edit-then-approve with a reason, flag filters, raters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Browser } from 'playwright-core';
import { makeUser } from '../../helpers/app.ts';
import { startExchange } from '../../helpers/conversations.ts';
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

const XSS = 'Lima. <img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>';

describe('moderation', () => {
  test('a moderator reviews corrections and flags with the keyboard and reasons; raters are listed', async () => {
    const alice = await makeUser(t.app, 'user');
    const api = () => request(t.app.server);
    const ex = await startExchange(t, alice, 'What is the capital of Peru?', 'Santiago.');
    const sent = await api()
      .post(`/v1/messages/${ex.answerId}/corrections`)
      .set('authorization', alice.auth)
      .send({ text: XSS });
    assert.equal(sent.status, 201);
    for (const category of ['unsafe', 'irrelevant']) {
      const res = await api()
        .post(`/v1/messages/${ex.answerId}/flags`)
        .set('authorization', alice.auth)
        .send({ category, comment: `<b>${category}</b>` });
      assert.equal(res.status, 201);
    }
    const rated = await api()
      .put(`/v1/messages/${ex.answerId}/rating`)
      .set('authorization', alice.auth)
      .send({ kind: 'thumbs', value: 'down' });
    assert.equal(rated.status, 200);

    const password = 'moderator password';
    const moderator = await makeUser(t.app, 'moderator', password);
    const watched = await openSignedIn(browser, t.url, moderator, password);
    const { page } = watched;
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.deepEqual(await nav.getByRole('link').allTextContents(), ['Chat', 'Moderation', 'Settings']);
    await nav.getByRole('link', { name: 'Moderation' }).click();

    const card = page.getByRole('article', { name: `Correction from ${alice.email}` });
    // The queue carries each submitter's trust: the process's first rater assessment builds the
    // evaluation prompt set (src/suites/contamination.ts), 8 s and more when the cores are shared.
    await card.waitFor({ timeout: 60_000 });
    await card.getByText('What is the capital of Peru?').waitFor();
    await card.getByText('trust 1.00 (trusted)').waitFor();
    const diff = card.getByRole('group', { name: 'Correction against the answer' });
    assert.ok((await diff.locator('del').allTextContents()).join('').includes('Santiago'));
    const added = (await diff.locator('ins').allTextContents()).join('');
    assert.ok(added.includes('<img') && added.includes('<script>'), `markup shows as text: ${added}`);
    assert.equal(await page.locator('.review img, .review script').count(), 0);
    await screenshot(page, 'moderation-corrections');

    // "a" without a reason asks for one; then edit with "e" and approve with "a".
    await card.focus();
    await page.keyboard.press('a');
    await card.getByText('Give a reason first').waitFor();
    await card.getByLabel('Reason for the decision').fill('Right answer; removed the markup');
    await card.focus();
    await page.keyboard.press('e');
    await card
      .getByLabel('Edited correction (approving saves this text)')
      .fill('Lima is the capital of Peru.');
    await card.focus();
    await page.keyboard.press('a');
    await page.getByText('Approved (edited).').waitFor();
    const decided = await t.app.db.prisma.correction.findUniqueOrThrow({ where: { id: sent.body.id } });
    assert.equal(decided.status, 'approved');
    assert.equal(decided.correctedText, 'Lima is the capital of Peru.');
    assert.equal(decided.submittedText, XSS);
    assert.equal(decided.reviewReason, 'Right answer; removed the markup');
    assert.equal(decided.reviewerId, moderator.id);
    await page.getByText('Nothing to review.').waitFor();

    // Flags, filtered by category; dismiss one with a reason.
    await page.getByRole('link', { name: 'Flags' }).click();
    await page
      .getByRole('article', { name: `Flag from ${alice.email}` })
      .first()
      .waitFor();
    assert.equal(await page.getByRole('article', { name: `Flag from ${alice.email}` }).count(), 2);
    await page.getByLabel('Category').selectOption('unsafe');
    const flagCard = page.getByRole('article', { name: `Flag from ${alice.email}` });
    await flagCard.getByText('<b>unsafe</b>').waitFor();
    assert.equal(await flagCard.count(), 1);
    assert.equal(await page.getByText('<b>irrelevant</b>').count(), 0);
    await screenshot(page, 'moderation-flags');
    await flagCard.getByLabel('Reason for the decision').fill('Nothing unsafe in it');
    await flagCard.getByRole('button', { name: 'Dismiss flag (r)' }).click();
    await page.getByText('Rejected.').waitFor();
    const flags = await t.app.db.prisma.flag.findMany({ orderBy: { category: 'asc' } });
    assert.deepEqual(
      flags.map((f) => [f.category, f.status]),
      [
        ['irrelevant', 'pending'],
        ['unsafe', 'rejected'],
      ],
    );

    // Raters: volume, agreement and trust.
    await page.getByRole('link', { name: 'Raters' }).click();
    const row = page.getByRole('row', { name: new RegExp(alice.email) });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /trusted/);
    await screenshot(page, 'moderation-raters');

    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
    assertNoConsoleErrors(watched);
    await watched.context.close();
  });
});
