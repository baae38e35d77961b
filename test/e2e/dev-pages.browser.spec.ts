// The built-in development login and consent pages (README, Signing users in: outside
// production, with urls.login unset) in a real browser, Debian's Chromium
// driven by playwright-core, from /oauth2/auth to the client's redirect URI
// (a small HTTP server of the test); then the same pages over plain HTTP:
// error pages, HTML escaping, security headers, and 404 when an app is configured.
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/chromium.js';
import { startApp, type RunningApp } from '../support/app.js';
import { registerClient } from '../support/dcr.js';
import { authorizeUrl, Browser as CookieBrowser, pkcePair, tokenRequest } from '../support/oauth-flow.js';

const ARTIFACTS = new URL('../../.test-output/', import.meta.url).pathname;
const CLIENT_NAME = 'Dev Pages Demo';
const CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

/** The client's side: records every request URL and answers 200 "done". */
interface Callback {
  server: Server;
  base: string;
  hits: URL[];
}

async function startCallbackServer(): Promise<Callback> {
  const hits: URL[] = [];
  const server = createServer((req, res) => {
    hits.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('done');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}`, hits };
}

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

describe('built-in development pages in Chromium', () => {
  let browser: Browser;
  let callback: Callback;
  let redirectUri: string;
  let clientId: string;

  beforeAll(async () => {
    callback = await startCallbackServer();
    redirectUri = `${callback.base}/callback`;
    const client = await registerClient(svc, {
      client_name: CLIENT_NAME,
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid profile',
    });
    clientId = client.client_id as string;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => callback?.server.close(resolve));
  });

  function start(state: string, scope = 'openid profile'): { url: string; verifier: string } {
    const { verifier, challenge } = pkcePair();
    const url = authorizeUrl(svc, {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope,
      state,
      nonce: `nonce-${state}`,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    return { url: url.toString(), verifier };
  }

  /** A page that records what the browser said (CSP violations, blocked navigations) for failure messages. */
  async function newPage(context: BrowserContext): Promise<{ page: Page; console: string[] }> {
    const page = await context.newPage();
    const console: string[] = [];
    page.on('console', (m) => console.push(`${m.type()}: ${m.text()}`));
    page.on('requestfailed', (r) => console.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
    return { page, console };
  }

  /** Waits until the browser is on `path` of `origin`; on timeout, says where it is and what it logged. */
  async function arrive(page: Page, log: string[], origin: string, path: string): Promise<URL> {
    try {
      await page.waitForURL((u) => u.origin === origin && u.pathname === path, { timeout: 10_000, waitUntil: 'load' });
    } catch {
      throw new Error(`expected the browser at ${origin}${path}, it is at ${page.url()}; browser log:\n${log.join('\n')}`);
    }
    return new URL(page.url());
  }

  function callbackHit(state: string): URL {
    const hit = callback.hits.find((u) => u.searchParams.get('state') === state);
    if (!hit) throw new Error(`the client's redirect URI was not called for state ${state}`);
    return hit;
  }

  it('signs in on the login page, allows on the consent page, reaches the callback with code, state and iss; the code redeems for an ID token of the typed user', async () => {
    const context = await browser.newContext();
    const { page, console } = await newPage(context);
    const { url, verifier } = start('browser-1');

    await page.goto(url);
    const login = await arrive(page, console, svc.url, '/dev/login');
    expect(login.searchParams.get('login_challenge')).toBeTruthy();
    await expect(page.locator('h1').textContent()).resolves.toBe(`Sign in to ${CLIENT_NAME}`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dev-login.png`, fullPage: true });
    expect(existsSync(`${ARTIFACTS}dev-login.png`)).toBe(true);

    await page.getByLabel('User name').fill('dana.dev');
    await page.getByLabel('Remember me for an hour').check();
    await page.getByRole('button', { name: 'Sign in' }).click();

    await arrive(page, console, svc.url, '/dev/consent');
    await expect(page.locator('h1').textContent()).resolves.toBe(`${CLIENT_NAME} wants access`);
    await expect(page.locator('strong').textContent()).resolves.toBe('dana.dev');
    await expect(page.locator('ul li code').allTextContents()).resolves.toEqual(['openid', 'profile']);
    for (const box of await page.locator('ul li input[type=checkbox]').all()) expect(await box.isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Allow' }).click();

    const end = await arrive(page, console, callback.base, '/callback');
    await expect(page.locator('body').textContent()).resolves.toBe('done');
    const code = end.searchParams.get('code');
    expect(code).toBeTruthy();
    expect(end.searchParams.get('state')).toBe('browser-1');
    expect(end.searchParams.get('iss')).toBe(svc.url);
    expect(callbackHit('browser-1').searchParams.get('code')).toBe(code);

    const tokens = await tokenRequest(svc, { grant_type: 'authorization_code', code: code!, redirect_uri: redirectUri, code_verifier: verifier, client_id: clientId });
    expect(tokens.status).toBe(200);
    expect(tokens.body.scope).toBe('openid profile');
    const jwks = createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(tokens.body.id_token as string, jwks, { issuer: svc.url, audience: clientId });
    expect(payload).toMatchObject({ sub: 'dana.dev', nonce: 'nonce-browser-1', amr: ['pwd'], preferred_username: 'dana.dev' });

    await context.close();
  }, 60_000);

  it('a second authorization in the same browser skips the login page (remembered session) and, consent not being remembered, lands on the consent page', async () => {
    const context = await browser.newContext();
    const { page, console } = await newPage(context);
    await page.goto(start('remember-1').url);
    await arrive(page, console, svc.url, '/dev/login');
    await page.getByLabel('User name').fill('frank');
    await page.getByLabel('Remember me for an hour').check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await arrive(page, console, svc.url, '/dev/consent');
    const cookies = await context.cookies(svc.url);
    expect(cookies.find((c) => c.name === 'registrar_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });

    const loginResponses: number[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/dev/login') loginResponses.push(r.status());
    });
    await page.goto(start('remember-2').url);
    const at = await arrive(page, console, svc.url, '/dev/consent');
    expect(at.searchParams.get('consent_challenge')).toBeTruthy();
    // The login page was passed through as a redirect: no form was shown.
    expect(loginResponses).toEqual([302]);
    await expect(page.locator('strong').textContent()).resolves.toBe('frank');
    await expect(page.locator('ul li code').allTextContents()).resolves.toEqual(['openid', 'profile']);
    await context.close();
  }, 60_000);

  it('a remembered decision: after Allow with "Remember this decision", the next authorization goes straight through both pages to the callback', async () => {
    const context = await browser.newContext();
    const { page, console } = await newPage(context);
    await page.goto(start('consent-1').url);
    await arrive(page, console, svc.url, '/dev/login');
    await page.getByLabel('User name').fill('grace');
    await page.getByLabel('Remember me for an hour').check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await arrive(page, console, svc.url, '/dev/consent');
    await page.getByLabel('Remember this decision').check();
    await page.getByRole('button', { name: 'Allow' }).click();
    const first = await arrive(page, console, callback.base, '/callback');
    expect(first.searchParams.get('state')).toBe('consent-1');

    const { url, verifier } = start('consent-2');
    await page.goto(url);
    const end = await arrive(page, console, callback.base, '/callback');
    expect(end.searchParams.get('state')).toBe('consent-2');
    expect(end.searchParams.get('iss')).toBe(svc.url);
    const tokens = await tokenRequest(svc, {
      grant_type: 'authorization_code',
      code: end.searchParams.get('code')!,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: clientId,
    });
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token as string).sub).toBe('grace');
    await context.close();
  }, 60_000);

  it('Deny on the login page sends the browser to the callback with error=access_denied, state and iss', async () => {
    const context = await browser.newContext();
    const { page, console } = await newPage(context);
    await page.goto(start('deny-login').url);
    await arrive(page, console, svc.url, '/dev/login');
    // A user who declines types no name: Deny must submit the form all the same.
    const posted = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/dev/login', { timeout: 5_000 }).then(
      () => true,
      () => false,
    );
    await page.getByRole('button', { name: 'Deny' }).click();
    expect({ denyWithEmptyUserNameSubmits: await posted }).toEqual({ denyWithEmptyUserNameSubmits: true });
    const end = await arrive(page, console, callback.base, '/callback');
    expect(end.searchParams.get('error')).toBe('access_denied');
    expect(end.searchParams.get('state')).toBe('deny-login');
    expect(end.searchParams.get('iss')).toBe(svc.url);
    expect(end.searchParams.get('code')).toBeNull();
    await context.close();
  }, 60_000);

  it('Deny on the consent page sends the browser to the callback with error=access_denied', async () => {
    const context = await browser.newContext();
    const { page, console } = await newPage(context);
    await page.goto(start('deny-consent').url);
    await arrive(page, console, svc.url, '/dev/login');
    await page.getByLabel('User name').fill('erin');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await arrive(page, console, svc.url, '/dev/consent');
    await page.getByRole('button', { name: 'Deny' }).click();
    const end = await arrive(page, console, callback.base, '/callback');
    expect(end.searchParams.get('error')).toBe('access_denied');
    expect(end.searchParams.get('state')).toBe('deny-consent');
    expect(end.searchParams.get('iss')).toBe(svc.url);
    await context.close();
  }, 60_000);
});

describe('built-in development pages over plain HTTP', () => {
  // The same app: no urls.login / urls.consent, not production.
  async function client(name: string): Promise<string> {
    const body = await registerClient(svc, {
      client_name: name,
      redirect_uris: ['https://app.example.com/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid profile',
    });
    return body.client_id as string;
  }

  async function toLoginPage(browser: CookieBrowser, clientId: string, extra: Record<string, string> = {}): Promise<URL> {
    const location = await browser.follow(
      authorizeUrl(svc, { client_id: clientId, response_type: 'code', scope: 'openid profile', state: 's', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', ...extra }),
    );
    expect(location.origin + location.pathname).toBe(`${svc.url}/dev/login`);
    return location;
  }

  function expectPageHeaders(res: Response): void {
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  }

  function expectNoInternals(html: string): void {
    expect(html).not.toMatch(/\n\s+at |Error:|node_modules|\.ts:\d+|\.js:\d+/);
    expect(html.trimStart().startsWith('{')).toBe(false);
  }

  it('GET /dev/login and /dev/consent without a challenge answer an HTML error page, not JSON or a stack trace', async () => {
    for (const [path, name] of [
      ['/dev/login', 'login_challenge'],
      ['/dev/consent', 'consent_challenge'],
    ]) {
      const res = await fetch(`${svc.url}${path}`);
      expect(res.status).toBe(400);
      expectPageHeaders(res);
      const html = await res.text();
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).toContain('This request cannot continue');
      expect(html).toContain(`${name} is required`);
      expectNoInternals(html);
    }
    const unknown = await fetch(`${svc.url}/dev/login?login_challenge=not-a-real-challenge`);
    expect(unknown.status).toBe(404);
    expectPageHeaders(unknown);
    const html = await unknown.text();
    expect(html).toContain('unknown or has expired');
    expectNoInternals(html);
  });

  it('escapes a client_name with <script>, a login_hint and a typed user name on the login and consent pages', async () => {
    const hostileName = '<script>alert("pwned")</script> & Co\'s';
    const clientId = await client(hostileName);
    const browser = new CookieBrowser();
    const hint = '"><img src=x onerror=alert(1)>';
    const loginAt = await toLoginPage(browser, clientId, { login_hint: hint });

    const loginRes = await browser.get(loginAt);
    expect(loginRes.status).toBe(200);
    expectPageHeaders(loginRes);
    const loginHtml = await loginRes.text();
    expect(loginHtml).toContain('Sign in to &#60;script&#62;alert(&#34;pwned&#34;)&#60;/script&#62; &#38; Co&#39;s</h1>');
    expect(loginHtml).not.toContain('<script');
    expect(loginHtml).toContain('value="&#34;&#62;&#60;img src=x onerror=alert(1)&#62;"');
    expect(loginHtml).not.toContain('<img');

    // Sign in as a name that is HTML, through the page's own form.
    const challenge = loginAt.searchParams.get('login_challenge')!;
    const posted = await browser.request(`${svc.url}/dev/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login_challenge: challenge, subject: '<b>eve</b>', action: 'accept' }),
    });
    expect(posted.status).toBe(303);
    const consentAt = await browser.follow(new URL(posted.headers.get('location')!, svc.url));
    expect(consentAt.origin + consentAt.pathname).toBe(`${svc.url}/dev/consent`);
    const consentRes = await browser.get(consentAt);
    expect(consentRes.status).toBe(200);
    expectPageHeaders(consentRes);
    const consentHtml = await consentRes.text();
    expect(consentHtml).toContain('&#60;script&#62;alert(&#34;pwned&#34;)&#60;/script&#62; &#38; Co&#39;s wants access');
    expect(consentHtml).toContain('Signed in as <strong>&#60;b&#62;eve&#60;/b&#62;</strong>');
    expect(consentHtml).not.toContain('<script');
    expect(consentHtml).not.toContain('<b>eve');
    expect(consentHtml).toContain('<code>openid</code>');
    expect(consentHtml).toContain('<code>profile</code>');

    // The login challenge was answered: posting it again is a 409 page, not a second answer.
    const again = await browser.request(`${svc.url}/dev/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login_challenge: challenge, subject: 'someone', action: 'accept' }),
    });
    expect(again.status).toBe(409);
    expectPageHeaders(again);
    const againHtml = await again.text();
    expect(againHtml).toContain('already handled');

    // Reloading the answered login page starts the authorization request again.
    const reload = await browser.get(`${svc.url}/dev/login?login_challenge=${encodeURIComponent(challenge)}`);
    expect(reload.status).toBe(302);
    expect(reload.headers.get('location')).toMatch(new RegExp(`^${svc.url}/oauth2/auth\\?`));
    expectNoInternals(againHtml);

    // Answer the consent page, then post its form again: a 409 page, not a restart and not a second answer.
    const consentChallenge = consentAt.searchParams.get('consent_challenge')!;
    const post = (form: Record<string, string>) =>
      browser.request(`${svc.url}/dev/consent`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
    expect((await post({ consent_challenge: consentChallenge, scope: 'openid', action: 'accept' })).status).toBe(303);
    const twice = await post({ consent_challenge: consentChallenge, scope: 'openid', action: 'accept' });
    expect(twice.status).toBe(409);
    expect(await twice.text()).toContain('already handled');
  });

  it('the pages\' forms, submitted without a browser, redirect to the client with a code (Allow) or access_denied (Deny on either page)', async () => {
    const clientId = await client('Form Posts');
    const submit = async (browser: CookieBrowser, path: string, form: Record<string, string>): Promise<URL> => {
      const res = await browser.request(`${svc.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
      expect(res.status).toBe(303);
      return browser.follow(new URL(res.headers.get('location')!, svc.url));
    };

    const allow = new CookieBrowser();
    const loginAt = await toLoginPage(allow, clientId);
    const consentAt = await submit(allow, '/dev/login', { login_challenge: loginAt.searchParams.get('login_challenge')!, subject: 'henry', action: 'accept' });
    expect(consentAt.pathname).toBe('/dev/consent');
    const allowed = await submit(allow, '/dev/consent', { consent_challenge: consentAt.searchParams.get('consent_challenge')!, scope: 'openid', action: 'accept' });
    expect(allowed.origin + allowed.pathname).toBe('https://app.example.com/cb');
    expect(allowed.searchParams.get('code')).toBeTruthy();
    expect(allowed.searchParams.get('iss')).toBe(svc.url);

    const denyLogin = new CookieBrowser();
    const loginAt2 = await toLoginPage(denyLogin, clientId);
    const deniedLogin = await submit(denyLogin, '/dev/login', { login_challenge: loginAt2.searchParams.get('login_challenge')!, subject: '', action: 'deny' });
    expect(deniedLogin.origin + deniedLogin.pathname).toBe('https://app.example.com/cb');
    expect(deniedLogin.searchParams.get('error')).toBe('access_denied');
    expect(deniedLogin.searchParams.get('iss')).toBe(svc.url);

    const denyConsent = new CookieBrowser();
    const loginAt3 = await toLoginPage(denyConsent, clientId);
    const consentAt3 = await submit(denyConsent, '/dev/login', { login_challenge: loginAt3.searchParams.get('login_challenge')!, subject: 'ivy', action: 'accept' });
    const deniedConsent = await submit(denyConsent, '/dev/consent', { consent_challenge: consentAt3.searchParams.get('consent_challenge')!, action: 'deny' });
    expect(deniedConsent.searchParams.get('error')).toBe('access_denied');
    expect(deniedConsent.searchParams.get('state')).toBe('s');
  });

  it('with urls.login and urls.consent set, /dev/login and /dev/consent answer 404 JSON and /oauth2/auth goes to the configured app', async () => {
    const other = await startApp({ env: { URLS_LOGIN: 'https://login.example.com/login', URLS_CONSENT: 'https://login.example.com/consent' } });
    try {
      for (const [method, path] of [
        ['GET', '/dev/login?login_challenge=x'],
        ['GET', '/dev/login'],
        ['POST', '/dev/login'],
        ['GET', '/dev/consent?consent_challenge=x'],
        ['POST', '/dev/consent'],
      ]) {
        const res = await fetch(`${other.url}${path}`, {
          method,
          ...(method === 'POST' ? { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'login_challenge=x&subject=a' } : {}),
        });
        expect(`${method} ${path} ${res.status}`).toBe(`${method} ${path} 404`);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await res.json()).toMatchObject({ error: 'not_found' });
      }
      const body = await registerClient(other, {
        redirect_uris: ['https://app.example.com/cb'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        scope: 'openid',
      });
      const location = await new CookieBrowser().follow(
        new URL(
          `/oauth2/auth?${new URLSearchParams({ client_id: body.client_id as string, response_type: 'code', scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' })}`,
          other.url,
        ),
      );
      expect(location.origin + location.pathname).toBe('https://login.example.com/login');
      expect(location.searchParams.get('login_challenge')).toBeTruthy();
    } finally {
      await other.close();
    }
  });
});
