// Swagger UI in a real browser: Debian's Chromium (apt-get install chromium), driven by playwright-core.
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startApp, type RunningApp } from '../support/app.js';
import { mintIat } from '../support/dcr.js';

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

  /** Enters credentials for one security scheme in the Authorize dialog. */
  async function authorize(page: Page, scheme: string, fill: (container: Locator) => Promise<void>): Promise<void> {
    await page.locator('.auth-wrapper button.authorize').first().click();
    const container = page.locator('.modal-ux .auth-container', { has: page.locator('h4', { hasText: scheme }) });
    await fill(container);
    await container.locator('button.authorize').click();
    await page.locator('.modal-ux button.btn-done').first().click();
  }

  async function execute(operation: Locator): Promise<{ status: string; body: string }> {
    await operation.getByRole('button', { name: 'Execute' }).click();
    const status = operation.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 10_000 });
    return { status: (await status.textContent())?.trim() ?? '', body: (await operation.locator('.live-responses-table .microlight').first().textContent()) ?? '' };
  }

  it('registers a client with an initial access token and gets a client_credentials token with Basic authentication, using the documented examples', async () => {
    const iat = await mintIat(svc);
    const page = await browser.newPage({ viewport: { width: 1400, height: 2000 } });
    await page.goto(`${svc.url}/docs`);
    await page.waitForSelector('.opblock', { timeout: 20_000 });

    await authorize(page, 'initial-access-token', (c) => c.locator('input').first().fill(iat));
    const register = page.locator('.opblock-post', { has: page.locator('[data-path="/oauth2/register"]') });
    await register.locator('.opblock-summary').click();
    await register.getByRole('button', { name: 'Try it out' }).click();
    const registered = await execute(register);
    expect(registered.status).toBe('201');
    const client = JSON.parse(registered.body) as { client_id: string; client_secret: string; scope: string };
    expect(client.scope).toBe('invoices.read invoices.write');

    await authorize(page, 'client-basic', async (c) => {
      await c.locator('input[type="text"]').first().fill(client.client_id);
      await c.locator('input[type="password"]').first().fill(client.client_secret);
    });
    const token = page.locator('.opblock-post', { has: page.locator('[data-path="/oauth2/token"]') });
    await token.locator('.opblock-summary').click();
    await token.getByRole('button', { name: 'Try it out' }).click();
    await token.locator('tr[data-property-name="grant_type"] select').selectOption('client_credentials');
    const issued = await execute(token);
    expect(issued.status).toBe('200');
    expect(JSON.parse(issued.body)).toMatchObject({ token_type: 'Bearer', scope: 'invoices.read' });
  }, 90_000);
});
