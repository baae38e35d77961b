// A cookie-keeping browser that follows no redirects by itself, a login and
// consent app written against the admin API, and PKCE values: enough to drive
// the authorization code flow step by step over real HTTP.
import { createHash, randomBytes } from 'node:crypto';
import type { RunningApp } from './app.js';
import { basicAuth, type AdminDoor } from './net.js';

/** Holds the cookies one browser would (for the service's single origin) and never follows redirects. */
export class Browser {
  readonly cookies = new Map<string, string>();

  async get(url: string | URL): Promise<Response> {
    return this.request(url, { method: 'GET' });
  }

  async request(url: string | URL, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('Cookie', [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const expired = attributes.some((a) => /^max-age=0$/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1));
    }
    return res;
  }

  /** GETs `url`, expects a redirect, and returns where it points. */
  async follow(url: string | URL): Promise<URL> {
    const res = await this.get(url);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status > 399 || !location) {
      throw new Error(`expected a redirect from ${String(url)}, got ${res.status} ${await res.text()}`);
    }
    return new URL(location, url);
  }
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(svc: RunningApp, params: Record<string, string | undefined>): URL {
  const url = new URL('/oauth2/auth', svc.url);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url;
}

async function adminJson(svc: RunningApp, path: string, init: RequestInit & { json?: unknown } = {}): Promise<Record<string, unknown>> {
  const res = await svc.admin(path, init);
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** The login app's side: read the login request and accept it. */
export async function acceptLogin(svc: RunningApp, challenge: string, body: Record<string, unknown> = { subject: 'alice' }) {
  const q = `login_challenge=${encodeURIComponent(challenge)}`;
  const request = await adminJson(svc, `/admin/oauth2/auth/requests/login?${q}`);
  const accepted = await adminJson(svc, `/admin/oauth2/auth/requests/login/accept?${q}`, { method: 'PUT', json: body });
  return { request, redirectTo: accepted.redirect_to as string };
}

/** The consent app's side: read the consent request and grant what was requested (unless `body` says otherwise). */
export async function acceptConsent(svc: RunningApp, challenge: string, body: Record<string, unknown> = {}) {
  const q = `consent_challenge=${encodeURIComponent(challenge)}`;
  const request = await adminJson(svc, `/admin/oauth2/auth/requests/consent?${q}`);
  const accepted = await adminJson(svc, `/admin/oauth2/auth/requests/consent/accept?${q}`, {
    method: 'PUT',
    json: { grant_scope: request.requested_scope, grant_access_token_audience: request.requested_access_token_audience, ...body },
  });
  return { request, redirectTo: accepted.redirect_to as string };
}

export interface FlowResult {
  /** The client's redirect URI as the browser was sent to it, with code, state and iss. */
  callback: URL;
  code: string;
  loginRequest: Record<string, unknown>;
  consentRequest: Record<string, unknown>;
}

/** Runs /oauth2/auth -> login app -> consent app -> client redirect, accepting both screens through the admin API. */
export async function runFlow(
  svc: RunningApp,
  browser: Browser,
  params: Record<string, string | undefined>,
  answers: { login?: Record<string, unknown>; consent?: Record<string, unknown> } = {},
): Promise<FlowResult> {
  return runFlowFrom(svc, browser, authorizeUrl(svc, params), answers);
}

/** runFlow from an authorization URL built by the caller (repeated parameters such as resource included). */
export async function runFlowFrom(
  svc: RunningApp,
  browser: Browser,
  authorizationUrl: URL,
  answers: { login?: Record<string, unknown>; consent?: Record<string, unknown> } = {},
): Promise<FlowResult> {
  const toLogin = await browser.follow(authorizationUrl);
  const loginChallenge = toLogin.searchParams.get('login_challenge');
  if (!loginChallenge) throw new Error(`expected the login app, got ${toLogin.toString()}`);
  const login = await acceptLogin(svc, loginChallenge, answers.login);
  const toConsent = await browser.follow(login.redirectTo);
  const consentChallenge = toConsent.searchParams.get('consent_challenge');
  if (!consentChallenge) throw new Error(`expected the consent app, got ${toConsent.toString()}`);
  const consent = await acceptConsent(svc, consentChallenge, answers.consent);
  const callback = await browser.follow(consent.redirectTo);
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`expected a code, got ${callback.toString()}`);
  return { callback, code, loginRequest: login.request, consentRequest: consent.request };
}

/** POSTs a form to the token endpoint (optionally with Basic credentials) and returns status and JSON body. */
export async function tokenRequest(
  svc: RunningApp,
  form: Record<string, string | undefined>,
  basic?: { id: string; secret: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (basic) headers.Authorization = basicAuth(basic.id, basic.secret);
  const body = new URLSearchParams(Object.entries(form).filter((e): e is [string, string] => e[1] !== undefined));
  const res = await fetch(`${svc.url}/oauth2/token`, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * A code flow with PKCE for a confidential web client, which the test login
 * and consent apps accept (scope openid offline_access): the token answer.
 */
export async function codeFlowTokens(
  svc: RunningApp,
  client: { client_id: string; client_secret: string },
  redirectUri: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { verifier, challenge } = pkcePair();
  const flow = await runFlow(svc, new Browser(), {
    client_id: client.client_id,
    response_type: 'code',
    scope: 'openid offline_access',
    redirect_uri: redirectUri,
    state: 'state-123456',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return tokenRequest(
    svc,
    { grant_type: 'authorization_code', code: flow.code, redirect_uri: redirectUri, code_verifier: verifier },
    { id: client.client_id, secret: client.client_secret },
  );
}

/** POST /admin/oauth2/introspect: what the operator sees of any token (expects 200). */
export async function adminIntrospect(svc: AdminDoor, token: string): Promise<Record<string, unknown>> {
  const res = await svc.admin('/admin/oauth2/introspect', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  if (res.status !== 200) throw new Error(`admin introspection answered ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}
