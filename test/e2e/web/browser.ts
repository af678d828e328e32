// The browser side of the UI tests: the real app listening on loopback (fresh database, the
// committed base model), headless Chromium driven by playwright-core, a record of everything the
// page logged as an error, and screenshots into test-results/screenshots/.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { ensureBaseModel } from '../../../src/promotion/base-model.ts';
import { WEB_DIST } from '../../../src/platform/static-site.ts';
import { existsSync } from 'node:fs';

const MODEL_DIR = fileURLToPath(new URL('../../../models', import.meta.url));
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../test-results/screenshots/', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface WebTestApp extends TestApp {
  url: string;
}

/** The real app on a fresh database, serving the built UI and the base model, listening on loopback. */
export async function startWebApp(options: { model?: boolean } = {}): Promise<WebTestApp> {
  assert.ok(existsSync(`${WEB_DIST}/index.html`), 'web/dist is missing: run `npm run build:web` first');
  const t = await startTestApp({ MODEL_DIR });
  if (options.model) {
    const base = await ensureBaseModel(t.app.db.prisma, MODEL_DIR);
    assert.ok(base, 'the base model is registered');
    await t.app.servedModels.warm();
  }
  const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  return { ...t, url };
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A page whose console errors and uncaught exceptions are collected for assertNoConsoleErrors. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  errors: string[];
}

export async function openPage(
  browser: Browser,
  baseURL: string,
  viewport = { width: 1200, height: 900 },
): Promise<WatchedPage> {
  const context = await browser.newContext({ baseURL, viewport });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  // The server's Content-Security-Policy must be present on every page and never violated: each
  // violation the browser reports counts as an error (Chromium also logs it to the console).
  await page.exposeBinding('__feedloopCspViolation', (_source, text: string) => errors.push(`csp: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const report = (window as unknown as { __feedloopCspViolation(text: string): void })
        .__feedloopCspViolation;
      report(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'document') return;
    const csp = response.headers()['content-security-policy'] ?? '';
    if (!csp.includes("frame-ancestors 'none'")) errors.push(`csp: missing on ${response.url()}`);
  });
  page.setDefaultTimeout(20_000);
  return { page, context, errors };
}

export function assertNoConsoleErrors(watched: WatchedPage) {
  assert.deepEqual(watched.errors, [], 'the browser console shows no errors');
}

export async function screenshot(page: Page, name: string) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOT_DIR}${name}.png`, fullPage: true });
}

/** Signs up through the UI (a new `user`) and waits for the chat. */
export async function signUp(page: Page, email: string, password = 'correct horse battery') {
  await page.goto('/');
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('button', { name: '+ New conversation' }).waitFor();
}

/** Signs in through the UI. */
export async function signIn(page: Page, email: string, password: string) {
  await page.goto('/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** A new watched page on `baseURL`, signed in through the UI as `user`. */
export async function openSignedIn(
  browser: Browser,
  baseURL: string,
  user: { email: string },
  password: string,
): Promise<WatchedPage> {
  const watched = await openPage(browser, baseURL);
  await signIn(watched.page, user.email, password);
  return watched;
}
