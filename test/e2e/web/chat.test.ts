// The chat UI in a real browser against the real app: sign up, stream an answer, rate, flag,
// correct, regenerate, page through branches, compare and vote; implicit signals reach the database,
// the last batch by beacon when the page goes away; model output and corrections render as text.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import {
  assertNoConsoleErrors,
  launchBrowser,
  openPage,
  screenshot,
  signUp,
  startWebApp,
  type WebTestApp,
} from './browser.ts';
import { waitFor } from '../../helpers/wait-for.ts';

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

const XSS = '<img src=x onerror="window.__xss = 1"> Lima is the capital of Peru.';

describe('chat', () => {
  test('a new user chats, rates, flags, corrects, regenerates and votes; signals reach the database', async () => {
    const watched = await openPage(browser, t.url);
    const { page } = watched;
    const email = `chat-${Date.now()}@example.test`;

    await page.goto('/');
    await screenshot(page, 'sign-in');
    await signUp(page, email);
    const user = await t.app.db.prisma.user.findUniqueOrThrow({ where: { email } });
    assert.equal(user.role, 'user');
    // A user sees the chat and settings, not moderation or the dashboard.
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.deepEqual(await nav.getByRole('link').allTextContents(), ['Chat', 'Settings']);
    await page.getByText('No conversations yet').waitFor();

    // Ask; the answer streams into the page token by token, then becomes a stored answer.
    await page.getByLabel('Your message').fill('What is the capital of Peru?');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const streaming = page.getByTestId('streaming-answer');
    await streaming.waitFor();
    const answer = page.getByRole('article', { name: 'Answer 1 of 1' });
    await answer.waitFor();
    const first = await t.app.db.prisma.message.findFirstOrThrow({
      where: { role: 'assistant', conversation: { userId: user.id } },
    });
    assert.equal((await answer.locator('p.text').textContent())?.trim(), first.content.trim());
    assert.match(page.url(), new RegExp(`/chat/${first.conversationId}$`));

    // Thumbs and stars.
    await answer.getByRole('button', { name: 'Thumbs up: a good answer' }).click();
    await answer.getByText('Thanks, your rating is saved.').waitFor();
    await answer.getByRole('button', { name: '4 of 5 stars' }).click();
    await answer.getByText('Saved: 4 of 5 stars.').waitFor();
    assert.equal(
      await answer.getByRole('button', { name: '4 of 5 stars' }).getAttribute('aria-pressed'),
      'true',
    );
    const ratings = await t.app.db.prisma.rating.findMany({
      where: { messageId: first.id },
      orderBy: { kind: 'asc' },
    });
    assert.deepEqual(
      ratings.map((r) => [r.kind, r.value]),
      [
        ['thumbs', 1],
        ['stars', 4],
      ],
    );

    // Copy with the button: an implicit copy signal.
    await answer.getByRole('button', { name: 'Copy' }).click();
    await answer.getByText('Copied to the clipboard.').waitFor();

    // Flag with a category and a comment.
    await answer.getByRole('button', { name: 'Flag' }).click();
    const flagForm = answer.getByRole('form', { name: 'Flag this answer' });
    await flagForm.getByLabel('What is wrong?').selectOption('inaccurate');
    await flagForm.getByLabel('Comment (optional)').fill('Not the capital.');
    await flagForm.getByRole('button', { name: 'Send flag' }).click();
    await answer.getByText('Flag sent. A moderator will review it.').waitFor();
    const flag = await t.app.db.prisma.flag.findFirstOrThrow({ where: { messageId: first.id } });
    assert.deepEqual([flag.category, flag.comment], ['inaccurate', 'Not the capital.']);

    // Suggest a correction holding markup: the diff shows it as text, and nothing runs.
    await answer.getByRole('button', { name: 'Suggest a correction' }).click();
    const editor = answer.getByRole('form', { name: 'Suggest a correction' });
    await editor.getByLabel('Edit the answer into what it should have said').fill(XSS);
    const diff = editor.getByRole('group', { name: 'Changes from the original answer' });
    await diff.waitFor();
    const shown = (await diff.locator('ins').allTextContents()).join('');
    assert.ok(shown.includes('<img') && shown.includes('onerror='), `the markup shows as text: ${shown}`);
    assert.equal(await diff.locator('img').count(), 0, 'the markup is not an element');
    await screenshot(page, 'chat-correction');
    await editor.getByRole('button', { name: 'Send correction' }).click();
    await answer.getByText('Correction sent. A moderator will review it.').waitFor();
    const correction = await t.app.db.prisma.correction.findFirstOrThrow({ where: { messageId: first.id } });
    assert.equal(correction.submittedText, XSS);
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);

    // Regenerate: a second answer under the same prompt; the first stays as a branch.
    await answer.getByRole('button', { name: 'Regenerate' }).click();
    const second = page.getByRole('article', { name: 'Answer 2 of 2' });
    await second.waitFor();
    await second.getByRole('button', { name: 'Previous answer' }).click();
    await page.getByRole('article', { name: 'Answer 1 of 2' }).waitFor();
    await page.getByRole('button', { name: 'Next answer' }).click();
    await second.waitFor();

    // Compare the two side by side and vote.
    await second.getByRole('button', { name: 'Compare answers' }).click();
    const compare = second.getByRole('region', { name: 'Compare two answers' });
    await compare.getByRole('button', { name: 'Both are bad' }).click();
    await compare.getByText('Vote recorded: Both are bad.').waitFor();
    await screenshot(page, 'chat-compare');
    const vote = await t.app.db.prisma.pairwiseVote.findFirstOrThrow({ where: { userId: user.id } });
    assert.equal(vote.choice, 'both_bad');
    const answers = await t.app.db.prisma.message.findMany({
      where: { role: 'assistant', conversationId: first.conversationId },
      orderBy: { createdAt: 'asc' },
    });
    assert.equal(answers.length, 2);
    assert.equal(answers[1]!.parentId, first.parentId, 'the regenerated answer is a sibling');
    assert.deepEqual(new Set([vote.messageAId, vote.messageBId]), new Set(answers.map((a) => a.id)));

    // A follow-up question on the second answer.
    await page.getByLabel('Your message').fill('And of Chile?');
    await page.getByLabel('Your message').press('Enter');
    await page.getByRole('article', { name: 'Answer 1 of 1' }).waitFor();
    await screenshot(page, 'chat');

    // Leaving the page sends the last batch (with the session end) by beacon.
    await page.goto('about:blank');
    const types = await waitFor('copy, regenerate, follow-up, dwell and session-end events', async () => {
      const events = await t.app.db.prisma.implicitEvent.findMany({ where: { userId: user.id } });
      const seen = new Set(events.map((e) => e.type));
      const wanted = ['copy', 'regenerate', 'follow_up', 'dwell', 'session_end'];
      return wanted.every((w) => seen.has(w as never)) ? seen : null;
    });
    assert.ok(types?.has('copy'));
    const copy = await t.app.db.prisma.implicitEvent.findFirstOrThrow({
      where: { userId: user.id, type: 'copy' },
    });
    assert.equal(copy.messageId, first.id);
    assert.equal(copy.value, first.content.length);
    const regenerate = await t.app.db.prisma.implicitEvent.findFirstOrThrow({
      where: { userId: user.id, type: 'regenerate' },
    });
    assert.equal(regenerate.messageId, first.id);
    const followUp = await t.app.db.prisma.implicitEvent.findFirstOrThrow({
      where: { userId: user.id, type: 'follow_up' },
    });
    assert.equal(followUp.messageId, answers[1]!.id);

    assertNoConsoleErrors(watched);
    await watched.context.close();
  });

  test('on a phone-sized screen, signals can be turned off and stay off; a beacon is accepted', async () => {
    const watched = await openPage(browser, t.url, { width: 390, height: 844 });
    const { page } = watched;
    const email = `phone-${Date.now()}@example.test`;
    await signUp(page, email);
    const user = await t.app.db.prisma.user.findUniqueOrThrow({ where: { email } });

    await page.getByRole('link', { name: 'Settings' }).click();
    const toggle = page.getByRole('checkbox', { name: 'Collect implicit signals in this browser' });
    assert.equal(await toggle.isChecked(), true, 'on by default');
    await toggle.uncheck();
    await page.getByText('Signals are off').waitFor();
    await screenshot(page, 'settings');
    await page.reload();
    assert.equal(await toggle.isChecked(), false, 'the choice is kept in this browser');

    // With signals off, copying and regenerating record nothing.
    await page.getByRole('link', { name: 'Chat' }).click();
    await page.getByLabel('Your message').fill('What is the capital of France?');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const answer = page.getByRole('article', { name: 'Answer 1 of 1' });
    await answer.waitFor();
    await screenshot(page, 'chat-phone');
    await answer.getByRole('button', { name: 'Copy' }).click();
    await answer.getByText('Copied to the clipboard.').waitFor();

    // Back on: the next copy is recorded, and it is the only one.
    await page.getByRole('link', { name: 'Settings' }).click();
    await toggle.check();
    await page.getByRole('link', { name: 'Chat' }).click();
    await page.getByRole('link', { name: /What is the capital of France/ }).click();
    await answer.getByRole('button', { name: 'Copy' }).click();
    await answer.getByText('Copied to the clipboard.').waitFor();
    await page.goto('about:blank');
    await waitFor('the session-end event', () =>
      t.app.db.prisma.implicitEvent.count({ where: { userId: user.id, type: 'session_end' } }),
    );
    assert.equal(await t.app.db.prisma.implicitEvent.count({ where: { userId: user.id, type: 'copy' } }), 1);

    // The events route takes a sendBeacon Blob (JSON, with the session cookie) as it is.
    await page.goto('/settings');
    const message = await t.app.db.prisma.message.findFirstOrThrow({
      where: { role: 'assistant', conversation: { userId: user.id } },
    });
    const queued = await page.evaluate((messageId) => {
      const events = [{ id: `beacon-${messageId}`, type: 'expand', messageId, value: 3, ts: Date.now() }];
      return navigator.sendBeacon(
        '/v1/events',
        new Blob([JSON.stringify({ events })], { type: 'application/json' }),
      );
    }, message.id);
    assert.equal(queued, true);
    const stored = await waitFor('the beacon event', () =>
      t.app.db.prisma.implicitEvent.findFirst({ where: { id: `beacon-${message.id}` } }),
    );
    assert.deepEqual([stored.type, stored.value, stored.userId], ['expand', 3, user.id]);

    assertNoConsoleErrors(watched);
    await watched.context.close();
  });

  test('a long answer starts collapsed; expanding it and copying a selection are signals', async () => {
    const watched = await openPage(browser, t.url);
    const { page } = watched;
    const email = `long-${Date.now()}@example.test`;
    await signUp(page, email);
    const user = await t.app.db.prisma.user.findUniqueOrThrow({ where: { email } });
    const long = `${'The Andes run along the west of South America. '.repeat(20)}The end.`;
    const conversation = await t.app.db.prisma.conversation.create({
      data: {
        userId: user.id,
        title: 'A long answer',
        messages: { create: [{ role: 'user', content: 'Tell me about the Andes.' }] },
      },
      include: { messages: true },
    });
    const answer = await t.app.db.prisma.message.create({
      data: {
        conversationId: conversation.id,
        parentId: conversation.messages[0]!.id,
        role: 'assistant',
        content: long,
      },
    });

    await page.goto(`/chat/${conversation.id}`);
    const card = page.getByRole('article', { name: 'Answer 1 of 1' });
    const expand = card.getByRole('button', { name: 'Show the full answer' });
    assert.equal(await expand.getAttribute('aria-expanded'), 'false');
    await expand.click();
    assert.equal(await card.getByRole('button', { name: 'Show less' }).getAttribute('aria-expanded'), 'true');

    // Select the first 20 characters of the answer and copy them.
    await card.locator('p.text').evaluate((el) => {
      const range = document.createRange();
      range.setStart(el.firstChild!, 0);
      range.setEnd(el.firstChild!, 20);
      const selection = window.getSelection()!;
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand('copy');
    });
    await page.goto('about:blank');
    const events = await waitFor('the expand and copy events', async () => {
      const rows = await t.app.db.prisma.implicitEvent.findMany({ where: { userId: user.id } });
      const byType = new Map(rows.map((r) => [r.type, r]));
      return byType.has('expand') && byType.has('copy') ? byType : null;
    });
    assert.equal(events.get('expand')!.messageId, answer.id);
    assert.equal(events.get('expand')!.value, long.length);
    assert.equal(events.get('copy')!.value, 20, 'the selection length');

    assertNoConsoleErrors(watched);
    await watched.context.close();
  });
});
