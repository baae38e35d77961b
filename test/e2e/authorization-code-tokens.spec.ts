// The authorization code flow (README, Signing users in; RFC 6749 §4.1, §6), end to end over real HTTP against the real
// app on PostgreSQL: what the token endpoint does with authorization codes and
// refresh tokens, ID token claims, userinfo, revocation through the admin API,
// RP-initiated logout and discovery. Tokens are judged from outside: JWTs with
// jose against the discovered JWKS, every token's state through introspection.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { JanitorService } from '../../src/database/janitor.service.js';
import { machineClient, nativeAppClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { registerClient } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { adminIntrospect, Browser, type FlowResult, pkcePair, runFlow, tokenRequest } from '../support/oauth-flow.js';
import { STRATEGY_MATRIX, strategyEnv, type Strategy } from '../support/strategy-matrix.js';
import { basicAuth } from '../support/net.js';

type Format = Strategy;
const FORMATS: Format[] = ['opaque', 'jwt'];

const FLOW_ENV = { URLS_LOGIN: 'https://login.example.com/login', URLS_CONSENT: 'https://login.example.com/consent' };
const WEB_REDIRECT = 'https://app.example.com/callback';
const WEB_REDIRECT_2 = 'https://app.example.com/other-callback';
const NATIVE_REDIRECT = 'http://127.0.0.1/callback';
const POST_LOGOUT = 'https://app.example.com/logged-out';

interface Client {
  id: string;
  /** Set for confidential clients (client_secret_basic). */
  secret?: string;
  isPublic: boolean;
}

interface Authorized {
  flow: FlowResult;
  code: string;
  browser: Browser;
  verifier?: string;
  /** The redirect_uri sent in the authorization request, if any. */
  redirectUri?: string;
}

interface Tokens {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

/** A fresh subject per test, so that revoking "every session of a subject" touches no other test. */
function newSubject(): string {
  return `alice-${randomBytes(4).toString('hex')}`;
}

function isJwt(token: string): boolean {
  return token.split('.').length === 3;
}

function formatOf(token: string): Format {
  return isJwt(token) ? 'jwt' : 'opaque';
}

async function setStrategy(svc: RunningApp, clientId: string, value: Format): Promise<void> {
  const res = await svc.admin(`/admin/clients/${encodeURIComponent(clientId)}`, {
    method: 'PATCH',
    json: [{ op: 'replace', path: '/access_token_strategy', value }],
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as Record<string, unknown>).access_token_strategy).toBe(value);
}

/** A confidential web client registered through DCR (client_secret_basic), optionally switched to a token format by an admin. */
async function webClient(svc: RunningApp, overrides: Record<string, unknown> = {}, format?: Format): Promise<Client> {
  const body = await registerClient(svc, {
    redirect_uris: [WEB_REDIRECT, WEB_REDIRECT_2],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid offline_access profile',
    ...overrides,
  });
  const client = { id: body.client_id as string, secret: body.client_secret as string, isPublic: false };
  expect(typeof client.secret).toBe('string');
  if (format) await setStrategy(svc, client.id, format);
  return client;
}

/** A public native client registered through DCR (token_endpoint_auth_method none, PKCE). */
async function nativeClient(svc: RunningApp, overrides: Record<string, unknown> = {}, format?: Format): Promise<Client> {
  const body = await registerClient(svc, nativeAppClient({ redirect_uris: [NATIVE_REDIRECT], scope: 'openid offline_access profile', ...overrides }));
  const client = { id: body.client_id as string, isPublic: true };
  expect(body.client_secret).toBeUndefined();
  if (format) await setStrategy(svc, client.id, format);
  return client;
}

interface AuthorizeOptions {
  scope?: string;
  nonce?: string;
  state?: string;
  /** Send a PKCE challenge (default: only for public clients). */
  pkce?: boolean;
  /** The redirect_uri to send; null sends none (default: the first registered one). */
  redirectUri?: string | null;
  browser?: Browser;
  prompt?: string;
  login?: Record<string, unknown>;
  consent?: Record<string, unknown>;
}

/** Runs the browser part of the flow and returns the code and what the token request needs. */
async function authorize(svc: RunningApp, client: Client, options: AuthorizeOptions = {}): Promise<Authorized> {
  const browser = options.browser ?? new Browser();
  const pkce = (options.pkce ?? client.isPublic) ? pkcePair() : undefined;
  const redirectUri =
    options.redirectUri === null ? undefined : (options.redirectUri ?? (client.isPublic ? 'http://127.0.0.1:41234/callback' : WEB_REDIRECT));
  const flow = await runFlow(
    svc,
    browser,
    {
      client_id: client.id,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: options.scope ?? 'openid offline_access',
      state: options.state ?? 'state-1',
      nonce: options.nonce,
      prompt: options.prompt,
      code_challenge: pkce?.challenge,
      code_challenge_method: pkce ? 'S256' : undefined,
    },
    { login: options.login ?? { subject: 'alice' }, consent: options.consent },
  );
  return { flow, code: flow.code, browser, verifier: pkce?.verifier, redirectUri };
}

function credentials(client: Client): { form: Record<string, string>; basic?: { id: string; secret: string } } {
  return client.isPublic ? { form: { client_id: client.id } } : { form: {}, basic: { id: client.id, secret: client.secret! } };
}

/** POST /oauth2/token with grant_type=authorization_code, authenticated as `client`; `extra` overrides (undefined drops a parameter). */
function exchange(svc: RunningApp, client: Client, authorized: Authorized, extra: Record<string, string | undefined> = {}) {
  const { form, basic } = credentials(client);
  return tokenRequest(
    svc,
    {
      grant_type: 'authorization_code',
      code: authorized.code,
      redirect_uri: authorized.redirectUri,
      code_verifier: authorized.verifier,
      ...form,
      ...extra,
    },
    basic,
  );
}

function refresh(svc: RunningApp, client: Client, refreshToken: string, extra: Record<string, string | undefined> = {}) {
  const { form, basic } = credentials(client);
  return tokenRequest(svc, { grant_type: 'refresh_token', refresh_token: refreshToken, ...form, ...extra }, basic);
}

function ok(result: { status: number; body: Record<string, unknown> }): Tokens {
  expect(result).toMatchObject({ status: 200, body: { token_type: 'Bearer' } });
  expect(typeof result.body.access_token).toBe('string');
  return result.body as unknown as Tokens;
}

function expectTokenError(result: { status: number; body: Record<string, unknown> }, status: number, error: string, mention?: string): void {
  expect({ status: result.status, error: result.body.error }).toEqual({ status, error });
  expect(result.body.access_token).toBeUndefined();
  if (mention) expect(String(result.body.error_description)).toContain(mention);
}

/** The whole flow and the code exchange. */
async function tokensFor(svc: RunningApp, client: Client, options: AuthorizeOptions = {}): Promise<Tokens & { authorized: Authorized }> {
  const authorized = await authorize(svc, client, options);
  return { ...ok(await exchange(svc, client, authorized)), authorized };
}

const introspect = adminIntrospect;

async function activeStates(svc: RunningApp, tokens: string[]): Promise<boolean[]> {
  return Promise.all(tokens.map(async (t) => (await introspect(svc, t)).active === true));
}

function basicHeader(client: Client): string {
  return basicAuth(client.id, client.secret!);
}

function postForm(url: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

function userinfo(svc: RunningApp, token: string): Promise<Response> {
  return fetch(`${svc.url}/userinfo`, { headers: { Authorization: `Bearer ${token}` } });
}

/** RFC 9068 checked with jose against the JWKS: typ at+jwt, the user as sub, client_id. */
async function expectAccessJwt(svc: RunningApp, token: string, clientId: string, subject: string, scope: string): Promise<JWTPayload> {
  const jwks = createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: svc.url, typ: 'at+jwt' });
  expect(protectedHeader.typ).toBe('at+jwt');
  expect(payload).toMatchObject({ sub: subject, client_id: clientId, scope });
  expect(typeof payload.jti).toBe('string');
  expect(payload.exp! > payload.iat!).toBe(true);
  return payload;
}

/** Opaque: not a JWT, 256 random bits, readable through introspection. */
async function expectOpaque(svc: RunningApp, token: string, clientId: string, subject: string, scope: string): Promise<void> {
  expect(isJwt(token)).toBe(false);
  expect(token).toMatch(/^[A-Za-z0-9_-]{43,}$/);
  expect(() => decodeProtectedHeader(token)).toThrow();
  expect(await introspect(svc, token)).toMatchObject({ active: true, client_id: clientId, sub: subject, scope, token_use: 'access_token' });
}

async function expectAccessToken(svc: RunningApp, format: Format, token: string, clientId: string, subject: string, scope: string) {
  expect(formatOf(token)).toBe(format);
  if (format === 'jwt') await expectAccessJwt(svc, token, clientId, subject, scope);
  else await expectOpaque(svc, token, clientId, subject, scope);
}

async function verifyIdToken(svc: RunningApp, token: string, clientId: string) {
  const jwks = createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`));
  return jwtVerify(token, jwks, { issuer: svc.url, audience: clientId });
}

function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
}

function sessionCookieCleared(res: Response): boolean {
  return res.headers.getSetCookie().some((c) => /^registrar_session=/.test(c) && /;\s*Max-Age=0(;|$)/i.test(c) && /;\s*Path=\//i.test(c));
}

/** Starts a flow in `browser` and returns whether the login app was told to skip (a live remembered session). */
async function loginSkip(svc: RunningApp, browser: Browser, client: Client): Promise<{ skip: boolean; subject: string }> {
  const url = new URL('/oauth2/auth', svc.url);
  url.search = new URLSearchParams({ client_id: client.id, response_type: 'code', redirect_uri: WEB_REDIRECT, scope: 'openid', state: 's' }).toString();
  const toLogin = await browser.follow(url);
  const challenge = toLogin.searchParams.get('login_challenge');
  expect(challenge).toBeTruthy();
  const res = await svc.admin(`/admin/oauth2/auth/requests/login?login_challenge=${encodeURIComponent(challenge!)}`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { skip: boolean; subject: string };
  return { skip: body.skip, subject: body.subject };
}

// ---------------------------------------------------------------------------

describe('authorization code flow: tokens (global strategy opaque)', () => {
  let svc: RunningApp;

  beforeAll(async () => {
    svc = await startApp({ env: FLOW_ENV });
  });
  afterAll(async () => {
    await svc?.close();
  });

  describe('code exchange', () => {
    it.each(FORMATS)('a code is single-use: a second exchange is invalid_grant and revokes the %s tokens of the first', async (format) => {
      const client = await webClient(svc, {}, format);
      const subject = newSubject();
      const authorized = await authorize(svc, client, { login: { subject } });
      const first = ok(await exchange(svc, client, authorized));
      await expectAccessToken(svc, format, first.access_token, client.id, subject, 'openid offline_access');
      expect(typeof first.refresh_token).toBe('string');
      expect(await activeStates(svc, [first.access_token, first.refresh_token!])).toEqual([true, true]);
      expect((await userinfo(svc, first.access_token)).status).toBe(200);

      expectTokenError(await exchange(svc, client, authorized), 400, 'invalid_grant');

      expect(await activeStates(svc, [first.access_token, first.refresh_token!])).toEqual([false, false]);
      expectTokenError(await refresh(svc, client, first.refresh_token!), 400, 'invalid_grant');
      expect((await userinfo(svc, first.access_token)).status).toBe(401);
    });

    it('refuses a code presented by another client with invalid_grant without spending it: its own client still redeems it once', async () => {
      const owner = await webClient(svc);
      const thief = await webClient(svc);
      const authorized = await authorize(svc, owner);
      expectTokenError(await exchange(svc, thief, authorized), 400, 'invalid_grant');
      const publicThief = await nativeClient(svc);
      expectTokenError(await exchange(svc, publicThief, authorized), 400, 'invalid_grant');
      ok(await exchange(svc, owner, authorized));
      expectTokenError(await exchange(svc, thief, authorized), 400, 'invalid_grant');
    });

    it('requires the same redirect_uri as the authorization request: missing or different is invalid_grant', async () => {
      const client = await webClient(svc);
      const missing = await authorize(svc, client, { redirectUri: WEB_REDIRECT });
      expectTokenError(await exchange(svc, client, missing, { redirect_uri: undefined }), 400, 'invalid_grant', 'redirect_uri');

      const different = await authorize(svc, client, { redirectUri: WEB_REDIRECT });
      // WEB_REDIRECT_2 is registered too: only the one of the request will do.
      expectTokenError(await exchange(svc, client, different, { redirect_uri: WEB_REDIRECT_2 }), 400, 'invalid_grant', 'redirect_uri');

      const right = await authorize(svc, client, { redirectUri: WEB_REDIRECT_2 });
      ok(await exchange(svc, client, right, { redirect_uri: WEB_REDIRECT_2 }));
    });

    it('a loopback redirect_uri must be repeated with the very port of the request', async () => {
      const client = await nativeClient(svc);
      const authorized = await authorize(svc, client, { redirectUri: 'http://127.0.0.1:40001/callback' });
      expectTokenError(await exchange(svc, client, authorized, { redirect_uri: 'http://127.0.0.1:40002/callback' }), 400, 'invalid_grant');
    });

    it('a wrong code_verifier is invalid_grant, and the code is spent by the attempt', async () => {
      const client = await nativeClient(svc);
      const authorized = await authorize(svc, client);
      expectTokenError(await exchange(svc, client, authorized, { code_verifier: pkcePair().verifier }), 400, 'invalid_grant', 'code_verifier');
      // The right verifier comes too late: the code was consumed by the wrong guess.
      expectTokenError(await exchange(svc, client, authorized), 400, 'invalid_grant');
    });

    it('a code issued with a code_challenge needs a code_verifier (invalid_grant without one)', async () => {
      const client = await nativeClient(svc);
      const authorized = await authorize(svc, client);
      expectTokenError(await exchange(svc, client, authorized, { code_verifier: undefined }), 400, 'invalid_grant', 'code_verifier');

      // A confidential client that chose PKCE is held to it as well.
      const web = await webClient(svc);
      const withPkce = await authorize(svc, web, { pkce: true });
      expectTokenError(await exchange(svc, web, withPkce, { code_verifier: undefined }), 400, 'invalid_grant', 'code_verifier');
      const again = await authorize(svc, web, { pkce: true });
      ok(await exchange(svc, web, again));
    });

    it('a code_verifier for a code issued without a code_challenge is invalid_grant (confidential client)', async () => {
      const client = await webClient(svc);
      const authorized = await authorize(svc, client, { pkce: false });
      expectTokenError(await exchange(svc, client, authorized, { code_verifier: pkcePair().verifier }), 400, 'invalid_grant', 'code_verifier');
    });

    it('an unknown code is invalid_grant; a missing code is invalid_request', async () => {
      const client = await webClient(svc);
      const authorized = await authorize(svc, client);
      expectTokenError(await exchange(svc, client, authorized, { code: randomBytes(32).toString('base64url') }), 400, 'invalid_grant');
      expectTokenError(await exchange(svc, client, authorized, { code: undefined }), 400, 'invalid_request', 'code');
      // Neither spent the real code.
      ok(await exchange(svc, client, authorized));
    });

    it('a client registered without the authorization_code grant is unauthorized_client', async () => {
      const flowClient = await webClient(svc);
      const authorized = await authorize(svc, flowClient);
      const body = await registerClient(svc, machineClient());
      const machine: Client = { id: body.client_id as string, secret: body.client_secret as string, isPublic: false };
      expectTokenError(await exchange(svc, machine, authorized), 400, 'unauthorized_client');
      expectTokenError(await refresh(svc, machine, 'whatever'), 400, 'unauthorized_client');
    });

    it('a public client that sends no client_id is invalid_client (401), and the code survives the failed attempt', async () => {
      const client = await nativeClient(svc);
      const authorized = await authorize(svc, client);
      expectTokenError(await exchange(svc, client, authorized, { client_id: undefined }), 401, 'invalid_client');
      ok(await exchange(svc, client, authorized));
    });

    it('a confidential client with a wrong secret is 401 invalid_client with a Basic challenge, and the code survives', async () => {
      const client = await webClient(svc);
      const authorized = await authorize(svc, client);
      const res = await postForm(
        `${svc.url}/oauth2/token`,
        { grant_type: 'authorization_code', code: authorized.code, redirect_uri: WEB_REDIRECT },
        { Authorization: basicHeader({ ...client, secret: `${client.secret}x` }) },
      );
      await expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      // A confidential client cannot fall back to presenting only its client_id either.
      expectTokenError(await tokenRequest(svc, { grant_type: 'authorization_code', code: authorized.code, redirect_uri: WEB_REDIRECT, client_id: client.id }), 401, 'invalid_client');
      ok(await exchange(svc, client, authorized));
    });
  });

  describe('refresh tokens', () => {
    it('are issued only when offline_access is granted and the client has the refresh_token grant', async () => {
      const client = await webClient(svc);
      const notRequested = await tokensFor(svc, client, { scope: 'openid' });
      expect(notRequested.refresh_token).toBeUndefined();

      const notGranted = await tokensFor(svc, client, { scope: 'openid offline_access', consent: { grant_scope: ['openid'] } });
      expect(notGranted.scope).toBe('openid');
      expect(notGranted.refresh_token).toBeUndefined();

      const noGrantType = await webClient(svc, { grant_types: ['authorization_code'] });
      const withoutGrant = await tokensFor(svc, noGrantType, { scope: 'openid offline_access' });
      expect(withoutGrant.scope).toBe('openid offline_access');
      expect(withoutGrant.refresh_token).toBeUndefined();

      const granted = await tokensFor(svc, client, { scope: 'openid offline_access' });
      expect(typeof granted.refresh_token).toBe('string');
      expect(granted.refresh_token).not.toBe(granted.access_token);
    });

    it.each(FORMATS)('rotate on use, and reusing a spent one revokes the whole family, %s access tokens included', async (format) => {
      const client = await nativeClient(svc, {}, format);
      const subject = newSubject();
      const t0 = await tokensFor(svc, client, { login: { subject } });
      const r1 = ok(await refresh(svc, client, t0.refresh_token!));
      expect(typeof r1.refresh_token).toBe('string');
      expect(r1.refresh_token).not.toBe(t0.refresh_token);
      expect(r1.access_token).not.toBe(t0.access_token);
      await expectAccessToken(svc, format, r1.access_token, client.id, subject, 'openid offline_access');
      const r2 = ok(await refresh(svc, client, r1.refresh_token!));
      expect(r2.refresh_token).not.toBe(r1.refresh_token);

      // Spent refresh tokens are inactive; access tokens stay valid through rotation.
      expect(await activeStates(svc, [t0.refresh_token!, r1.refresh_token!, r2.refresh_token!])).toEqual([false, false, true]);
      expect(await activeStates(svc, [t0.access_token, r1.access_token, r2.access_token])).toEqual([true, true, true]);

      expectTokenError(await refresh(svc, client, t0.refresh_token!), 400, 'invalid_grant');

      expect(await activeStates(svc, [r2.refresh_token!])).toEqual([false]);
      expect(await activeStates(svc, [t0.access_token, r1.access_token, r2.access_token])).toEqual([false, false, false]);
      expectTokenError(await refresh(svc, client, r2.refresh_token!), 400, 'invalid_grant');
      expect((await userinfo(svc, r2.access_token)).status).toBe(401);
    });

    it('can narrow the scope (scope=openid gives an access token with only openid) but not widen it (invalid_scope)', async () => {
      const client = await webClient(svc);
      const subject = newSubject();
      const t0 = await tokensFor(svc, client, { scope: 'openid offline_access', login: { subject } });

      const wider = await refresh(svc, client, t0.refresh_token!, { scope: 'openid offline_access profile' });
      expectTokenError(wider, 400, 'invalid_scope', 'profile');

      // The refused request did not spend the token.
      const narrow = ok(await refresh(svc, client, t0.refresh_token!, { scope: 'openid' }));
      expect(narrow.scope).toBe('openid');
      expect(await introspect(svc, narrow.access_token)).toMatchObject({ active: true, scope: 'openid', sub: subject });
      expect(typeof narrow.id_token).toBe('string');
      // The new refresh token keeps what was granted.
      expect(typeof narrow.refresh_token).toBe('string');
      expect(await introspect(svc, narrow.refresh_token!)).toMatchObject({ active: true, scope: 'openid offline_access' });
      const full = ok(await refresh(svc, client, narrow.refresh_token!));
      expect(full.scope).toBe('openid offline_access');
    });

    it('a refresh token of another client is invalid_grant and stays good for its own client', async () => {
      const owner = await webClient(svc);
      const other = await webClient(svc);
      const t0 = await tokensFor(svc, owner);
      expectTokenError(await refresh(svc, other, t0.refresh_token!), 400, 'invalid_grant');
      expect(await activeStates(svc, [t0.access_token, t0.refresh_token!])).toEqual([true, true]);
      ok(await refresh(svc, owner, t0.refresh_token!));
    });

    it('introspect as active with token_use refresh_token, for the admin and for the owning client only', async () => {
      const client = await webClient(svc);
      const other = await webClient(svc);
      const subject = newSubject();
      const t0 = await tokensFor(svc, client, { login: { subject } });
      const expected = { active: true, token_use: 'refresh_token', client_id: client.id, sub: subject, scope: 'openid offline_access', iss: svc.url };
      const asAdmin = await introspect(svc, t0.refresh_token!);
      expect(asAdmin).toMatchObject(expected);
      expect(asAdmin.exp as number).toBeGreaterThan(Math.floor(Date.now() / 1000));

      const asClient = await postForm(`${svc.url}/oauth2/introspect`, { token: t0.refresh_token! }, { Authorization: basicHeader(client) });
      expect(asClient.status).toBe(200);
      expect(await asClient.json()).toMatchObject(expected);
      const asOther = await postForm(`${svc.url}/oauth2/introspect`, { token: t0.refresh_token! }, { Authorization: basicHeader(other) });
      expect(await asOther.json()).toEqual({ active: false });
      // The access token says it is one.
      expect(await introspect(svc, t0.access_token)).toMatchObject({ active: true, token_use: 'access_token' });
    });

    it.each(FORMATS)('revoking a refresh token (RFC 7009) revokes its %s access tokens too', async (format) => {
      const client = await webClient(svc, {}, format);
      const t0 = await tokensFor(svc, client);
      const r1 = ok(await refresh(svc, client, t0.refresh_token!));
      const res = await postForm(`${svc.url}/oauth2/revoke`, { token: r1.refresh_token! }, { Authorization: basicHeader(client) });
      expect(res.status).toBe(200);
      expect(await activeStates(svc, [r1.refresh_token!, t0.access_token, r1.access_token])).toEqual([false, false, false]);
      expectTokenError(await refresh(svc, client, r1.refresh_token!), 400, 'invalid_grant');
      expect((await userinfo(svc, r1.access_token)).status).toBe(401);
    });

    it('a public client can revoke its refresh token with its client_id', async () => {
      const client = await nativeClient(svc);
      const t0 = await tokensFor(svc, client);
      const res = await postForm(`${svc.url}/oauth2/revoke`, { token: t0.refresh_token!, client_id: client.id });
      expect(res.status).toBe(200);
      expect(await activeStates(svc, [t0.refresh_token!, t0.access_token])).toEqual([false, false]);
    });

    it('another client cannot revoke a refresh token that is not its own', async () => {
      const owner = await webClient(svc);
      const other = await webClient(svc);
      const t0 = await tokensFor(svc, owner);
      const res = await postForm(`${svc.url}/oauth2/revoke`, { token: t0.refresh_token! }, { Authorization: basicHeader(other) });
      await expectOAuthError(res, 400, 'unauthorized_client', 'not issued to this client');
      expect(await activeStates(svc, [t0.refresh_token!, t0.access_token])).toEqual([true, true]);
    });
  });

  describe('under concurrency (settled in the database)', () => {
    it('redeems a code at most once among 20 simultaneous exchanges, and the replays leave no token of it alive', async () => {
      for (const format of FORMATS) {
        const client = await webClient(svc, {}, format);
        const authorized = await authorize(svc, client);
        const results = await Promise.all(Array.from({ length: 20 }, () => exchange(svc, client, authorized)));
        const winners = results.filter((r) => r.status === 200);
        // The replays revoke the grant; a winner that sees it revoked after its own writes refuses too.
        expect(winners.length).toBeLessThanOrEqual(1);
        for (const r of results.filter((x) => x.status !== 200)) expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
        const issued = winners.flatMap((w) => [w.body.access_token as string, w.body.refresh_token as string]);
        expect(await activeStates(svc, issued)).toEqual(issued.map(() => false));
        expect(await exchange(svc, client, authorized)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      }
    });

    it('rotates a refresh token at most once among 20 simultaneous refreshes, and the reuse revokes the grant', async () => {
      const client = await nativeClient(svc);
      const t0 = await tokensFor(svc, client);
      const results = await Promise.all(Array.from({ length: 20 }, () => refresh(svc, client, t0.refresh_token!)));
      const winners = results.filter((r) => r.status === 200);
      expect(winners.length).toBeLessThanOrEqual(1);
      for (const r of results.filter((x) => x.status !== 200)) expect(r).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      const every = [t0.access_token, t0.refresh_token!, ...winners.flatMap((w) => [w.body.access_token as string, w.body.refresh_token as string])];
      expect(await activeStates(svc, every)).toEqual(every.map(() => false));
    });
  });

  describe('ID tokens', () => {
    it('carry iss, sub, aud = [client_id], exp, iat, auth_time, nonce, at_hash, acr, amr, sid and the consent session claims', async () => {
      const client = await webClient(svc);
      const subject = newSubject();
      const before = Math.floor(Date.now() / 1000);
      const t0 = await tokensFor(svc, client, {
        nonce: 'nonce-123',
        login: { subject, acr: 'urn:example:mfa', amr: ['pwd', 'otp'], remember: true, remember_for: 3600 },
        consent: { session: { id_token: { email: `${subject}@example.com`, email_verified: true, groups: ['a', 'b'] } } },
      });
      const after = Math.floor(Date.now() / 1000);
      const { payload, protectedHeader } = await verifyIdToken(svc, t0.id_token!, client.id);
      expect(protectedHeader.alg).toBe('RS256');
      expect(payload.iss).toBe(svc.url);
      expect(payload.sub).toBe(subject);
      expect(payload.aud).toEqual([client.id]);
      expect(payload.iat!).toBeGreaterThanOrEqual(before - 1);
      expect(payload.iat!).toBeLessThanOrEqual(after + 1);
      expect(payload.exp!).toBeGreaterThan(payload.iat!);
      expect(payload.auth_time as number).toBeGreaterThanOrEqual(before - 1);
      expect(payload.auth_time as number).toBeLessThanOrEqual(after + 1);
      expect(payload.nonce).toBe('nonce-123');
      expect(payload.at_hash).toBe(atHash(t0.access_token));
      expect(payload.acr).toBe('urn:example:mfa');
      expect(payload.amr).toEqual(['pwd', 'otp']);
      expect(typeof payload.sid).toBe('string');
      expect(payload.sid).toBe(t0.authorized.flow.consentRequest.login_session_id);
      expect(payload).toMatchObject({ email: `${subject}@example.com`, email_verified: true, groups: ['a', 'b'] });
    });

    it('leave out nonce and sid when none was sent or remembered, and reserved claims from the consent session cannot override the server', async () => {
      const client = await webClient(svc);
      const subject = newSubject();
      const t0 = await tokensFor(svc, client, {
        login: { subject },
        consent: {
          session: {
            id_token: {
              sub: 'mallory',
              iss: 'https://evil.example',
              aud: 'evil-client',
              nonce: 'evil-nonce',
              sid: 'evil-sid',
              acr: 'evil-acr',
              amr: ['evil'],
              auth_time: 1,
              at_hash: 'evil-hash',
              exp: 1,
              iat: 1,
              nbf: 9999999999,
              azp: 'evil-client',
              tenant: 'kept',
            },
          },
        },
      });
      // jwtVerify checks iss, aud, exp and nbf: a leaked exp, nbf or iss would fail here.
      const { payload } = await verifyIdToken(svc, t0.id_token!, client.id);
      expect(payload.sub).toBe(subject);
      expect(payload.iss).toBe(svc.url);
      expect(payload.aud).toEqual([client.id]);
      expect(payload.nonce).toBeUndefined();
      expect(payload.sid).toBeUndefined();
      expect(payload.acr).toBeUndefined();
      expect(payload.amr).toBeUndefined();
      expect(payload.azp).toBeUndefined();
      expect(payload.nbf).toBeUndefined();
      expect(payload.auth_time).not.toBe(1);
      expect(payload.iat).not.toBe(1);
      expect(payload.at_hash).toBe(atHash(t0.access_token));
      expect(payload.tenant).toBe('kept');

      // userinfo names the real subject too, and passes on only the claims the server does not set.
      const info = (await (await userinfo(svc, t0.access_token)).json()) as Record<string, unknown>;
      expect(info).toEqual({ sub: subject, tenant: 'kept' });
    });

    it('on refresh keep sub, aud and the original auth_time, drop nonce, and hash the new access token', async () => {
      const client = await nativeClient(svc);
      const subject = newSubject();
      const t0 = await tokensFor(svc, client, { nonce: 'n-refresh', login: { subject, acr: 'urn:example:pwd' } });
      const first = decodeJwt(t0.id_token!);
      const r1 = ok(await refresh(svc, client, t0.refresh_token!));
      const { payload } = await verifyIdToken(svc, r1.id_token!, client.id);
      expect(payload).toMatchObject({ sub: subject, aud: [client.id], auth_time: first.auth_time, acr: 'urn:example:pwd' });
      expect(payload.nonce).toBeUndefined();
      expect(payload.at_hash).toBe(atHash(r1.access_token));
      expect(payload.at_hash).not.toBe(first.at_hash);
    });

    it('after a remembered login is skipped, auth_time and sid are those of the original login', async () => {
      const client = await webClient(svc);
      const subject = newSubject();
      const browser = new Browser();
      const t0 = await tokensFor(svc, client, { browser, login: { subject, remember: true, remember_for: 3600 } });
      const first = decodeJwt(t0.id_token!);
      await new Promise((r) => setTimeout(r, 1100));
      const t1 = await tokensFor(svc, client, { browser, login: { subject } });
      expect(t1.authorized.flow.loginRequest).toMatchObject({ skip: true, subject });
      const second = decodeJwt(t1.id_token!);
      expect(second.auth_time).toBe(first.auth_time);
      expect(second.sid).toBe(first.sid);
      expect(second.iat!).toBeGreaterThan(first.iat!);
    });

    it('are not issued without the openid scope, neither at the exchange nor on refresh', async () => {
      const client = await webClient(svc);
      const t0 = await tokensFor(svc, client, { scope: 'offline_access profile' });
      expect(t0.scope).toBe('offline_access profile');
      expect(t0.id_token).toBeUndefined();
      const r1 = ok(await refresh(svc, client, t0.refresh_token!));
      expect(r1.id_token).toBeUndefined();
    });
  });

  describe('userinfo', () => {
    it.each(FORMATS)('answers GET with a %s bearer token and POST with access_token in the form: sub and the consent claims', async (format) => {
      const client = await webClient(svc, {}, format);
      const subject = newSubject();
      const t0 = await tokensFor(svc, client, {
        login: { subject },
        consent: { session: { id_token: { email: 'a@example.com', locale: 'de' }, access_token: { only_in: 'access tokens' } } },
      });
      expect(formatOf(t0.access_token)).toBe(format);
      const expected = { sub: subject, email: 'a@example.com', locale: 'de' };

      const get = await userinfo(svc, t0.access_token);
      expect(get.status).toBe(200);
      expect(get.headers.get('content-type')).toMatch(/^application\/json/);
      expect(get.headers.get('cache-control')).toBe('no-store');
      expect(await get.json()).toEqual(expected);

      const post = await postForm(`${svc.url}/userinfo`, { access_token: t0.access_token });
      expect(post.status).toBe(200);
      expect(await post.json()).toEqual(expected);

      const postBearer = await fetch(`${svc.url}/userinfo`, { method: 'POST', headers: { Authorization: `Bearer ${t0.access_token}` } });
      expect(postBearer.status).toBe(200);
      expect(await postBearer.json()).toEqual(expected);
    });

    it('without a token is 401 with a plain Bearer challenge; with a bad token 401 invalid_token', async () => {
      const none = await fetch(`${svc.url}/userinfo`);
      await expectOAuthError(none, 401, 'invalid_token');
      expect(none.headers.get('www-authenticate')).toBe('Bearer');

      const emptyPost = await postForm(`${svc.url}/userinfo`, {});
      expect(emptyPost.status).toBe(401);
      expect(emptyPost.headers.get('www-authenticate')).toBe('Bearer');

      for (const bad of [randomBytes(32).toString('base64url'), 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
        const res = await userinfo(svc, bad);
        await expectOAuthError(res, 401, 'invalid_token');
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
      }
    });

    it.each(FORMATS)('refuses a %s access token without openid with 403 insufficient_scope', async (format) => {
      const client = await webClient(svc, {}, format);
      const t0 = await tokensFor(svc, client, { scope: 'offline_access profile' });
      const res = await userinfo(svc, t0.access_token);
      await expectOAuthError(res, 403, 'insufficient_scope');
      expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);

      // Narrowed away on refresh: the same.
      const withOpenid = await tokensFor(svc, client, { scope: 'openid offline_access' });
      const narrowed = ok(await refresh(svc, client, withOpenid.refresh_token!, { scope: 'offline_access' }));
      await expectOAuthError(await userinfo(svc, narrowed.access_token), 403, 'insufficient_scope');
    });

    it.each(FORMATS)('refuses a %s client_credentials token (no user) with 403', async (format) => {
      const body = await registerClient(svc, machineClient({ scope: 'openid read' }));
      const machine: Client = { id: body.client_id as string, secret: body.client_secret as string, isPublic: false };
      await setStrategy(svc, machine.id, format);
      const issued = ok(await tokenRequest(svc, { grant_type: 'client_credentials', scope: 'openid read' }, { id: machine.id, secret: machine.secret! }));
      expect(formatOf(issued.access_token)).toBe(format);
      await expectOAuthError(await userinfo(svc, issued.access_token), 403, 'insufficient_scope');
    });

    it.each(FORMATS)('refuses a revoked %s access token with 401', async (format) => {
      const client = await webClient(svc, {}, format);
      const t0 = await tokensFor(svc, client, { scope: 'openid' });
      expect((await userinfo(svc, t0.access_token)).status).toBe(200);
      const res = await postForm(`${svc.url}/oauth2/revoke`, { token: t0.access_token }, { Authorization: basicHeader(client) });
      expect(res.status).toBe(200);
      const after = await userinfo(svc, t0.access_token);
      await expectOAuthError(after, 401, 'invalid_token');
    });
  });

  describe('revocation through the admin API', () => {
    it.each(FORMATS)('DELETE consent for a subject and client: 204, the grant\'s %s tokens die, other clients\' grants live', async (format) => {
      const client = await webClient(svc, {}, format);
      const otherClient = await webClient(svc, {}, format);
      const subject = newSubject();
      const browser = new Browser();
      const t0 = await tokensFor(svc, client, { browser, login: { subject }, consent: { remember: true, remember_for: 3600 } });
      const r1 = ok(await refresh(svc, client, t0.refresh_token!));
      const kept = await tokensFor(svc, otherClient, { login: { subject } });

      // Remembered consent is skipped before the revocation.
      const remembered = await authorize(svc, client, { browser, login: { subject } });
      expect(remembered.flow.consentRequest.skip).toBe(true);
      const t2 = ok(await exchange(svc, client, remembered));

      const res = await svc.admin(`/admin/oauth2/auth/sessions/consent?subject=${encodeURIComponent(subject)}&client=${encodeURIComponent(client.id)}`, {
        method: 'DELETE',
      });
      expect(res.status).toBe(204);

      expect(await activeStates(svc, [t0.access_token, r1.access_token, r1.refresh_token!, t2.access_token, t2.refresh_token!])).toEqual([
        false,
        false,
        false,
        false,
        false,
      ]);
      expectTokenError(await refresh(svc, client, r1.refresh_token!), 400, 'invalid_grant');
      expect((await userinfo(svc, t2.access_token)).status).toBe(401);
      expect(await activeStates(svc, [kept.access_token, kept.refresh_token!])).toEqual([true, true]);

      // The remembered consent is gone too.
      const next = await authorize(svc, client, { browser, login: { subject } });
      expect(next.flow.consentRequest.skip).toBe(false);
    });

    it('DELETE consent without a client and without all=true is 400; with all=true it revokes every client\'s grants', async () => {
      const a = await webClient(svc);
      const b = await webClient(svc);
      const subject = newSubject();
      const ta = await tokensFor(svc, a, { login: { subject } });
      const tb = await tokensFor(svc, b, { login: { subject } });

      const path = `/admin/oauth2/auth/sessions/consent?subject=${encodeURIComponent(subject)}`;
      await expectOAuthError(await svc.admin(path, { method: 'DELETE' }), 400, 'invalid_request');
      await expectOAuthError(await svc.admin(`${path}&all=false`, { method: 'DELETE' }), 400, 'invalid_request');
      await expectOAuthError(await svc.admin(`/admin/oauth2/auth/sessions/consent?client=${a.id}`, { method: 'DELETE' }), 400, 'invalid_request');
      expect(await activeStates(svc, [ta.access_token, tb.access_token])).toEqual([true, true]);

      expect((await svc.admin(`${path}&all=true`, { method: 'DELETE' })).status).toBe(204);
      expect(await activeStates(svc, [ta.access_token, ta.refresh_token!, tb.access_token, tb.refresh_token!])).toEqual([false, false, false, false]);
    });

    it('DELETE login sessions of a subject: 204, and a remembered session no longer skips login', async () => {
      const client = await webClient(svc);
      const subject = newSubject();
      const browser = new Browser();
      await tokensFor(svc, client, { browser, login: { subject, remember: true, remember_for: 3600 } });
      expect(browser.cookies.has('registrar_session')).toBe(true);
      expect(await loginSkip(svc, browser, client)).toEqual({ skip: true, subject });

      const res = await svc.admin(`/admin/oauth2/auth/sessions/login?subject=${encodeURIComponent(subject)}`, { method: 'DELETE' });
      expect(res.status).toBe(204);
      // The browser still sends its cookie; the session behind it is over.
      expect(browser.cookies.has('registrar_session')).toBe(true);
      expect(await loginSkip(svc, browser, client)).toEqual({ skip: false, subject: '' });
    });
  });

  describe('RP-initiated logout', () => {
    async function loggedIn(
      options: { client?: Client; browser?: Browser; subject?: string; remember?: boolean } = {},
    ): Promise<{ client: Client; subject: string; browser: Browser; idToken: string; cookie: string }> {
      const client = options.client ?? (await webClient(svc, { post_logout_redirect_uris: [POST_LOGOUT] }));
      const subject = options.subject ?? newSubject();
      const browser = options.browser ?? new Browser();
      const login = options.remember === false ? { subject } : { subject, remember: true, remember_for: 3600 };
      const t0 = await tokensFor(svc, client, { browser, login });
      const cookie = browser.cookies.get('registrar_session');
      if (options.remember !== false) expect(cookie).toBeTruthy();
      return { client, subject, browser, idToken: t0.id_token!, cookie: cookie ?? '' };
    }

    /** The operator's switch (admin-only metadata): log out at once when the hint names the browser's session. */
    async function skipLogoutConsent(client: Client): Promise<void> {
      const res = await svc.admin(`/admin/clients/${encodeURIComponent(client.id)}`, {
        method: 'PATCH',
        json: [{ op: 'add', path: '/skip_logout_consent', value: true }],
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Record<string, unknown>).skip_logout_consent).toBe(true);
    }

    function logoutUrl(params: Record<string, string>): URL {
      const url = new URL('/oauth2/sessions/logout', svc.url);
      url.search = new URLSearchParams(params).toString();
      return url;
    }

    /** The confirmation page's hidden fields, unescaped, as the browser would post them. */
    async function confirmationForm(res: Response): Promise<Record<string, string>> {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await res.text();
      expect(html).toMatch(/<form[^>]*method="post"[^>]*action="\/oauth2\/sessions\/logout"/);
      const fields: Record<string, string> = {};
      for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
        fields[name] = value.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
      }
      expect(fields.confirm).toBe('yes');
      return fields;
    }

    function postLogout(browser: Browser, fields: Record<string, string>): Promise<Response> {
      return browser.request(`${svc.url}/oauth2/sessions/logout`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
    }

    async function expectSignedOutPage(res: Response): Promise<void> {
      expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 200, location: null });
      expect(await res.text()).toContain('You are signed out');
    }

    it('with an id_token_hint naming this browser\'s session: the user confirms, then 302 to the registered post_logout_redirect_uri with state, cookie cleared, session over', async () => {
      const { client, subject, browser, idToken, cookie } = await loggedIn();
      expect(await loginSkip(svc, browser, client)).toEqual({ skip: true, subject });

      const page = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT, state: 'bye-1' }));
      const form = await confirmationForm(page);
      expect(sessionCookieCleared(page)).toBe(false);
      expect(await loginSkip(svc, browser, client)).toEqual({ skip: true, subject });

      const res = await postLogout(browser, form);
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location')!);
      expect(location.origin + location.pathname).toBe(POST_LOGOUT);
      expect(location.searchParams.get('state')).toBe('bye-1');
      expect(sessionCookieCleared(res)).toBe(true);
      expect(browser.cookies.has('registrar_session')).toBe(false);

      expect((await loginSkip(svc, browser, client)).skip).toBe(false);
      // Ended on the server too: the old cookie, sent again, is worth nothing.
      const replay = new Browser();
      replay.cookies.set('registrar_session', cookie);
      expect((await loginSkip(svc, replay, client)).skip).toBe(false);
    });

    it('skip_logout_consent ends the session the hint names at once and redirects; without it the same request asks first', async () => {
      const asks = await loggedIn();
      const params = { id_token_hint: asks.idToken, post_logout_redirect_uri: POST_LOGOUT, state: 'bye-2' };
      await confirmationForm(await asks.browser.get(logoutUrl(params)));
      expect(await loginSkip(svc, asks.browser, asks.client)).toEqual({ skip: true, subject: asks.subject });

      const { client, browser, idToken } = await loggedIn();
      await skipLogoutConsent(client);
      const res = await browser.get(logoutUrl({ ...params, id_token_hint: idToken }));
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location')!);
      expect(location.origin + location.pathname).toBe(POST_LOGOUT);
      expect(location.searchParams.get('state')).toBe('bye-2');
      expect(sessionCookieCleared(res)).toBe(true);
      expect((await loginSkip(svc, browser, client)).skip).toBe(false);
    });

    it('an ID token without sid names the session of its subject (a later remembered login in the same browser)', async () => {
      const client = await webClient(svc, { post_logout_redirect_uris: [POST_LOGOUT] });
      await skipLogoutConsent(client);
      const subject = newSubject();
      const browser = new Browser();
      const first = await loggedIn({ client, browser, subject, remember: false });
      expect(decodeJwt(first.idToken).sid).toBeUndefined();
      const other = await loggedIn({ client, subject: newSubject(), remember: false });
      await loggedIn({ client, browser, subject });
      // Another subject's token does not name this session.
      await confirmationForm(await browser.get(logoutUrl({ id_token_hint: other.idToken, post_logout_redirect_uri: POST_LOGOUT })));
      const res = await browser.get(logoutUrl({ id_token_hint: first.idToken, post_logout_redirect_uri: POST_LOGOUT }));
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(POST_LOGOUT);
      expect((await loginSkip(svc, browser, client)).skip).toBe(false);
    });

    it('an ID token without sid of a pairwise client names the session of its subject too', async () => {
      const client = await webClient(svc, { post_logout_redirect_uris: [POST_LOGOUT], subject_type: 'pairwise' });
      await skipLogoutConsent(client);
      const subject = newSubject();
      const browser = new Browser();
      const first = await loggedIn({ client, browser, subject, remember: false });
      const hint = decodeJwt(first.idToken);
      expect(hint.sid).toBeUndefined();
      expect(hint.sub).not.toBe(subject);
      await loggedIn({ client, browser, subject });
      const res = await browser.get(logoutUrl({ id_token_hint: first.idToken, post_logout_redirect_uri: POST_LOGOUT }));
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe(POST_LOGOUT);
      expect((await loginSkip(svc, browser, client)).skip).toBe(false);
    });

    it('an id_token_hint for another session neither ends the browser\'s session nor earns the client\'s redirect, even with skip_logout_consent', async () => {
      // The attacker's own ID token, for the same client, from the attacker's own login.
      const victim = await loggedIn();
      await skipLogoutConsent(victim.client);
      const attacker = await loggedIn({ client: victim.client });
      const params = { id_token_hint: attacker.idToken, post_logout_redirect_uri: POST_LOGOUT, state: 'csrf' };
      const page = await victim.browser.get(logoutUrl(params));
      const form = await confirmationForm(page);
      expect(sessionCookieCleared(page)).toBe(false);
      expect(await loginSkip(svc, victim.browser, victim.client)).toEqual({ skip: true, subject: victim.subject });
      expect(await loginSkip(svc, attacker.browser, victim.client)).toEqual({ skip: true, subject: attacker.subject });

      // The same subject in another browser: the hint's sid names the other session, not this one.
      const elsewhere = await loggedIn({ client: victim.client, subject: victim.subject });
      await confirmationForm(await victim.browser.get(logoutUrl({ ...params, id_token_hint: elsewhere.idToken })));
      expect(await loginSkip(svc, victim.browser, victim.client)).toEqual({ skip: true, subject: victim.subject });

      // The user who confirms ends their own session and stays with the server.
      const confirmed = await postLogout(victim.browser, form);
      await expectSignedOutPage(confirmed);
      expect(sessionCookieCleared(confirmed)).toBe(true);
      expect((await loginSkip(svc, victim.browser, victim.client)).skip).toBe(false);
      // The hint's own session lives on.
      expect(await loginSkip(svc, attacker.browser, victim.client)).toEqual({ skip: true, subject: attacker.subject });
    });

    it('without a login session, a valid id_token_hint does not earn the client\'s redirect', async () => {
      const { client, idToken } = await loggedIn();
      await skipLogoutConsent(client);
      const res = await new Browser().get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT, state: 's' }));
      await expectSignedOutPage(res);
    });

    it('refuses a post_logout_redirect_uri the client did not register with 400 JSON, and the session lives on', async () => {
      const { client, subject, browser, idToken } = await loggedIn();
      const res = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: 'https://evil.example/bye', state: 's' }));
      await expectOAuthError(res, 400, 'invalid_request', 'post_logout_redirect_uri');
      expect(res.headers.get('location')).toBeNull();
      expect(await loginSkip(svc, browser, client)).toEqual({ skip: true, subject });
    });

    it('refuses a garbage id_token_hint, or a token that is not an ID token, with 400', async () => {
      const { client, browser } = await loggedIn();
      await expectOAuthError(await browser.get(logoutUrl({ id_token_hint: 'not-a-jwt' })), 400, 'invalid_request', 'id_token_hint');
      const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x","aud":"y"}').toString('base64url')}.`;
      await expectOAuthError(await browser.get(logoutUrl({ id_token_hint: forged })), 400, 'invalid_request');
      // An RFC 9068 access token is signed by the same key but is no ID token.
      await setStrategy(svc, client.id, 'jwt');
      const jwtAccess = await tokensFor(svc, client, { scope: 'openid' });
      expect(isJwt(jwtAccess.access_token)).toBe(true);
      await expectOAuthError(await browser.get(logoutUrl({ id_token_hint: jwtAccess.access_token })), 400, 'invalid_request');
      expect((await loginSkip(svc, browser, client)).skip).toBe(true);
    });

    it('without a hint asks first (200 HTML with a form); posting the form ends the session', async () => {
      const { client, subject, browser } = await loggedIn();
      const page = await browser.get(logoutUrl({ state: 'x', client_id: client.id, post_logout_redirect_uri: POST_LOGOUT }));
      const form = await confirmationForm(page);
      expect(sessionCookieCleared(page)).toBe(false);
      // Nothing has ended yet.
      expect(await loginSkip(svc, browser, client)).toEqual({ skip: true, subject });

      const confirmed = await postLogout(browser, form);
      // No hint named the session: the user stays with the server.
      await expectSignedOutPage(confirmed);
      expect(sessionCookieCleared(confirmed)).toBe(true);
      expect((await loginSkip(svc, browser, client)).skip).toBe(false);
    });

    it('ends no session on a posted confirmation without the form\'s token (CSRF), or with another session\'s', async () => {
      const { client, subject, browser } = await loggedIn();
      const forged = await postLogout(browser, { confirm: 'yes' });
      await confirmationForm(forged);
      expect(sessionCookieCleared(forged)).toBe(false);
      const other = await loggedIn({ client });
      const otherForm = await confirmationForm(await other.browser.get(logoutUrl({})));
      const replayed = await postLogout(browser, otherForm);
      await confirmationForm(replayed);
      expect(sessionCookieCleared(replayed)).toBe(false);
      expect(await loginSkip(svc, browser, client)).toEqual({ skip: true, subject });
      // A GET cannot confirm either.
      await confirmationForm(await browser.get(logoutUrl({ confirm: 'yes', csrf: otherForm.csrf })));
      expect(await loginSkip(svc, browser, client)).toEqual({ skip: true, subject });
    });
  });

  it('discovery advertises the authorization code flow', async () => {
    const res = await fetch(`${svc.url}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: svc.url,
      authorization_endpoint: `${svc.url}/oauth2/auth`,
      userinfo_endpoint: `${svc.url}/userinfo`,
      end_session_endpoint: `${svc.url}/oauth2/sessions/logout`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
    });
    expect(doc.subject_types_supported).toEqual(expect.arrayContaining(['public']));
    expect(doc.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['RS256']));
    expect(doc.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']));
    expect(doc.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_basic']));
  });
});

// README, Access tokens and the strategy, on this flow: DCR key / global key -> the DCR client's access tokens, also after refresh.

describe.each(STRATEGY_MATRIX)(
  'authorization code flow with the DCR strategy $dcrLabel and the global strategy $global',
  ({ dcr, global, dcrClientGets: expected }) => {
    let svc: RunningApp;

    beforeAll(async () => {
      svc = await startApp({
        env: { ...FLOW_ENV, ...strategyEnv(dcr, global) },
      });
    });
    afterAll(async () => {
      await svc?.close();
    });

    it(`a DCR client gets ${expected} access tokens from the code and from every refresh`, async () => {
      const client = await nativeClient(svc);
      // Registration stored the DCR key (or nothing), which then decides every token's format.
      const stored = await svc.admin(`/admin/clients/${encodeURIComponent(client.id)}`);
      expect(((await stored.json()) as Record<string, unknown>).access_token_strategy).toBe(dcr ?? '');
      const subject = newSubject();
      const t0 = await tokensFor(svc, client, { login: { subject } });
      await expectAccessToken(svc, expected, t0.access_token, client.id, subject, 'openid offline_access');
      // Refresh tokens are opaque whatever the access token format.
      expect(isJwt(t0.refresh_token!)).toBe(false);
      const r1 = ok(await refresh(svc, client, t0.refresh_token!));
      await expectAccessToken(svc, expected, r1.access_token, client.id, subject, 'openid offline_access');
      const r2 = ok(await refresh(svc, client, r1.refresh_token!, { scope: 'openid' }));
      await expectAccessToken(svc, expected, r2.access_token, client.id, subject, 'openid');
      const info = await userinfo(svc, r2.access_token);
      expect(info.status).toBe(200);
      expect(await info.json()).toEqual({ sub: subject });
    });
  },
);

describe('lifetimes: ttl.auth_code and the grant behind the tokens', () => {
  // Short lifetimes: a code lives 4 s, access and refresh tokens 5 s.
  let svc: RunningApp;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    svc = await startApp({ env: { ...FLOW_ENV, TTL_AUTH_CODE: '4s', TTL_ACCESS_TOKEN: '5s', TTL_REFRESH_TOKEN: '5s' } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('an expired code is invalid_grant', async () => {
    const client = await webClient(svc);
    const fresh = await authorize(svc, client);
    ok(await exchange(svc, client, fresh));

    const authorized = await authorize(svc, client);
    await sleep(4500);
    expectTokenError(await exchange(svc, client, authorized), 400, 'invalid_grant', 'expired');
  });

  it('the janitor keeps a grant while tokens issued from it are valid: introspection, userinfo, refresh and consent revocation agree', async () => {
    // One client per format, on the same timeline.
    const setups = await Promise.all(
      FORMATS.map(async (format) => {
        const client = await webClient(svc, {}, format);
        const subject = newSubject();
        const authorized = await authorize(svc, client, { login: { subject }, consent: { session: { id_token: { team: 'x' } } } });
        return { format, client, subject, authorized };
      }),
    );
    // Every consent (and code) is at most this old; the grant was recorded then.
    const consented = Date.now();
    // Redeemed late in the codes' life (4 s): the tokens then live 5 s more, well past 5 s after the consent.
    await sleep(2500);
    const issued = await Promise.all(setups.map(async (s) => ({ ...s, tokens: ok(await exchange(svc, s.client, s.authorized)) })));
    await sleep(Math.max(0, 5300 - (Date.now() - consented)));
    let counts: Record<string, number> | undefined;
    for (let i = 0; i < 40 && !counts; i += 1) {
      counts = await svc.app.get(JanitorService).runOnce();
      if (!counts) await sleep(50);
    }
    expect(counts).toBeDefined();

    const observed = [];
    const expected = [];
    for (const { format, client, subject, tokens } of issued) {
      expect(formatOf(tokens.access_token)).toBe(format);
      const access = await introspect(svc, tokens.access_token);
      // Still unexpired, with room to spare: the janitor had no business touching what it hangs on.
      expect({ format, active: access.active, left: (access.exp as number) * 1000 - Date.now() > 300 }).toEqual({ format, active: true, left: true });
      const info = await userinfo(svc, tokens.access_token);
      const refreshed = await refresh(svc, client, tokens.refresh_token!);
      const res = await svc.admin(`/admin/oauth2/auth/sessions/consent?subject=${encodeURIComponent(subject)}&client=${encodeURIComponent(client.id)}`, {
        method: 'DELETE',
      });
      expect(res.status).toBe(204);
      observed.push({
        format,
        userinfo: { status: info.status, body: await info.json() },
        refresh: refreshed.status,
        activeAfterConsentRevoked: await activeStates(svc, [tokens.access_token]),
      });
      expected.push({ format, userinfo: { status: 200, body: { sub: subject, team: 'x' } }, refresh: 200, activeAfterConsentRevoked: [false] });
    }
    expect(observed).toEqual(expected);
  });
});

describe('with the authorization code flow turned off (OAUTH2_AUTHORIZATION_CODE_ENABLED=false)', () => {
  let svc: RunningApp;

  beforeAll(async () => {
    svc = await startApp({ env: { ...FLOW_ENV, OAUTH2_AUTHORIZATION_CODE_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('discovery advertises none of it', async () => {
    const doc = (await (await fetch(`${svc.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    for (const name of ['authorization_endpoint', 'userinfo_endpoint', 'end_session_endpoint', 'code_challenge_methods_supported', 'id_token_signing_alg_values_supported']) {
      expect(doc).not.toHaveProperty(name);
    }
    expect(doc.response_types_supported ?? []).not.toContain('code');
    expect(doc.grant_types_supported).toContain('client_credentials');
    expect(doc.grant_types_supported).not.toEqual(expect.arrayContaining(['authorization_code']));
    expect(doc.grant_types_supported).not.toEqual(expect.arrayContaining(['refresh_token']));
    expect(doc.token_endpoint).toBe(`${svc.url}/oauth2/token`);
  });

  it('/oauth2/auth, /userinfo and logout answer 404; the code and refresh grants are unsupported_grant_type', async () => {
    const body = await registerClient(svc, machineClient());
    const machine = { id: body.client_id as string, secret: body.client_secret as string };
    const auth = await fetch(`${svc.url}/oauth2/auth?client_id=${encodeURIComponent(machine.id)}&response_type=code`, { redirect: 'manual' });
    expect(auth.status).toBe(404);
    expect(auth.headers.get('location')).toBeNull();
    expect((await fetch(`${svc.url}/userinfo`)).status).toBe(404);
    expect((await fetch(`${svc.url}/oauth2/sessions/logout`, { redirect: 'manual' })).status).toBe(404);

    expectTokenError(await tokenRequest(svc, { grant_type: 'authorization_code', code: 'x' }, machine), 400, 'unsupported_grant_type');
    expectTokenError(await tokenRequest(svc, { grant_type: 'refresh_token', refresh_token: 'x' }, machine), 400, 'unsupported_grant_type');
    // client_credentials still works.
    ok(await tokenRequest(svc, { grant_type: 'client_credentials' }, machine));
  });
});
