// The browser tests' shared set-up: Debian chromium driven by playwright-core, skipped with a
// reason where chromium is missing (and an error under CI=true, where it must be there), French
// locale and Paris time, and a page that records console errors, uncaught exceptions, failed
// requests and HTTP errors — what each *browser.test.ts used to repeat.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where screenshots go: $TDDUI_SCREENSHOTS, else a folder of the OS temp dir (never the repository). */
export const SHOTS = process.env.TDDUI_SCREENSHOTS ?? join(tmpdir(), 'tddui-ui-screenshots');
export const browserAvailable = existsSync(CHROMIUM);
if (!browserAvailable && process.env.CI === 'true') throw new Error(`chromium not found at ${CHROMIUM} (required under CI=true)`);
/** The `skip` option of a browser test: false, or why it is skipped. */
export const browserSkip: false | string = browserAvailable ? false : `chromium not found at ${CHROMIUM}: browser tests skipped (install Debian chromium)`;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--lang=fr-FR'],
    env: { ...process.env, LANG: 'fr_FR.UTF-8', LANGUAGE: 'fr' },
  });
}

/** A page in its own context (French, Paris, `width` px wide) with the problems it meets. */
export async function openPage(browser: Browser, width = 1280, headers?: Record<string, string>): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ locale: 'fr-FR', timezoneId: 'Europe/Paris', viewport: { width, height: 900 }, acceptDownloads: true, ...(headers ? { extraHTTPHeaders: headers } : {}) });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return { page, problems };
}
