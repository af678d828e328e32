// Annotation queues in a real browser: a moderator creates a queue (guidelines previewed as safe
// Markdown), raters judge with the keyboard on the Review page (guidelines in view, progress,
// answers as text, 1-5 / g / b / s, a / b / t / n for pairs), the moderator watches agreement and
// each rater's standing and closes the queue; a chat rating takes a reason.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { Browser, Page } from 'playwright-core';
import { makeUser, type TestUser } from '../../helpers/app.ts';
import { modelAnswer, startExchange } from '../../helpers/conversations.ts';
import { waitFor } from '../../helpers/wait-for.ts';
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

const PASSWORD = 'review password';
const GUIDELINES =
  '# How to judge\n\nAn answer is **good** when it states the fact.\n\n' +
  '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>\n\n' +
  '[unsafe](javascript:window.__xss=3)';
const MARKUP_ANSWER = '<b>Lima</b> is the capital <img src=x onerror="window.__xss = 4">';

const xss = (page: Page) => page.evaluate(() => (window as unknown as { __xss?: number }).__xss);

describe('annotation queues', () => {
  test('a moderator creates a queue; a rater judges with the keyboard; agreement and standing show; the queue closes', async () => {
    const owner = await makeUser(t.app, 'user');
    await startExchange(t, owner, 'What is the capital of Peru?', MARKUP_ANSWER);
    await startExchange(t, owner, 'What is the capital of Chile?', 'Santiago is the capital of Chile.');
    await startExchange(t, owner, 'What is the capital of Spain?', 'Lisbon.');
    const moderator = await makeUser(t.app, 'moderator', PASSWORD);
    const raters: TestUser[] = [
      await makeUser(t.app, 'user', PASSWORD),
      await makeUser(t.app, 'user', PASSWORD),
    ];

    // The moderator creates the queue in the UI.
    const mod = await openSignedIn(browser, t.url, moderator, PASSWORD);
    await mod.page.getByRole('link', { name: 'Moderation' }).click();
    await mod.page.getByRole('link', { name: 'Annotation queues' }).click();
    await mod.page.getByText('No open queues').waitFor();
    await mod.page.getByRole('button', { name: 'New queue' }).click();
    const form = mod.page.getByRole('form', { name: 'New annotation queue' });
    await form.getByLabel('Name').fill('Capitals, this week');
    await form.getByLabel('Guidelines (Markdown; HTML is shown as text)').fill(GUIDELINES);
    const preview = form.getByRole('region', { name: 'Guidelines preview' });
    await preview.getByRole('heading', { name: 'How to judge' }).waitFor();
    assert.equal(await preview.locator('strong').textContent(), 'good');
    assert.equal(await preview.locator('img, script').count(), 0, 'raw HTML is not rendered');
    assert.ok((await preview.textContent())?.includes('<img src=x'), 'raw HTML shows as text');
    await form.getByLabel('1 to 5 stars').check();
    await form.getByLabel('Labels (comma-separated; raters pick one)').fill('factual, vague');
    await form.getByLabel('Raters per item').fill('2');
    await form.getByRole('button', { name: 'Create queue' }).click();
    await mod.page.getByRole('heading', { name: /Capitals, this week/ }).waitFor();
    await mod.page.getByText('0 of 3 items complete').waitFor();
    const queue = await t.app.db.prisma.annotationQueue.findFirstOrThrow({
      where: { name: 'Capitals, this week' },
    });
    assert.deepEqual(queue.rubric, {
      thumbs: true,
      stars: true,
      pairwise: false,
      labels: ['factual', 'vague'],
      reason: 'optional',
    });
    assert.deepEqual(queue.annotatorRoles, ['user']);

    // A rater: the Review link appears, the guidelines stay in view, answers are text.
    const rater = await openSignedIn(browser, t.url, raters[0]!, PASSWORD);
    const { page } = rater;
    await page.getByRole('link', { name: 'Review' }).click();
    await page.getByRole('link', { name: 'Capitals, this week' }).click();
    const guidelines = page.getByRole('complementary', { name: 'Guidelines' });
    await guidelines.getByRole('heading', { name: 'How to judge' }).waitFor();
    assert.equal(await guidelines.locator('img, script').count(), 0);
    const href = await guidelines.getByText('unsafe').getAttribute('href');
    assert.ok(!href?.includes('javascript'), `javascript: links are dropped (href ${href})`);
    await page.getByText('You: 0 judged').waitFor();

    const judged: string[] = [];
    for (let i = 0; i < 2; i++) {
      const answer = page.getByRole('article', { name: 'The answer' });
      await answer.waitFor();
      const text = (await answer.locator('p.text').textContent())!;
      judged.push(text);
      assert.equal(await answer.locator('b, img').count(), 0, 'model output is text');
      // Keyboard: 4 stars, good, then a label (no shortcut) and Enter.
      await page.keyboard.press('4');
      await page.keyboard.press('g');
      await page.getByRole('button', { name: '4 of 5 stars', pressed: true }).waitFor();
      await page.getByRole('button', { name: '▲ Good (g)', pressed: true }).waitFor();
      await page.getByText('Still needed: a label.').waitFor();
      await page.getByLabel('factual').check();
      await page.getByLabel('Reason (optional)').fill(`reason ${i}`);
      await page.getByLabel('Reason (optional)').press('Control+Enter');
      await page.getByText(`You: ${i + 1} judged`).waitFor();
    }
    if (judged.some((x) => x.includes('<b>Lima</b>'))) assert.equal(await xss(page), undefined);
    await screenshot(page, 'review');
    // The third item: skip with s.
    await page.getByRole('article', { name: 'The answer' }).waitFor();
    await page.keyboard.press('s');
    await page.getByText('Nothing left for you in this queue').waitFor();
    await page.getByText('You: 2 judged, 1 skipped').waitFor();
    const stored = await t.app.db.prisma.annotationAssignment.findMany({
      where: { raterId: raters[0]!.id, status: 'done' },
      orderBy: { submittedAt: 'asc' },
    });
    assert.deepEqual(
      stored.map((s) => [s.thumbs, s.stars, s.label, s.reason]),
      [
        [1, 4, 'factual', 'reason 0'],
        [1, 4, 'factual', 'reason 1'],
      ],
    );
    assertNoConsoleErrors(rater);

    // A second rater through the API, disagreeing on everything.
    const api = () => request(t.app.server);
    for (;;) {
      const next = await api()
        .post(`/v1/annotation/queues/${queue.id}/next`)
        .set('authorization', raters[1]!.auth)
        .send({});
      if (!next.body.item) break;
      const res = await api()
        .post(`/v1/annotation/queues/${queue.id}/items/${next.body.item.itemId}/judgement`)
        .set('authorization', raters[1]!.auth)
        .send({ thumbs: 'down', stars: 1, label: 'vague' });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }

    // The moderator watches agreement and standing, then closes the queue.
    await mod.page.getByRole('button', { name: 'Refresh' }).click();
    const alphaTable = mod.page.getByRole('table', { name: "Krippendorff's alpha per rubric dimension" });
    await alphaTable.getByRole('rowheader', { name: /thumbs/ }).waitFor();
    assert.match((await alphaTable.getByRole('row', { name: /stars/ }).textContent()) ?? '', /ordinal/);
    const ratersTable = mod.page.getByRole('table', { name: 'Raters, least trusted first' });
    await ratersTable.getByRole('rowheader', { name: raters[0]!.email }).waitFor();
    await ratersTable.getByRole('rowheader', { name: raters[1]!.email }).waitFor();
    await screenshot(mod.page, 'moderation-annotation-queue');
    await mod.page.getByRole('button', { name: 'Close queue' }).click();
    await mod.page.getByRole('dialog').getByRole('button', { name: 'Close queue' }).click();
    await mod.page.locator('.badge.closed').first().waitFor();
    await waitFor(
      'the queue closed',
      async () =>
        (await t.app.db.prisma.annotationQueue.findUniqueOrThrow({ where: { id: queue.id } })).status ===
        'closed',
    );
    assertNoConsoleErrors(mod);
  });

  test('pairs are judged with a / b / t / n', async () => {
    const owner = await makeUser(t.app, 'user');
    const ex = await startExchange(t, owner, 'Which is the capital of Peru?', 'Lima.');
    await modelAnswer(t, ex.conversationId, ex.promptId, 'Cusco.');
    const rater = await makeUser(t.app, 'user', PASSWORD);
    const moderator = await makeUser(t.app, 'moderator');
    const created = await request(t.app.server)
      .post('/v1/annotation/queues')
      .set('authorization', moderator.auth)
      .send({
        name: 'Pairs',
        rubric: { pairwise: true, reason: 'off' },
        source: { kind: 'sample', pairs: true },
        annotators: { userIds: [rater.id] },
      });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const watched = await openSignedIn(browser, t.url, rater, PASSWORD);
    const { page } = watched;
    await page.goto(`/review/${created.body.id}`);
    const a = page.getByRole('article', { name: 'Answer A' });
    await a.waitFor();
    const aText = (await a.locator('p.text').textContent())!;
    await page.getByRole('article', { name: 'Answer B' }).waitFor();
    await page.keyboard.press('t');
    await page.getByRole('button', { name: 'Tie (t)', pressed: true }).waitFor();
    await page.keyboard.press('b');
    await page.getByRole('button', { name: 'B is better (b)', pressed: true }).waitFor();
    await page.keyboard.press('Enter');
    await page.getByText('Nothing left for you in this queue').waitFor();
    const [stored] = await t.app.db.prisma.annotationAssignment.findMany({
      where: { raterId: rater.id },
      include: { item: { include: { message: true } } },
    });
    assert.equal(stored!.choice, 'b');
    assert.equal(stored!.item.message.content, aText, 'answer A on the page is the item’s first answer');
    assertNoConsoleErrors(watched);
  });

  test('in the chat, a thumbs or stars rating takes an optional reason', async () => {
    const user = await makeUser(t.app, 'user', PASSWORD);
    const ex = await startExchange(t, user, 'What is the capital of Peru?', 'Lima is the capital of Peru.');
    const watched = await openSignedIn(browser, t.url, user, PASSWORD);
    const { page } = watched;
    await page.goto(`/chat/${ex.conversationId}`);
    const answer = page.getByRole('article', { name: 'Answer 1 of 1' });
    await answer.getByRole('button', { name: 'Thumbs up: a good answer' }).click();
    const reason = answer.getByRole('form', { name: 'Why you rated it so' });
    await reason.getByLabel('Why your thumbs up? (optional)').fill('Names the capital');
    await reason.getByRole('button', { name: 'Save reason' }).click();
    await answer.getByText('Thanks, your reason is saved.').waitFor();
    await answer.getByRole('button', { name: '2 of 5 stars' }).click();
    await answer.getByLabel('Why your 2 stars? (optional)').fill('Too short');
    await answer.getByRole('button', { name: 'Save reason' }).click();
    await answer.getByText('Thanks, your reason is saved.').waitFor();
    const ratings = await t.app.db.prisma.rating.findMany({
      where: { messageId: ex.answerId },
      orderBy: { kind: 'asc' },
    });
    assert.deepEqual(
      ratings.map((r) => [r.kind, r.value, r.reason]),
      [
        ['thumbs', 1, 'Names the capital'],
        ['stars', 2, 'Too short'],
      ],
    );
    assertNoConsoleErrors(watched);
  });
});
