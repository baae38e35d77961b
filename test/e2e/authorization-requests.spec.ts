// The authorization endpoint and the login/consent delegation (README, Signing users in) over
// real HTTP: request validation (answered as JSON or redirected with error,
// state and iss), the admin login/consent API, the verifiers' binding to the
// browser, remembered login and consent, and Ory's own SDK as the login app.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Configuration, OAuth2Api } from '@ory/hydra-client';
import { decodeJwt } from 'jose';
import { nativeAppClient } from '../factories/clients.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { registerClient } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { authorizeUrl, Browser, pkcePair, runFlow, tokenRequest } from '../support/oauth-flow.js';

const LOGIN = 'https://login.example.com/login';
const CONSENT = 'https://login.example.com/consent';
// The operator allows the audience some tests' clients name (a DCR client may name none by default).
const APP_ENV = { URLS_LOGIN: LOGIN, URLS_CONSENT: CONSENT, OIDC_DYNAMIC_CLIENT_REGISTRATION_ALLOWED_AUDIENCES: 'https://api.example.com' };
const WEB_REDIRECT = 'https://app.example.com/callback';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp({ env: APP_ENV });
});
afterAll(async () => {
  await svc?.close();
});

// ---- helpers ----

type Params = Record<string, string | undefined>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the wall clock is in a later whole second than now (the server counts auth_time in seconds). */
async function intoNextSecond(): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + 50);
}

/** A confidential web client (client_secret_basic) registered through DCR. */
async function webClient(metadata: Record<string, unknown> = {}, on: RunningApp = svc): Promise<{ id: string; secret: string }> {
  const client = await registerClient(on, {
    redirect_uris: [WEB_REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid offline_access profile email',
    ...metadata,
  });
  return { id: client.client_id as string, secret: client.client_secret as string };
}

/** A public native client (token_endpoint_auth_method none) on a loopback redirect URI. */
async function nativeClient(metadata: Record<string, unknown> = {}): Promise<string> {
  const client = await registerClient(svc, nativeAppClient(metadata));
  return client.client_id as string;
}

/** GETs the authorization endpoint without following anything; a string is a raw query (for repeated parameters). */
function authorize(params: Params | string, browser = new Browser(), on: RunningApp = svc): Promise<Response> {
  const url = typeof params === 'string' ? `${on.url}/oauth2/auth?${params}` : authorizeUrl(on, params);
  return browser.get(url);
}

/** Asserts a JSON 400 from /oauth2/auth itself: not redirected anywhere. */
async function expectJsonRefusal(res: Response, error: string, ...mentions: string[]): Promise<void> {
  expect(res.headers.get('location')).toBeNull();
  await expectOAuthError(res, 400, error, ...mentions);
}

/**
 * Asserts an authorization error response on the client's redirect URI
 * (RFC 6749 §4.1.2.1, RFC 9207): error, the echoed state, iss, and no code.
 */
function expectErrorRedirect(res: Response, redirectUri: string, error: string, state: string | undefined, on: RunningApp = svc): URL {
  const location = res.headers.get('location');
  expect({ status: res.status, location }).toEqual({ status: 302, location: expect.any(String) });
  const url = new URL(location!);
  return expectErrorCallback(url, redirectUri, error, state, on);
}

function expectErrorCallback(url: URL, redirectUri: string, error: string, state: string | undefined, on: RunningApp = svc): URL {
  expect({
    to: url.origin + url.pathname,
    error: url.searchParams.get('error'),
    state: url.searchParams.get('state'),
    iss: url.searchParams.get('iss'),
    code: url.searchParams.get('code'),
  }).toEqual({ to: redirectUri, error, state: state ?? null, iss: on.url, code: null });
  return url;
}

/** Starts a flow in `browser` and returns the login_challenge the login app is sent. */
async function toLogin(browser: Browser, params: Params, on: RunningApp = svc): Promise<string> {
  const to = await browser.follow(authorizeUrl(on, params));
  expect(to.origin + to.pathname).toBe(LOGIN);
  const challenge = to.searchParams.get('login_challenge');
  expect(challenge).toEqual(expect.any(String));
  return challenge!;
}

/** Follows a redirect_to and returns the consent_challenge the consent app is sent. */
async function toConsent(browser: Browser, redirectTo: string): Promise<string> {
  const to = await browser.follow(redirectTo);
  expect(to.origin + to.pathname).toBe(CONSENT);
  const challenge = to.searchParams.get('consent_challenge');
  expect(challenge).toEqual(expect.any(String));
  return challenge!;
}

type Step = 'login' | 'consent';

function adminRequest(step: Step, challenge: string, on: RunningApp = svc): Promise<Response> {
  return on.admin(`/admin/oauth2/auth/requests/${step}?${step}_challenge=${encodeURIComponent(challenge)}`);
}

function adminAnswer(step: Step, action: 'accept' | 'reject', challenge: string, json: unknown, on: RunningApp = svc): Promise<Response> {
  return on.admin(`/admin/oauth2/auth/requests/${step}/${action}?${step}_challenge=${encodeURIComponent(challenge)}`, { method: 'PUT', json });
}

async function json200(res: Response): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect({ status: res.status, body: text }).toEqual({ status: 200, body: expect.any(String) });
  return JSON.parse(text) as Record<string, unknown>;
}

async function readRequest(step: Step, challenge: string): Promise<Record<string, unknown>> {
  return json200(await adminRequest(step, challenge));
}

async function answer(step: Step, action: 'accept' | 'reject', challenge: string, json: unknown): Promise<string> {
  const body = await json200(await adminAnswer(step, action, challenge, json));
  expect(body.redirect_to).toEqual(expect.stringMatching(new RegExp(`^${svc.url}/oauth2/auth\\?${step}_verifier=`)));
  return body.redirect_to as string;
}

/** The Set-Cookie line for `name` (or one starting with it), split into its pair and lower-cased attribute names/values. */
function cookieLine(res: Response, name: string | RegExp): { name: string; value: string; attributes: Map<string, string> } | undefined {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const cookieName = pair.slice(0, eq);
    if (typeof name === 'string' ? cookieName !== name : !name.test(cookieName)) continue;
    const attributes = new Map<string, string>();
    for (const a of attrs) {
      const i = a.indexOf('=');
      attributes.set((i < 0 ? a : a.slice(0, i)).toLowerCase(), i < 0 ? '' : a.slice(i + 1));
    }
    return { name: cookieName, value: pair.slice(eq + 1), attributes };
  }
  return undefined;
}

// ---- 1. answered as JSON, never redirected ----

