// Compare mode and the serving dashboard in a real browser: a user asks two unnamed versions one
// prompt, votes, and only then sees the names; ops see the split's versions side by side and the
// arena leaderboard.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Browser } from 'playwright-core';
import { makeUser } from '../../helpers/app.ts';
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
  t = await startWebApp({ model: true });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await t?.close();
});

describe('arena and split in the browser', () => {
  test('compare mode hides the names until the vote; the dashboard shows the split and the leaderboard', async () => {
    const rival = await registerModelVersion(t.app.db.prisma, { name: 'rival', path: 'base', actorId: null });
    const opsPassword = 'ops password here';
    const ops = await makeUser(t.app, 'ops', opsPassword);
    await request(t.app.server)
      .put('/v1/serving/traffic')
      .set('authorization', ops.auth)
      .send({
        splits: [
          { version: 'base', weight: 1 },
          { version: 'rival', weight: 1 },
        ],
        reason: 'half and half',
      })
      .expect(200);

    const password = 'user password here';
    const user = await makeUser(t.app, 'user', password);
    const watched = await openSignedIn(browser, t.url, user, password);
    const { page } = watched;
    await page.getByRole('button', { name: 'Compare two models' }).click();
    const arena = page.getByRole('region', { name: 'Compare two models' });
    await arena.getByLabel('Your prompt for both models').fill('What is the capital of Peru?');
    await arena.getByRole('button', { name: 'Ask both' }).click();
    await arena.getByRole('group', { name: 'Which answer is better?' }).waitFor({ timeout: 60_000 });
    const before = await arena.textContent();
    assert.ok(!/\bbase\b|\brival\b/.test(before!.replace(/What is the capital of Peru\?/, '')), before!);
    await screenshot(page, 'arena-before-vote');

    await arena.getByRole('button', { name: 'A is better' }).click();
    const status = arena.getByRole('status');
    await status.getByText(/A was/).waitFor();
    const battle = await t.app.db.prisma.arenaBattle.findFirstOrThrow({
      where: { userId: user.id },
      include: { versionA: true, versionB: true, vote: true },
    });
    assert.equal(battle.vote?.choice, 'a');
    assert.equal(
      await status.textContent(),
      `Vote recorded: A is better. A was ${battle.versionA.name}, B was ${battle.versionB.name}.`,
    );
    assert.deepEqual(new Set([battle.versionA.name, battle.versionB.name]), new Set(['base', 'rival']));
    await screenshot(page, 'arena-after-vote');
    assertNoConsoleErrors(watched);

    // Ops: the split side by side, and the leaderboard with the one vote.
    const opsPage = await openSignedIn(browser, t.url, ops, opsPassword);
    await opsPage.page.goto('/dashboard/serving');
    const table = opsPage.page.getByRole('table', { name: 'Split comparison' });
    await table.waitFor();
    const headers = await table.getByRole('columnheader').allTextContents();
    assert.deepEqual(headers, ['Measure', 'base (50%), baseline', 'rival (50%)']);
    // Each version answered once in the split (the battle): one answer each.
    const answers = await table
      .getByRole('row', { name: /^Answers/ })
      .getByRole('cell')
      .allTextContents();
    assert.deepEqual(answers, ['1', '1']);
    await table.getByRole('row', { name: /Harmful-flag rate/ }).waitFor();
    // The battle's second answer is not counted as a regeneration.
    const regenerated = await table
      .getByRole('row', { name: /Regenerate rate/ })
      .getByRole('cell')
      .allTextContents();
    assert.ok(
      regenerated.every((cell) => cell.startsWith('0.0%')),
      regenerated.join(' / '),
    );
    const board = opsPage.page.getByRole('table', { name: 'Leaderboard' });
    await board.waitFor();
    const winner = battle.versionA.name;
    const rows = await board.getByRole('row').allTextContents();
    assert.equal(rows.length, 3);
    assert.match(rows[1]!, new RegExp(`^${winner}`), 'the version that won is first');
    assert.ok(rival.id);
    await screenshot(opsPage.page, 'dashboard-serving');
    assertNoConsoleErrors(opsPage);
  });
});
