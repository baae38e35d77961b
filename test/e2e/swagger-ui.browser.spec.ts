// Swagger UI in a real browser: Debian's Chromium (apt-get install chromium), driven by playwright-core.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startApp, type RunningApp } from '../support/app.js';

const ARTIFACTS = new URL('../../.test-output/', import.meta.url).pathname;

let svc: RunningApp;
let browser: Browser;

beforeAll(async () => {
  svc = await startApp();
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await svc?.close();
});

describe('Swagger UI', () => {
  it('renders every operation group and executes a "Try it out" request against the live service', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 2000 } });
    await page.goto(`${svc.url}/docs`);
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    const summaries = await page.locator('.opblock-summary-description').allTextContents();
    expect(summaries).toContain('Register a client (RFC 7591)');
    expect(summaries).toContain('Create a client');
    expect(summaries.length).toBeGreaterThanOrEqual(30);

    const ready = page.locator('.opblock-get', { has: page.locator('[data-path="/health/ready"]') });
    await ready.locator('.opblock-summary').click();
    await ready.getByRole('button', { name: 'Try it out' }).click();
    await ready.getByRole('button', { name: 'Execute' }).click();
    const status = ready.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 10_000 });
    expect((await status.textContent())?.trim()).toBe('200');
    await expect(ready.locator('.live-responses-table .microlight').first().textContent()).resolves.toContain('"status": "ok"');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}swagger-ui.png`, fullPage: false });
    expect(existsSync(`${ARTIFACTS}swagger-ui.png`)).toBe(true);
  }, 60_000);
});