describe('/oauth2/auth: problems with the client or the redirect URI are answered as JSON 400', () => {
  it('refuses a missing client_id', async () => {
    await expectJsonRefusal(await authorize({ response_type: 'code', redirect_uri: WEB_REDIRECT, state: 's' }), 'invalid_request', 'client_id');
  });

  it('refuses an unknown client_id with invalid_client and status 400', async () => {
    const res = await authorize({ client_id: `unknown-${randomUUID()}`, response_type: 'code', redirect_uri: WEB_REDIRECT, state: 's' });
    await expectJsonRefusal(res, 'invalid_client');
  });

  it('refuses a redirect_uri that is not registered (and does not start a flow)', async () => {
    const { id } = await webClient();
    const browser = new Browser();
    const res = await authorize({ client_id: id, response_type: 'code', redirect_uri: 'https://evil.example.com/callback', state: 's' }, browser);
    await expectJsonRefusal(res, 'invalid_request', 'redirect_uri');
    expect(browser.cookies.size).toBe(0);
    // Nor is a prefix, or a trailing slash, of a registered one good enough.
    await expectJsonRefusal(await authorize({ client_id: id, response_type: 'code', redirect_uri: `${WEB_REDIRECT}/x` }), 'invalid_request', 'redirect_uri');
    await expectJsonRefusal(await authorize({ client_id: id, response_type: 'code', redirect_uri: `${WEB_REDIRECT}/` }), 'invalid_request', 'redirect_uri');
  });

  it('requires redirect_uri when the client registered two, and takes the only one otherwise', async () => {
    const two = await webClient({ redirect_uris: [WEB_REDIRECT, 'https://app.example.com/other'] });
    await expectJsonRefusal(await authorize({ client_id: two.id, response_type: 'code', state: 's' }), 'invalid_request', 'redirect_uri');
    const one = await webClient();
    const res = await authorize({ client_id: one.id, response_type: 'code', state: 's' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/^https:\/\/login\.example\.com\/login\?login_challenge=/);
  });

  it('refuses a repeated client_id or redirect_uri', async () => {
    const { id } = await webClient();
    const redirect = encodeURIComponent(WEB_REDIRECT);
    await expectJsonRefusal(
      await authorize(`client_id=${id}&client_id=${id}&response_type=code&redirect_uri=${redirect}&state=s`),
      'invalid_request',
      'client_id',
    );
    await expectJsonRefusal(
      await authorize(`client_id=${id}&response_type=code&redirect_uri=${redirect}&redirect_uri=${redirect}&state=s`),
      'invalid_request',
      'redirect_uri',
    );
  });

  it('lets only the port of a loopback redirect URI differ: another path is refused', async () => {
    const clientId = await nativeClient();
    const { challenge } = pkcePair();
    const base = { client_id: clientId, response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256', state: 's' };
    const ok = await authorize({ ...base, redirect_uri: 'http://127.0.0.1:53124/callback' });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toMatch(/^https:\/\/login\.example\.com\/login\?login_challenge=/);
    await expectJsonRefusal(await authorize({ ...base, redirect_uri: 'http://127.0.0.1:53124/other' }), 'invalid_request', 'redirect_uri');
    await expectJsonRefusal(await authorize({ ...base, redirect_uri: 'http://127.0.0.1:53124/callback?x=1' }), 'invalid_request', 'redirect_uri');
    await expectJsonRefusal(await authorize({ ...base, redirect_uri: 'http://localhost:53124/callback' }), 'invalid_request', 'redirect_uri');
    await expectJsonRefusal(await authorize({ ...base, redirect_uri: 'https://127.0.0.1:53124/callback' }), 'invalid_request', 'redirect_uri');
    // IPv6 loopback likewise.
    const v6 = await nativeClient({ redirect_uris: ['http://[::1]/callback'] });
    const v6ok = await authorize({ ...base, client_id: v6, redirect_uri: 'http://[::1]:53125/callback' });
    expect(v6ok.status).toBe(302);
    expect(v6ok.headers.get('location')).toMatch(/^https:\/\/login\.example\.com\/login\?login_challenge=/);
    await expectJsonRefusal(await authorize({ ...base, client_id: v6, redirect_uri: 'http://[::1]:53125/other' }), 'invalid_request', 'redirect_uri');
  });

  it('refuses a loopback redirect URI that differs from the registered one by a fragment (RFC 6749 §3.1.2)', async () => {
    const clientId = await nativeClient();
    const { challenge } = pkcePair();
    const res = await authorize({
      client_id: clientId,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 's',
      redirect_uri: 'http://127.0.0.1:53124/callback#fragment',
    });
    await expectJsonRefusal(res, 'invalid_request', 'redirect_uri');
  });

  it('gives no port flexibility outside loopback http', async () => {
    const { id } = await webClient({ redirect_uris: ['https://app.example.com:8443/callback'] });
    const ok = await authorize({ client_id: id, response_type: 'code', redirect_uri: 'https://app.example.com:8443/callback' });
    expect(ok.status).toBe(302);
    await expectJsonRefusal(
      await authorize({ client_id: id, response_type: 'code', redirect_uri: 'https://app.example.com:9443/callback' }),
      'invalid_request',
      'redirect_uri',
    );
    await expectJsonRefusal(
      await authorize({ client_id: id, response_type: 'code', redirect_uri: 'https://app.example.com/callback' }),
      'invalid_request',
      'redirect_uri',
    );
  });
});

describe('/oauth2/auth: loopback redirect URIs of web clients', () => {
  it('match exactly, port included: any port is for native apps only (RFC 8252 §7.3)', async () => {
    const { id } = await webClient({ redirect_uris: ['http://127.0.0.1:8080/callback', 'http://127.0.0.1/portless'] });
    const ok = await authorize({ client_id: id, response_type: 'code', redirect_uri: 'http://127.0.0.1:8080/callback', state: 's' });
    expect(ok.status).toBe(302);
    expect(ok.headers.get('location')).toMatch(/^https:\/\/login\.example\.com\/login\?login_challenge=/);
    const portless = await authorize({ client_id: id, response_type: 'code', redirect_uri: 'http://127.0.0.1/portless', state: 's' });
    expect(portless.status).toBe(302);
    for (const other of ['http://127.0.0.1:8081/callback', 'http://127.0.0.1/callback', 'http://127.0.0.1:53124/portless']) {
      const browser = new Browser();
      await expectJsonRefusal(await authorize({ client_id: id, response_type: 'code', redirect_uri: other, state: 's' }, browser), 'invalid_request', 'redirect_uri');
      expect(browser.cookies.size).toBe(0);
    }
  });
});

// ---- 2. redirected to the client ----

describe('/oauth2/auth: other errors go back to the redirect URI with error, state and iss', () => {
  let web: { id: string; secret: string };
  let publicId: string;

  beforeAll(async () => {
    web = await webClient({ scope: 'openid profile' });
    publicId = await nativeClient();
  });

  const webBase = () => ({ client_id: web.id, response_type: 'code', redirect_uri: WEB_REDIRECT, scope: 'openid' });

  it('missing response_type: invalid_request (state echoed with its special characters)', async () => {
    const browser = new Browser();
    const state = 'a b&c=d/é';
    const res = await authorize({ ...webBase(), response_type: undefined, state }, browser);
    const url = expectErrorRedirect(res, WEB_REDIRECT, 'invalid_request', state);
    expect(url.searchParams.get('error_description')).toContain('response_type');
    // Nothing was started: no flow cookie.
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it('response_type=token: unsupported_response_type', async () => {
    expectErrorRedirect(await authorize({ ...webBase(), response_type: 'token', state: 's-token' }), WEB_REDIRECT, 'unsupported_response_type', 's-token');
  });

  it('a scope outside the client\'s: invalid_scope, without state when none was sent', async () => {
    const res = await authorize({ ...webBase(), scope: 'openid admin' });
    const url = expectErrorRedirect(res, WEB_REDIRECT, 'invalid_scope', undefined);
    expect(url.searchParams.get('error_description')).toContain('admin');
  });

  it('a public client without code_challenge: invalid_request', async () => {
    const redirect = 'http://127.0.0.1:40001/callback';
    const res = await authorize({ client_id: publicId, response_type: 'code', redirect_uri: redirect, state: 's-pkce' });
    const url = expectErrorRedirect(res, redirect, 'invalid_request', 's-pkce');
    expect(url.searchParams.get('error_description')).toContain('code_challenge');
  });

  it('code_challenge_method=plain: invalid_request', async () => {
    const { verifier } = pkcePair();
    const res = await authorize({ ...webBase(), code_challenge: verifier, code_challenge_method: 'plain', state: 's-plain' });
    const url = expectErrorRedirect(res, WEB_REDIRECT, 'invalid_request', 's-plain');
    expect(url.searchParams.get('error_description')).toContain('S256');
  });

  it('a malformed code_challenge: invalid_request', async () => {
    for (const challenge of ['too-short', `${pkcePair().challenge}=`, `${'+'.repeat(43)}`]) {
      const res = await authorize({ ...webBase(), code_challenge: challenge, code_challenge_method: 'S256', state: 's-malformed' });
      const url = expectErrorRedirect(res, WEB_REDIRECT, 'invalid_request', 's-malformed');
      expect(url.searchParams.get('error_description')).toContain('code_challenge');
    }
  });

  it('a request object: request_not_supported', async () => {
    const res = await authorize({ ...webBase(), request: 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.', state: 's-req' });
    expectErrorRedirect(res, WEB_REDIRECT, 'request_not_supported', 's-req');
  });

  it('a repeated scope parameter: invalid_request', async () => {
    const res = await authorize(`client_id=${web.id}&response_type=code&redirect_uri=${encodeURIComponent(WEB_REDIRECT)}&scope=openid&scope=profile&state=s-rep`);
    const url = expectErrorRedirect(res, WEB_REDIRECT, 'invalid_request', 's-rep');
    expect(url.searchParams.get('error_description')).toContain('scope');
  });

  it('prompt=none without a session: login_required', async () => {
    expectErrorRedirect(await authorize({ ...webBase(), prompt: 'none', state: 's-none' }), WEB_REDIRECT, 'login_required', 's-none');
  });

  it('a client registered only for client_credentials: unauthorized_client', async () => {
    const machine = await registerClient(svc, {
      grant_types: ['client_credentials'],
      redirect_uris: [WEB_REDIRECT],
      scope: 'openid',
    });
    expect(machine.grant_types).toEqual(['client_credentials']);
    const res = await authorize({ client_id: machine.client_id as string, response_type: 'code', redirect_uri: WEB_REDIRECT, state: 's-cc' });
    expectErrorRedirect(res, WEB_REDIRECT, 'unauthorized_client', 's-cc');
  });

  it('oauth2.pkce.enforced makes PKCE required for confidential clients too', async () => {
    // Without the setting the confidential client needs no PKCE...
    const plain = await authorize({ ...webBase(), state: 's' });
    expect(plain.status).toBe(302);
    expect(plain.headers.get('location')).toMatch(/^https:\/\/login\.example\.com\/login\?/);
    // ...with it, it does.
    const enforced = await startApp({ env: { ...APP_ENV, OAUTH2_PKCE_ENFORCED: 'true' } });
    try {
      const res = await authorize({ ...webBase(), state: 's-enforced' }, new Browser(), enforced);
      const url = expectErrorRedirect(res, WEB_REDIRECT, 'invalid_request', 's-enforced', enforced);
      expect(url.searchParams.get('error_description')).toContain('code_challenge');
      const withPkce = await authorize({ ...webBase(), code_challenge: pkcePair().challenge, code_challenge_method: 'S256' }, new Browser(), enforced);
      expect(withPkce.status).toBe(302);
      expect(withPkce.headers.get('location')).toMatch(/^https:\/\/login\.example\.com\/login\?login_challenge=/);
    } finally {
      await enforced.close();
    }
  });
});

// ---- 2b. oauth2.untrusted_client_errors ----

describe('oauth2.untrusted_client_errors: page keeps /oauth2/auth from redirecting to URIs anyone registered (RFC 9700 §4.11.2)', () => {
  let paged: RunningApp;

  beforeAll(async () => {
    paged = await startApp({ env: { ...APP_ENV, OAUTH2_UNTRUSTED_CLIENT_ERRORS: 'page' } });
  });
  afterAll(async () => {
    await paged?.close();
  });

  /** Asserts the error page: 400 HTML naming the error, with no way on to the redirect URI. */
  async function expectErrorPage(res: Response, error: string, ...mentions: string[]): Promise<string> {
    const html = await res.text();
    expect({ status: res.status, location: res.headers.get('location'), type: res.headers.get('content-type') }).toEqual({
      status: 400,
      location: null,
      type: expect.stringMatching(/^text\/html/),
    });
    expect(html).toContain(`<code>${error}</code>`);
    for (const m of mentions) expect(html).toContain(m);
    expect(html).not.toContain('app.example.com');
    expect(html).not.toContain('127.0.0.1:40001');
    expect(html).not.toMatch(/href=|<script|http-equiv/i);
    return html;
  }

  /** An admin-created confidential web client: the operator's, so trusted with redirects. */
  async function adminClient(): Promise<string> {
    const res = await paged.admin('/admin/clients', {
      method: 'POST',
      json: { redirect_uris: [WEB_REDIRECT], grant_types: ['authorization_code'], response_types: ['code'], scope: 'openid profile' },
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as Record<string, unknown>).client_id as string;
  }

  it('shows a dynamically registered client\'s request errors as a page, before any user interaction', async () => {
    const { id } = await webClient({ scope: 'openid profile' }, paged);
    const base = { client_id: id, response_type: 'code', redirect_uri: WEB_REDIRECT, scope: 'openid', state: 's-page' };
    await expectErrorPage(await authorize({ ...base, scope: 'openid admin' }, new Browser(), paged), 'invalid_scope', 'admin');
    await expectErrorPage(await authorize({ ...base, response_type: 'token' }, new Browser(), paged), 'unsupported_response_type');
    await expectErrorPage(await authorize({ ...base, response_type: undefined }, new Browser(), paged), 'invalid_request', 'response_type');
    await expectErrorPage(await authorize({ ...base, code_challenge: pkcePair().verifier, code_challenge_method: 'plain' }, new Browser(), paged), 'invalid_request', 'S256');
    await expectErrorPage(await authorize({ ...base, request: 'eyJhbGciOiJub25lIn0.e30.' }, new Browser(), paged), 'request_not_supported');
    // prompt=none without a session: login_required, shown too, and no flow was started.
    const browser = new Browser();
    await expectErrorPage(await authorize({ ...base, prompt: 'none' }, browser, paged), 'login_required');
    expect(browser.cookies.size).toBe(0);
    // A public native client without PKCE likewise.
    const native = (await registerClient(paged, nativeAppClient())).client_id as string;
    const missingPkce = await authorize({ client_id: native, response_type: 'code', redirect_uri: 'http://127.0.0.1:40001/callback', state: 's' }, new Browser(), paged);
    await expectErrorPage(missingPkce, 'invalid_request', 'code_challenge');
  });

  it('escapes what the request put into the page', async () => {
    const { id } = await webClient({ scope: 'openid' }, paged);
    const res = await authorize(
      { client_id: id, response_type: 'code', redirect_uri: WEB_REDIRECT, scope: 'openid <script>alert(1)</script> "><img>', state: '<b>st</b>' },
      new Browser(),
      paged,
    );
    const html = await expectErrorPage(res, 'invalid_scope', '&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>st');
  });

  it('shows consent_required under prompt=none as a page: the server decided it alone', async () => {
    const { id } = await webClient({ scope: 'openid' }, paged);
    const browser = new Browser();
    const params = { client_id: id, response_type: 'code', scope: 'openid', state: 's-silent' };
    const first = await toLogin(browser, params, paged);
    const login = await json200(await adminAnswer('login', 'accept', first, { subject: 'alice', remember: true, remember_for: 3600 }, paged));
    const consent = (await browser.follow(login.redirect_to as string)).searchParams.get('consent_challenge')!;
    // Consent is given but not remembered: a silent request must fail with consent_required.
    const granted = await json200(await adminAnswer('consent', 'accept', consent, { grant_scope: ['openid'] }, paged));
    expect((await browser.follow(granted.redirect_to as string)).searchParams.get('code')).toEqual(expect.any(String));
    const silent = await toLogin(browser, { ...params, prompt: 'none' }, paged);
    const skipped = await json200(await adminAnswer('login', 'accept', silent, { subject: 'alice' }, paged));
    await expectErrorPage(await browser.get(skipped.redirect_to as string), 'consent_required');
  });

  it('keeps redirecting errors that follow an answer of the login or consent app', async () => {
    const { id } = await webClient({ scope: 'openid' }, paged);
    const params = { client_id: id, response_type: 'code', scope: 'openid', state: 's-after' };
    const browser = new Browser();
    const loginChallenge = await toLogin(browser, params, paged);
    const rejected = await json200(await adminAnswer('login', 'reject', loginChallenge, { error_description: 'The user cancelled' }, paged));
    expectErrorCallback(await browser.follow(rejected.redirect_to as string), WEB_REDIRECT, 'access_denied', 's-after', paged);

    const second = new Browser();
    const challenge = await toLogin(second, params, paged);
    const accepted = await json200(await adminAnswer('login', 'accept', challenge, { subject: 'alice' }, paged));
    const consent = (await second.follow(accepted.redirect_to as string)).searchParams.get('consent_challenge')!;
    const denied = await json200(await adminAnswer('consent', 'reject', consent, { error: 'access_denied', error_description: 'No' }, paged));
    expectErrorCallback(await second.follow(denied.redirect_to as string), WEB_REDIRECT, 'access_denied', 's-after', paged);
  });

  it('keeps redirecting for admin-created clients', async () => {
    const id = await adminClient();
    const base = { client_id: id, response_type: 'code', redirect_uri: WEB_REDIRECT, scope: 'openid', state: 's-admin' };
    expectErrorRedirect(await authorize({ ...base, scope: 'openid admin' }, new Browser(), paged), WEB_REDIRECT, 'invalid_scope', 's-admin', paged);
    expectErrorRedirect(await authorize({ ...base, prompt: 'none' }, new Browser(), paged), WEB_REDIRECT, 'login_required', 's-admin', paged);
  });

  it('still answers client and redirect URI problems as JSON', async () => {
    const { id } = await webClient({}, paged);
    await expectJsonRefusal(await authorize({ client_id: id, response_type: 'code', redirect_uri: 'https://evil.example.com/cb' }, new Browser(), paged), 'invalid_request', 'redirect_uri');
  });

  it('is off by default: a dynamically registered client gets its errors redirected', async () => {
    const { id } = await webClient({ scope: 'openid' });
    const base = { client_id: id, response_type: 'code', redirect_uri: WEB_REDIRECT, state: 's-default' };
    expectErrorRedirect(await authorize({ ...base, scope: 'openid admin' }), WEB_REDIRECT, 'invalid_scope', 's-default');
    expectErrorRedirect(await authorize({ ...base, scope: 'openid', prompt: 'none' }), WEB_REDIRECT, 'login_required', 's-default');
  });
});

// ---- 3. on to the login app ----

describe('/oauth2/auth: a valid request', () => {
  it('redirects to urls.login with a login_challenge and sets the flow cookie', async () => {
    const { id } = await webClient();
    const res = await authorize({ client_id: id, response_type: 'code', redirect_uri: WEB_REDIRECT, scope: 'openid', state: 's' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(LOGIN);
    expect(location.searchParams.get('login_challenge')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect([...location.searchParams.keys()]).toEqual(['login_challenge']);
    const cookie = cookieLine(res, /^registrar_csrf_/);
    expect(cookie).toBeDefined();
    expect(cookie!.value).not.toBe('');
    expect(cookie!.attributes.has('httponly')).toBe(true);
    expect(cookie!.attributes.get('samesite')?.toLowerCase()).toBe('lax');
    expect(cookie!.attributes.get('path')).toBe('/oauth2/auth');
    // It lives as long as the challenge can be answered (ttl.login_consent_request, 30m by default).
    expect(cookie!.attributes.get('max-age')).toBe('1800');
    // An http issuer: no Secure attribute, which the browser would refuse over http.
    expect(cookie!.attributes.has('secure')).toBe(false);
  });

  it('keeps two flows started in one browser apart (each completes with its own state)', async () => {
    const { id } = await webClient();
    const browser = new Browser();
    const first = await toLogin(browser, { client_id: id, response_type: 'code', scope: 'openid', state: 'first' });
    const second = await toLogin(browser, { client_id: id, response_type: 'code', scope: 'openid', state: 'second' });
    expect([...browser.cookies.keys()].filter((n) => n.startsWith('registrar_csrf_'))).toHaveLength(2);
    for (const [challenge, state] of [[second, 'second'], [first, 'first']]) {
      const consent = await toConsent(browser, await answer('login', 'accept', challenge, { subject: 'alice' }));
      const callback = await browser.follow(await answer('consent', 'accept', consent, { grant_scope: ['openid'] }));
      expect(callback.searchParams.get('state')).toBe(state);
      expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    }
    // Each completed flow deleted its own cookie.
    expect([...browser.cookies.keys()].filter((n) => n.startsWith('registrar_csrf_'))).toEqual([]);
  });
});

// ---- 4. the admin login/consent API ----

describe('admin login and consent requests', () => {
  let client: { id: string; secret: string };

  beforeAll(async () => {
    client = await webClient({ audience: ['https://api.example.com'] });
  });

  const params = (extra: Params = {}): Params => ({
    client_id: client.id,
    response_type: 'code',
    redirect_uri: WEB_REDIRECT,
    scope: 'openid profile',
    state: 'st-admin',
    ...extra,
  });

  it('shows the login request as Hydra does', async () => {
    const url = authorizeUrl(svc, params({ audience: 'https://api.example.com', login_hint: 'alice@example.com', ui_locales: 'de en', nonce: 'n' }));
    const browser = new Browser();
    const to = await browser.follow(url);
    const challenge = to.searchParams.get('login_challenge')!;
    const request = await readRequest('login', challenge);
    expect(request).toMatchObject({
      challenge,
      client: { client_id: client.id, redirect_uris: [WEB_REDIRECT] },
      request_url: url.toString(),
      requested_scope: ['openid', 'profile'],
      requested_access_token_audience: ['https://api.example.com'],
      skip: false,
      subject: '',
      oidc_context: { login_hint: 'alice@example.com', ui_locales: ['de', 'en'] },
    });
    expect(typeof request.requested_at).toBe('string');
    // The login app is shown the client, never its secret.
    expect(JSON.stringify(request)).not.toContain(client.secret);
    expect((request.client as Record<string, unknown>).client_secret).toBeUndefined();
  });

  it("shows the client's default_acr_values to the login app when the request names none, and the request's own otherwise", async () => {
    const withDefaults = await webClient({ default_acr_values: ['urn:example:loa:2', 'urn:example:loa:1'] });
    const login = async (extra: Params) => {
      const challenge = await toLogin(new Browser(), { ...params(extra), client_id: withDefaults.id });
      return (await readRequest('login', challenge)).oidc_context as Record<string, unknown>;
    };
    expect((await login({})).acr_values).toEqual(['urn:example:loa:2', 'urn:example:loa:1']);
    expect((await login({ acr_values: 'urn:example:loa:3' })).acr_values).toEqual(['urn:example:loa:3']);
    expect(((await readRequest('login', await toLogin(new Browser(), params()))).oidc_context as Record<string, unknown>).acr_values).toEqual([]);
  });

  it('refuses login and consent answers whose nested objects carry a constructor key with 400 naming the field, and the challenge stays answerable', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, params());
    const bad = await adminAnswer('login', 'accept', challenge, { subject: { constructor: {} } });
    await expectOAuthError(bad, 400, 'invalid_request', 'subject');
    const accepted = await adminAnswer('login', 'accept', challenge, { subject: 'alice', amr: [{ constructor: {} }] });
    await expectOAuthError(accepted, 400, 'invalid_request', 'amr');
    expect((await adminAnswer('login', 'accept', challenge, { subject: 'alice' })).status).toBe(200);
  });

  it('answers 404 for an unknown challenge, on reads and answers alike', async () => {
    const unknown = 'x'.repeat(43);
    await expectOAuthError(await adminRequest('login', unknown), 404, 'not_found');
    await expectOAuthError(await adminAnswer('login', 'accept', unknown, { subject: 'alice' }), 404, 'not_found');
    await expectOAuthError(await adminRequest('consent', unknown), 404, 'not_found');
    await expectOAuthError(await adminAnswer('consent', 'reject', unknown, {}), 404, 'not_found');
    // A login challenge is not a consent challenge.
    const challenge = await toLogin(new Browser(), params());
    await expectOAuthError(await adminRequest('consent', challenge), 404, 'not_found');
    await expectOAuthError(await adminAnswer('consent', 'accept', challenge, { grant_scope: ['openid'] }), 404, 'not_found');
  });

  it('answers 400 when the challenge is missing', async () => {
    await expectOAuthError(await svc.admin('/admin/oauth2/auth/requests/login'), 400, 'invalid_request', 'login_challenge');
  });

  it('takes one answer per challenge: a second accept, or a reject after accept, is 409 JSON; reading an answered request is 410 with the URL to start again', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, params());
    const redirectTo = await answer('login', 'accept', challenge, { subject: 'alice' });
    await expectOAuthError(await adminAnswer('login', 'accept', challenge, { subject: 'alice' }), 409, 'conflict');
    await expectOAuthError(await adminAnswer('login', 'accept', challenge, { subject: 'mallory' }), 409, 'conflict');
    await expectOAuthError(await adminAnswer('login', 'reject', challenge, { error: 'access_denied' }), 409, 'conflict');
    // The first answer stands: the flow goes on for alice.
    const consent = await toConsent(browser, redirectTo);
    const consentRequest = await readRequest('consent', consent);
    expect(consentRequest.subject).toBe('alice');
    await answer('consent', 'accept', consent, { grant_scope: ['openid'] });
    await expectOAuthError(await adminAnswer('consent', 'accept', consent, { grant_scope: ['openid', 'profile'] }), 409, 'conflict');
    await expectOAuthError(await adminAnswer('consent', 'reject', consent, {}), 409, 'conflict');
    // Reading an answered request: 410 and the original authorization URL, which starts a fresh flow.
    for (const [step, answered] of [['login', challenge], ['consent', consent]] as const) {
      const gone = await adminRequest(step, answered);
      expect(gone.status).toBe(410);
      const { redirect_to: restart } = (await gone.json()) as { redirect_to: string };
      expect(restart.startsWith(`${svc.url}/oauth2/auth?`)).toBe(true);
      expect(new URL(restart).searchParams.get('client_id')).toBeTruthy();
      const fresh = await new Browser().follow(restart);
      expect(fresh.searchParams.get('login_challenge')).not.toBe(challenge);
      expect(fresh.toString().startsWith(LOGIN)).toBe(true);
    }
  });

  it('refuses a login accept without a subject (400), and the challenge stays answerable', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, params());
    await expectOAuthError(await adminAnswer('login', 'accept', challenge, {}), 400, 'invalid_request', 'subject');
    await expectOAuthError(await adminAnswer('login', 'accept', challenge, { subject: '' }), 400, 'invalid_request', 'subject');
    await expectOAuthError(await adminAnswer('login', 'accept', challenge, { subject: 42 }), 400, 'invalid_request', 'subject');
    await answer('login', 'accept', challenge, { subject: 'alice' });
  });

  it('sends a login rejection to the client: access_denied by default, with description, state and iss', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, params());
    const redirectTo = await answer('login', 'reject', challenge, { error_description: 'The user cancelled' });
    const callback = expectErrorCallback(await browser.follow(redirectTo), WEB_REDIRECT, 'access_denied', 'st-admin');
    expect(callback.searchParams.get('error_description')).toBe('The user cancelled');
    // The flow cookie is gone with the flow.
    expect([...browser.cookies.keys()].filter((n) => n.startsWith('registrar_csrf_'))).toEqual([]);
  });

  it('sends a login rejection with the error the login app gave', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, params());
    const redirectTo = await answer('login', 'reject', challenge, { error: 'login_required', error_description: 'No account', error_hint: 'Sign up first' });
    const callback = expectErrorCallback(await browser.follow(redirectTo), WEB_REDIRECT, 'login_required', 'st-admin');
    expect(callback.searchParams.get('error_description')).toContain('No account');
    expect(callback.searchParams.get('error_description')).toContain('Sign up first');
  });

  it('sends a consent rejection to the client likewise', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, params());
    const consent = await toConsent(browser, await answer('login', 'accept', challenge, { subject: 'alice' }));
    const redirectTo = await answer('consent', 'reject', consent, { error: 'access_denied', error_description: 'The user said no' });
    const callback = expectErrorCallback(await browser.follow(redirectTo), WEB_REDIRECT, 'access_denied', 'st-admin');
    expect(callback.searchParams.get('error_description')).toBe('The user said no');
  });

  it('refuses grant_scope outside requested_scope (400), and the challenge stays answerable', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, params({ scope: 'openid' }));
    const consent = await toConsent(browser, await answer('login', 'accept', challenge, { subject: 'alice' }));
    await expectOAuthError(await adminAnswer('consent', 'accept', consent, { grant_scope: ['openid', 'email'] }), 400, 'invalid_request', 'email');
    const redirectTo = await answer('consent', 'accept', consent, { grant_scope: ['openid'] });
    const callback = await browser.follow(redirectTo);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    const tokens = await tokenRequest(svc, { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: WEB_REDIRECT }, client);
    expect(tokens.status).toBe(200);
    expect(tokens.body.scope).toBe('openid');
  });

  it('answers 404 for an expired challenge (ttl.login_consent_request)', async () => {
    const shortLived = await startApp({ env: { ...APP_ENV, TTL_LOGIN_CONSENT_REQUEST: '1s' } });
    try {
      const browser = new Browser();
      const challenge = await toLogin(browser, params(), shortLived);
      expect((await adminRequest('login', challenge, shortLived)).status).toBe(200);
      await sleep(1100);
      await expectOAuthError(await adminRequest('login', challenge, shortLived), 404, 'not_found');
      await expectOAuthError(await adminAnswer('login', 'accept', challenge, { subject: 'alice' }, shortLived), 404, 'not_found');
    } finally {
      await shortLived.close();
    }
  });

  it('requires the admin key', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, params());
    const path = `/admin/oauth2/auth/requests/login?login_challenge=${encodeURIComponent(challenge)}`;
    const none = await fetch(`${svc.url}${path}`);
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/^application\/json/);
    const wrong = await fetch(`${svc.url}${path}`, { headers: { Authorization: 'Bearer not-the-admin-key-0123456789' } });
    expect(wrong.status).toBe(401);
    const accept = await fetch(`${svc.url}/admin/oauth2/auth/requests/login/accept?login_challenge=${encodeURIComponent(challenge)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ subject: 'mallory' }),
    });
    expect(accept.status).toBe(401);
    // Still unanswered.
    expect((await readRequest('login', challenge)).skip).toBe(false);
  });
});

// ---- 5. verifiers ----

describe('login and consent verifiers', () => {
  let clientId: string;

  beforeAll(async () => {
    clientId = (await webClient()).id;
  });

  it('are refused in another browser (no flow cookie): 400 JSON, and the flow is over', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, { client_id: clientId, response_type: 'code', scope: 'openid', state: 's' });
    const redirectTo = await answer('login', 'accept', challenge, { subject: 'alice' });
    const elsewhere = await new Browser().get(redirectTo);
    await expectJsonRefusal(elsewhere, 'invalid_request', 'browser');
    // The victim's browser cannot continue it either.
    await expectJsonRefusal(await browser.get(redirectTo), 'invalid_request');
  });

  it('are refused with another flow\'s cookie', async () => {
    const victim = new Browser();
    const challenge = await toLogin(victim, { client_id: clientId, response_type: 'code', scope: 'openid', state: 'victim' });
    const attacker = new Browser();
    await toLogin(attacker, { client_id: clientId, response_type: 'code', scope: 'openid', state: 'attacker' });
    const redirectTo = await answer('login', 'accept', challenge, { subject: 'alice' });
    // The attacker's own flow cookie, under every name the victim's could have.
    const [value] = [...attacker.cookies.values()];
    const forged = new Browser();
    for (const name of victim.cookies.keys()) forged.cookies.set(name, value);
    await expectJsonRefusal(await forged.get(redirectTo), 'invalid_request');
  });

  it('are refused when unknown', async () => {
    await expectJsonRefusal(await authorize({ login_verifier: 'x'.repeat(43) }), 'invalid_request', 'login_verifier');
    await expectJsonRefusal(await authorize({ consent_verifier: 'x'.repeat(43) }), 'invalid_request', 'consent_verifier');
  });

  it('are single-use: a login verifier and a consent verifier followed twice are 400 the second time', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, { client_id: clientId, response_type: 'code', scope: 'openid', state: 's' });
    const loginRedirect = await answer('login', 'accept', challenge, { subject: 'alice' });
    const consent = await toConsent(browser, loginRedirect);
    await expectJsonRefusal(await browser.get(loginRedirect), 'invalid_request', 'login_verifier');
    const consentRedirect = await answer('consent', 'accept', consent, { grant_scope: ['openid'] });
    const callback = await browser.follow(consentRedirect);
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    await expectJsonRefusal(await browser.get(consentRedirect), 'invalid_request', 'consent_verifier');
  });
});

// ---- 6. remembered login ----

describe('remembered login', () => {
  let client: { id: string; secret: string };
  const params = (extra: Params = {}): Params => ({ client_id: client.id, response_type: 'code', scope: 'openid', state: 's-remember', ...extra });

  beforeAll(async () => {
    client = await webClient();
  });

  async function authTimeOf(code: string): Promise<unknown> {
    const tokens = await tokenRequest(svc, { grant_type: 'authorization_code', code }, client);
    expect(tokens.status).toBe(200);
    return decodeJwt(tokens.body.id_token as string).auth_time;
  }

  /** Runs a flow whose login is remembered for an hour and returns the browser and the session cookie's Set-Cookie. */
  async function rememberedBrowser(subject = 'alice') {
    const browser = new Browser();
    const challenge = await toLogin(browser, params());
    const redirectTo = await answer('login', 'accept', challenge, { subject, remember: true, remember_for: 3600 });
    const back = await browser.get(redirectTo);
    expect(back.status).toBe(302);
    const cookie = cookieLine(back, 'registrar_session');
    const consent = new URL(back.headers.get('location')!).searchParams.get('consent_challenge')!;
    const callback = await browser.follow(await answer('consent', 'accept', consent, { grant_scope: ['openid'] }));
    expect(callback.searchParams.get('code')).toEqual(expect.any(String));
    return { browser, cookie, code: callback.searchParams.get('code')! };
  }

  it('sets an HttpOnly, SameSite=Lax session cookie, and the next request skips login for the same subject', async () => {
    const { browser, cookie } = await rememberedBrowser();
    expect(cookie).toBeDefined();
    expect(cookie!.value).not.toBe('');
    expect(cookie!.attributes.has('httponly')).toBe(true);
    expect(cookie!.attributes.get('samesite')?.toLowerCase()).toBe('lax');
    expect(cookie!.attributes.get('path')).toBe('/');
    expect(cookie!.attributes.get('max-age')).toBe('3600');
    expect(browser.cookies.has('registrar_session')).toBe(true);

    const challenge = await toLogin(browser, params({ state: 'again' }));
    const request = await readRequest('login', challenge);
    expect(request).toMatchObject({ skip: true, subject: 'alice' });
    expect(request.session_id).toEqual(expect.any(String));
    await expectOAuthError(await adminAnswer('login', 'accept', challenge, { subject: 'bob' }), 400, 'invalid_request', 'subject');
    const consent = await toConsent(browser, await answer('login', 'accept', challenge, { subject: 'alice' }));
    const consentRequest = await readRequest('consent', consent);
    expect(consentRequest.subject).toBe('alice');
    const callback = await browser.follow(await answer('consent', 'accept', consent, { grant_scope: ['openid'] }));
    expect(callback.searchParams.get('state')).toBe('again');
  });

  it('prompt=login forces skip false', async () => {
    const { browser } = await rememberedBrowser();
    const request = await readRequest('login', await toLogin(browser, params({ prompt: 'login' })));
    expect(request).toMatchObject({ skip: false, subject: '' });
  });

  it('max_age is honoured: max_age=0 once a second has passed forces skip false, a long max_age keeps skip', async () => {
    const { browser, code } = await rememberedBrowser();
    const authTime = await authTimeOf(code);
    expect(authTime).toEqual(expect.any(Number));
    await intoNextSecond();
    const skipped = await toLogin(browser, params({ max_age: '3600' }));
    expect(await readRequest('login', skipped)).toMatchObject({ skip: true, subject: 'alice' });
    // A skipped login keeps the session's auth_time (OIDC Core §2), not the time of this accept.
    const consent = await toConsent(browser, await answer('login', 'accept', skipped, { subject: 'alice' }));
    const callback = await browser.follow(await answer('consent', 'accept', consent, { grant_scope: ['openid'] }));
    expect(await authTimeOf(callback.searchParams.get('code')!)).toBe(authTime);
    expect(await readRequest('login', await toLogin(browser, params({ max_age: '0' })))).toMatchObject({ skip: false, subject: '' });
    // With prompt=none, a session that is too old is no session.
    expectErrorRedirect(await authorize(params({ prompt: 'none', max_age: '0', state: 'old' }), browser), WEB_REDIRECT, 'login_required', 'old');
  });

  it('prompt=none with a session reaches the login app with skip true', async () => {
    const { browser } = await rememberedBrowser();
    const challenge = await toLogin(browser, params({ prompt: 'none' }));
    expect(await readRequest('login', challenge)).toMatchObject({ skip: true, subject: 'alice' });
  });

  it('without remember: no session cookie, and the next flow has skip false', async () => {
    const browser = new Browser();
    const challenge = await toLogin(browser, params());
    const back = await browser.get(await answer('login', 'accept', challenge, { subject: 'alice', remember: false }));
    expect(back.status).toBe(302);
    expect(cookieLine(back, 'registrar_session')).toBeUndefined();
    const consent = new URL(back.headers.get('location')!).searchParams.get('consent_challenge')!;
    await browser.follow(await answer('consent', 'accept', consent, { grant_scope: ['openid'] }));
    expect(browser.cookies.has('registrar_session')).toBe(false);
    expect(await readRequest('login', await toLogin(browser, params()))).toMatchObject({ skip: false, subject: '' });
  });

  it('ignores a session cookie the server did not sign', async () => {
    const { browser } = await rememberedBrowser();
    const [id] = browser.cookies.get('registrar_session')!.split('.');
    browser.cookies.set('registrar_session', `${id}.${'A'.repeat(43)}`);
    expect(await readRequest('login', await toLogin(browser, params()))).toMatchObject({ skip: false, subject: '' });
  });
});

// ---- 7. remembered consent ----

describe('remembered consent', () => {
  // Consent is remembered per subject and client: each test has a client of its own.
  let client: { id: string; secret: string };
  const params = (extra: Params = {}): Params => ({ client_id: client.id, response_type: 'code', scope: 'openid profile', state: 's-consent', ...extra });

  /** A new client, and a browser with a remembered login (alice) and remembered consent to openid profile for it. */
  async function consentedBrowser(): Promise<Browser> {
    client = await webClient();
    const browser = new Browser();
    const flow = await runFlow(svc, browser, params(), {
      login: { subject: 'alice', remember: true, remember_for: 3600 },
      consent: { remember: true, remember_for: 3600, session: { id_token: { email: 'alice@example.com' } } },
    });
    expect(flow.consentRequest.skip).toBe(false);
    return browser;
  }

  it('the next flow in the same browser has consent skip true', async () => {
    const browser = await consentedBrowser();
    const flow = await runFlow(svc, browser, params({ state: 'second' }));
    expect(flow.loginRequest.skip).toBe(true);
    expect(flow.consentRequest).toMatchObject({ skip: true, subject: 'alice', requested_scope: ['openid', 'profile'] });
    expect(flow.callback.searchParams.get('state')).toBe('second');
    // Remembered for alice and this client only: bob, in another browser, is asked.
    const bob = await runFlow(svc, new Browser(), params(), { login: { subject: 'bob' } });
    expect(bob.consentRequest).toMatchObject({ skip: false, subject: 'bob' });
  });

  it('prompt=consent forces skip false', async () => {
    const browser = await consentedBrowser();
    const flow = await runFlow(svc, browser, params({ prompt: 'consent' }));
    expect(flow.loginRequest.skip).toBe(true);
    expect(flow.consentRequest.skip).toBe(false);
  });

  it('a scope not covered by the remembered consent gives skip false', async () => {
    const browser = await consentedBrowser();
    const flow = await runFlow(svc, browser, params({ scope: 'openid profile email' }));
    expect(flow.consentRequest.skip).toBe(false);
    // A subset of what was remembered is covered.
    expect((await runFlow(svc, browser, params({ scope: 'openid' }))).consentRequest.skip).toBe(true);
  });

  it('prompt=none with a session and remembered consent completes to a code', async () => {
    const browser = await consentedBrowser();
    const flow = await runFlow(svc, browser, params({ prompt: 'none', state: 'silent', nonce: 'n-silent' }));
    expect(flow.loginRequest.skip).toBe(true);
    expect(flow.consentRequest.skip).toBe(true);
    expect(flow.callback.origin + flow.callback.pathname).toBe(WEB_REDIRECT);
    expect(flow.callback.searchParams.get('state')).toBe('silent');
    expect(flow.callback.searchParams.get('iss')).toBe(svc.url);
    const tokens = await tokenRequest(svc, { grant_type: 'authorization_code', code: flow.code }, client);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.id_token as string)).toMatchObject({ sub: 'alice', nonce: 'n-silent' });
  });

  it('prompt=none with a session but no remembered consent: consent_required', async () => {
    const browser = await consentedBrowser();
    // The login session is the browser's; consent was remembered for `client` only.
    const other = await webClient();
    const challenge = await toLogin(browser, { client_id: other.id, response_type: 'code', scope: 'openid', prompt: 'none', state: 's-required' });
    expect(await readRequest('login', challenge)).toMatchObject({ skip: true, subject: 'alice' });
    const back = await browser.get(await answer('login', 'accept', challenge, { subject: 'alice' }));
    expectErrorRedirect(back, WEB_REDIRECT, 'consent_required', 's-required');
    expect([...browser.cookies.keys()].filter((n) => n.startsWith('registrar_csrf_'))).toEqual([]);
  });

  it('an admin-created client with skip_consent: true gets consent skip true', async () => {
    const res = await svc.admin('/admin/clients', {
      method: 'POST',
      json: {
        redirect_uris: [WEB_REDIRECT],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        scope: 'openid profile',
        skip_consent: true,
      },
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as Record<string, unknown>;
    expect(created.skip_consent).toBe(true);
    const flow = await runFlow(svc, new Browser(), { client_id: created.client_id as string, response_type: 'code', scope: 'openid', state: 's' });
    expect(flow.loginRequest.skip).toBe(false);
    expect(flow.consentRequest.skip).toBe(true);
    const tokens = await tokenRequest(
      svc,
      { grant_type: 'authorization_code', code: flow.code },
      { id: created.client_id as string, secret: created.client_secret as string },
    );
    expect(tokens.status).toBe(200);
  });
});

// ---- 8. @ory/hydra-client as the login and consent app ----

describe('@ory/hydra-client OAuth2Api as the login and consent app', () => {
  let api: OAuth2Api;
  let client: { id: string; secret: string };
  const subject = `hydra-user-${randomUUID().slice(0, 8)}`;
  const params = (extra: Params = {}): Params => ({
    client_id: client.id,
    response_type: 'code',
    redirect_uri: WEB_REDIRECT,
    scope: 'openid offline_access profile',
    state: 's-sdk',
    nonce: 'n-sdk',
    ...extra,
  });

  beforeAll(async () => {
    api = new OAuth2Api(new Configuration({ basePath: svc.url, baseOptions: { headers: { Authorization: `Bearer ${ADMIN_KEY}` } } }));
    client = await webClient();
  });

  /** The login and consent app, written with the SDK only; returns what it read. */
  async function sdkFlow(browser: Browser, extra: Params = {}) {
    const loginChallenge = await toLogin(browser, params(extra));
    const { data: login } = await api.getOAuth2LoginRequest({ loginChallenge });
    const { data: loginAnswer } = await api.acceptOAuth2LoginRequest({
      loginChallenge,
      acceptOAuth2LoginRequest: { subject, remember: true, remember_for: 3600, acr: 'urn:example:pwd', amr: ['pwd'] },
    });
    const consentChallenge = await toConsent(browser, loginAnswer.redirect_to);
    const { data: consent } = await api.getOAuth2ConsentRequest({ consentChallenge });
    const { data: consentAnswer } = await api.acceptOAuth2ConsentRequest({
      consentChallenge,
      acceptOAuth2ConsentRequest: {
        grant_scope: consent.requested_scope,
        grant_access_token_audience: consent.requested_access_token_audience,
        remember: true,
        remember_for: 3600,
        session: { id_token: { email: `${subject}@example.com` }, access_token: { tier: 'gold' } },
      },
    });
    const callback = await browser.follow(consentAnswer.redirect_to);
    return { login, consent, callback, code: callback.searchParams.get('code')! };
  }

  it('completes a flow whose code is exchanged at the token endpoint', async () => {
    const browser = new Browser();
    const { login, consent, callback, code } = await sdkFlow(browser);
    expect(login.skip).toBe(false);
    expect(login.client.client_id).toBe(client.id);
    expect(login.requested_scope).toEqual(['openid', 'offline_access', 'profile']);
    expect(consent.subject).toBe(subject);
    expect(consent.skip).toBe(false);
    expect(consent.amr).toEqual(['pwd']);
    expect(callback.searchParams.get('state')).toBe('s-sdk');
    expect(callback.searchParams.get('iss')).toBe(svc.url);

    const tokens = await tokenRequest(svc, { grant_type: 'authorization_code', code, redirect_uri: WEB_REDIRECT }, client);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', scope: 'openid offline_access profile' });
    expect(decodeJwt(tokens.body.id_token as string)).toMatchObject({
      sub: subject,
      nonce: 'n-sdk',
      acr: 'urn:example:pwd',
      amr: ['pwd'],
      email: `${subject}@example.com`,
    });
    const userinfo = await fetch(`${svc.url}/userinfo`, { headers: { Authorization: `Bearer ${tokens.body.access_token as string}` } });
    expect(userinfo.status).toBe(200);
    expect(await userinfo.json()).toEqual({ sub: subject, email: `${subject}@example.com` });

    // The same browser again: both screens are skipped for the remembered subject.
    const again = await sdkFlow(browser);
    expect(again.login.skip).toBe(true);
    expect(again.login.subject).toBe(subject);
    expect(again.consent.skip).toBe(true);
  });

  it('rejects login and consent through the SDK', async () => {
    const browser = new Browser();
    const loginChallenge = await toLogin(browser, params({ state: 's-reject-login' }));
    const { data: rejected } = await api.rejectOAuth2LoginRequest({
      loginChallenge,
      rejectOAuth2Request: { error: 'access_denied', error_description: 'The user cancelled' },
    });
    const loginCallback = expectErrorCallback(await browser.follow(rejected.redirect_to), WEB_REDIRECT, 'access_denied', 's-reject-login');
    expect(loginCallback.searchParams.get('error_description')).toBe('The user cancelled');
    await expect(api.acceptOAuth2LoginRequest({ loginChallenge, acceptOAuth2LoginRequest: { subject } })).rejects.toMatchObject({
      response: { status: 409, data: { error: 'conflict' } },
    });
    // Reading an answered request is Hydra's 410 with the authorization URL to start again from.
    await expect(api.getOAuth2LoginRequest({ loginChallenge })).rejects.toMatchObject({
      response: { status: 410, data: { redirect_to: expect.stringContaining(`${svc.url}/oauth2/auth?`) } },
    });

    const second = new Browser();
    const challenge = await toLogin(second, params({ state: 's-reject-consent' }));
    const { data: accepted } = await api.acceptOAuth2LoginRequest({ loginChallenge: challenge, acceptOAuth2LoginRequest: { subject } });
    const consentChallenge = await toConsent(second, accepted.redirect_to);
    const { data: consentRejected } = await api.rejectOAuth2ConsentRequest({
      consentChallenge,
      rejectOAuth2Request: { error: 'access_denied', error_description: 'Not this app' },
    });
    const consentCallback = expectErrorCallback(await second.follow(consentRejected.redirect_to), WEB_REDIRECT, 'access_denied', 's-reject-consent');
    expect(consentCallback.searchParams.get('error_description')).toBe('Not this app');
  });

  it('revokes login sessions: the next flow has skip false', async () => {
    const browser = new Browser();
    await sdkFlow(browser);
    const { data: before } = await api.getOAuth2LoginRequest({ loginChallenge: await toLogin(browser, params()) });
    expect(before.skip).toBe(true);
    const revoked = await api.revokeOAuth2LoginSessions({ subject });
    expect(revoked.status).toBe(204);
    const { data: after } = await api.getOAuth2LoginRequest({ loginChallenge: await toLogin(browser, params()) });
    expect(after.skip).toBe(false);
    expect(after.subject).toBe('');
  });

  it('revokes consent sessions: the tokens issued under it stop working and the next flow asks for consent', async () => {
    const browser = new Browser();
    const { code } = await sdkFlow(browser);
    const tokens = await tokenRequest(svc, { grant_type: 'authorization_code', code, redirect_uri: WEB_REDIRECT }, client);
    expect(tokens.status).toBe(200);
    const revoked = await api.revokeOAuth2ConsentSessions({ subject, client: client.id });
    expect(revoked.status).toBe(204);

    const userinfo = await fetch(`${svc.url}/userinfo`, { headers: { Authorization: `Bearer ${tokens.body.access_token as string}` } });
    expect(userinfo.status).toBe(401);
    const refreshed = await tokenRequest(svc, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string }, client);
    expect(refreshed).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    const next = await sdkFlow(browser);
    expect(next.consent.skip).toBe(false);
    expect(next.code).toEqual(expect.any(String));
  });
});
