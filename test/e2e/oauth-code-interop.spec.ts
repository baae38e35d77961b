// Interoperability of the authorization code flow (README, Signing users in): an unchanged
// relying party (openid-client v6) and an unchanged login and consent app
// (written against @ory/hydra-client's OAuth2Api) complete the flow against
// Registrar. openid-client checks the authorization response (state, iss per
// RFC 9207), PKCE, the ID token (iss, aud, exp, iat, nonce), userinfo and
// refresh; the login app sees Hydra's request shapes and answers with them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Configuration, OAuth2Api } from '@ory/hydra-client';
import * as client from 'openid-client';
import { nativeAppClient } from '../factories/clients.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { registerClient } from '../support/dcr.js';
import { Browser } from '../support/oauth-flow.js';

const LOGIN_URL = 'https://login.example.com/login';
const CONSENT_URL = 'https://login.example.com/consent';
/** The native app listens on a loopback port of its choosing (RFC 8252 §7.3); it registered the URI without one. */
const NATIVE_REDIRECT = 'http://127.0.0.1:49152/cb';
const WEB_REDIRECT = 'https://app.example.com/callback';

let svc: RunningApp;
let hydra: OAuth2Api;

beforeAll(async () => {
  svc = await startApp({ env: { URLS_LOGIN: LOGIN_URL, URLS_CONSENT: CONSENT_URL } });
  hydra = new OAuth2Api(new Configuration({ basePath: svc.url, baseOptions: { headers: { Authorization: `Bearer ${ADMIN_KEY}` } } }));
});
afterAll(async () => {
  await svc?.close();
});

function discover(clientId: string, auth: client.ClientAuth, secret?: string): Promise<client.Configuration> {
  return client.discovery(new URL(svc.url), clientId, secret, auth, { execute: [client.allowInsecureRequests] });
}

async function nativeClient(): Promise<string> {
  const body = await registerClient(svc, nativeAppClient({ client_name: 'Interop CLI', redirect_uris: ['http://127.0.0.1/cb'] }));
  expect(body.client_secret).toBeUndefined();
  return body.client_id as string;
}

interface LoginAnswer {
  subject: string;
  remember?: boolean;
  acr?: string;
  amr?: string[];
}

interface ConsentAnswer {
  remember?: boolean;
  idTokenClaims?: Record<string, unknown>;
  accessTokenClaims?: Record<string, unknown>;
}

interface Screens {
  login: Awaited<ReturnType<OAuth2Api['getOAuth2LoginRequest']>>['data'];
  consent: Awaited<ReturnType<OAuth2Api['getOAuth2ConsentRequest']>>['data'];
}

function challengeFrom(location: URL, expectedApp: string, name: 'login_challenge' | 'consent_challenge'): string {
  expect(`${location.origin}${location.pathname}`).toBe(expectedApp);
  const challenge = location.searchParams.get(name);
  if (!challenge) throw new Error(`expected ${name} in ${location.toString()}`);
  return challenge;
}

/**
 * The browser goes to the authorization URL; the login and consent app, using
 * only @ory/hydra-client, reads each request and accepts it (a remembered
 * login or consent, skip: true, is accepted at once with what it remembers, as
 * Hydra's reference app does). Returns the URL the browser ends on: the
 * client's redirect URI with the response.
 */
async function driveFlow(browser: Browser, authorizationUrl: URL, login: LoginAnswer, consent: ConsentAnswer = {}): Promise<{ callback: URL; screens: Screens }> {
  const toLogin = await browser.follow(authorizationUrl);
  const loginChallenge = challengeFrom(toLogin, LOGIN_URL, 'login_challenge');
  const { data: loginRequest } = await hydra.getOAuth2LoginRequest({ loginChallenge });
  const { data: loginDone } = await hydra.acceptOAuth2LoginRequest({
    loginChallenge,
    acceptOAuth2LoginRequest: loginRequest.skip
      ? { subject: loginRequest.subject }
      : { subject: login.subject, remember: login.remember ?? false, remember_for: 3600, acr: login.acr, amr: login.amr },
  });

  const toConsent = await browser.follow(loginDone.redirect_to);
  const consentChallenge = challengeFrom(toConsent, CONSENT_URL, 'consent_challenge');
  const { data: consentRequest } = await hydra.getOAuth2ConsentRequest({ consentChallenge });
  const { data: consentDone } = await hydra.acceptOAuth2ConsentRequest({
    consentChallenge,
    acceptOAuth2ConsentRequest: {
      grant_scope: consentRequest.requested_scope,
      grant_access_token_audience: consentRequest.requested_access_token_audience,
      ...(consentRequest.skip ? {} : { remember: consent.remember ?? false, remember_for: 3600 }),
      session: { id_token: consent.idTokenClaims ?? {}, access_token: consent.accessTokenClaims ?? {} },
    },
  });

  const callback = await browser.follow(consentDone.redirect_to);
  return { callback, screens: { login: loginRequest, consent: consentRequest } };
}

interface Authorization {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

async function authorizationUrl(config: client.Configuration, redirectUri: string, scope: string, extra: Record<string, string> = {}): Promise<Authorization> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

function settle<T>(promise: Promise<T>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
}

describe('discovery as openid-client sees it', () => {
  it('has everything the authorization code flow needs: endpoints, code + S256, RS256 ID tokens, iss in responses, none and client_secret_basic', async () => {
    const config = await discover(await nativeClient(), client.None());
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(svc.url);
    expect(meta.authorization_endpoint).toBe(`${svc.url}/oauth2/auth`);
    expect(meta.token_endpoint).toBe(`${svc.url}/oauth2/token`);
    expect(meta.userinfo_endpoint).toBe(`${svc.url}/userinfo`);
    expect(meta.end_session_endpoint).toBe(`${svc.url}/oauth2/sessions/logout`);
    expect(meta.jwks_uri).toBe(`${svc.url}/.well-known/jwks.json`);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.supportsPKCE()).toBe(true);
    expect(meta.supportsPKCE('plain')).toBe(false);
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(meta.subject_types_supported).toContain('public');
    // The configured algorithm first; clients may register the others as id_token_signed_response_alg.
    expect(meta.id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256', 'EdDSA']);
    expect(meta.authorization_response_iss_parameter_supported).toBe(true);
    expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_basic']));
    expect(meta.scopes_supported === undefined || meta.scopes_supported.includes('openid')).toBe(true);
  });
});

describe('openid-client v6 + @ory/hydra-client login/consent app, public native client (PKCE, loopback port)', () => {
  it('completes the flow: code grant with state, nonce, PKCE and iss checked; ID token claims; userinfo; refresh', async () => {
    const clientId = await nativeClient();
    const config = await discover(clientId, client.None());
    const auth = await authorizationUrl(config, NATIVE_REDIRECT, 'openid offline_access');
    expect(auth.url.origin + auth.url.pathname).toBe(`${svc.url}/oauth2/auth`);
    expect(auth.url.searchParams.get('client_id')).toBe(clientId);
    expect(auth.url.searchParams.get('response_type')).toBe('code');

    const browser = new Browser();
    const { callback, screens } = await driveFlow(
      browser,
      auth.url,
      { subject: 'user-4711', acr: 'urn:example:mfa', amr: ['pwd', 'otp'] },
      { idTokenClaims: { email: 'user4711@example.com', email_verified: true } },
    );

    // What the login app saw, in Hydra's shape.
    expect(screens.login.skip).toBe(false);
    expect(screens.login.subject).toBe('');
    expect(screens.login.client.client_id).toBe(clientId);
    expect(screens.login.client.client_name).toBe('Interop CLI');
    expect(screens.login.requested_scope).toEqual(['openid', 'offline_access']);
    expect(screens.login.request_url).toBe(auth.url.toString());
    expect(screens.consent.skip).toBe(false);
    expect(screens.consent.subject).toBe('user-4711');
    expect(screens.consent.acr).toBe('urn:example:mfa');
    expect(screens.consent.amr).toEqual(['pwd', 'otp']);

    expect(callback.origin + callback.pathname).toBe(NATIVE_REDIRECT);
    expect(callback.searchParams.get('state')).toBe(auth.state);
    expect(callback.searchParams.get('iss')).toBe(svc.url);

    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.scope).toBe('openid offline_access');
    expect(tokens.expiresIn()).toBeGreaterThan(0);
    expect(typeof tokens.refresh_token).toBe('string');

    const claims = tokens.claims()!;
    const now = Math.floor(Date.now() / 1000);
    expect(claims).toMatchObject({
      iss: svc.url,
      sub: 'user-4711',
      nonce: auth.nonce,
      acr: 'urn:example:mfa',
      amr: ['pwd', 'otp'],
      email: 'user4711@example.com',
      email_verified: true,
    });
    expect([claims.aud].flat()).toEqual([clientId]);
    expect(claims.exp).toBeGreaterThan(now);
    expect(claims.iat).toBeLessThanOrEqual(now + 5);
    expect(typeof claims.auth_time).toBe('number');
    expect(Math.abs(claims.auth_time! - now)).toBeLessThan(60);
    expect(typeof claims.at_hash).toBe('string');

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).toEqual({ sub: 'user-4711', email: 'user4711@example.com', email_verified: true });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(typeof refreshed.refresh_token).toBe('string');
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    const refreshedClaims = refreshed.claims()!;
    // OIDC Core §12.2: the refreshed ID token keeps iss, sub, aud and auth_time.
    expect(refreshedClaims).toMatchObject({ iss: svc.url, sub: 'user-4711', auth_time: claims.auth_time });
    expect([refreshedClaims.aud].flat()).toEqual([clientId]);
    expect(await client.fetchUserInfo(config, refreshed.access_token, 'user-4711')).toMatchObject({ sub: 'user-4711' });

    // Rotation: the spent refresh token is refused, and its reuse revokes the family (RFC 9700 §4.14).
    const reuse = await settle(client.refreshTokenGrant(config, tokens.refresh_token!));
    expect(reuse).toBeInstanceOf(client.ResponseBodyError);
    expect(reuse).toMatchObject({ error: 'invalid_grant', status: 400 });
    const after = await settle(client.refreshTokenGrant(config, refreshed.refresh_token!));
    expect(after).toMatchObject({ error: 'invalid_grant' });
    const revokedUserinfo = await settle(client.fetchUserInfo(config, refreshed.access_token, 'user-4711'));
    expect(revokedUserinfo).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    expect(revokedUserinfo).toMatchObject({ status: 401 });
  });

  it('openid-client refuses a callback whose iss was tampered with or removed (RFC 9207), before redeeming the code; the genuine one then succeeds', async () => {
    const clientId = await nativeClient();
    const config = await discover(clientId, client.None());
    const auth = await authorizationUrl(config, NATIVE_REDIRECT, 'openid');
    const { callback } = await driveFlow(new Browser(), auth.url, { subject: 'mallory-target' });
    const checks = { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce };

    const tampered = new URL(callback);
    tampered.searchParams.set('iss', 'https://attacker.example.com');
    const wrongIss = await settle(client.authorizationCodeGrant(config, tampered, checks));
    expect(wrongIss).toBeInstanceOf(client.ClientError);
    expect(wrongIss).toMatchObject({ code: 'OAUTH_INVALID_RESPONSE', cause: { message: expect.stringContaining('"iss"') } });

    const stripped = new URL(callback);
    stripped.searchParams.delete('iss');
    const missingIss = await settle(client.authorizationCodeGrant(config, stripped, checks));
    expect(missingIss).toMatchObject({ code: 'OAUTH_INVALID_RESPONSE', cause: { message: expect.stringContaining('"iss"') } });

    const wrongState = await settle(client.authorizationCodeGrant(config, callback, { ...checks, expectedState: client.randomState() }));
    expect(wrongState).toMatchObject({ code: 'OAUTH_INVALID_RESPONSE', cause: { message: expect.stringContaining('"state"') } });

    // None of these reached the token endpoint: the code is still good.
    const tokens = await client.authorizationCodeGrant(config, callback, checks);
    expect(tokens.claims()!.sub).toBe('mallory-target');
    expect(tokens.refresh_token).toBeUndefined();

    // A second redemption of the same code is refused by the server.
    const replay = await settle(client.authorizationCodeGrant(config, callback, checks));
    expect(replay).toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('openid-client detects a wrong PKCE verifier and a wrong nonce', async () => {
    const clientId = await nativeClient();
    const config = await discover(clientId, client.None());

    const first = await authorizationUrl(config, NATIVE_REDIRECT, 'openid');
    const flow1 = await driveFlow(new Browser(), first.url, { subject: 'pkce-user' });
    const badVerifier = await settle(
      client.authorizationCodeGrant(config, flow1.callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: first.state, expectedNonce: first.nonce }),
    );
    expect(badVerifier).toMatchObject({ error: 'invalid_grant', status: 400 });

    const second = await authorizationUrl(config, NATIVE_REDIRECT, 'openid');
    const flow2 = await driveFlow(new Browser(), second.url, { subject: 'nonce-user' });
    const badNonce = await settle(
      client.authorizationCodeGrant(config, flow2.callback, { pkceCodeVerifier: second.verifier, expectedState: second.state, expectedNonce: client.randomNonce() }),
    );
    expect(badNonce).toMatchObject({ code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', cause: { message: expect.stringContaining('"nonce"') } });
  });

  it('a remembered login and consent come back to the Hydra-style app with skip: true and the remembered subject', async () => {
    const clientId = await nativeClient();
    const config = await discover(clientId, client.None());
    const browser = new Browser();

    const first = await authorizationUrl(config, NATIVE_REDIRECT, 'openid offline_access');
    const run1 = await driveFlow(browser, first.url, { subject: 'remembered-user', remember: true }, { remember: true });
    expect(run1.screens.login.skip).toBe(false);
    const tokens1 = await client.authorizationCodeGrant(config, run1.callback, {
      pkceCodeVerifier: first.verifier,
      expectedState: first.state,
      expectedNonce: first.nonce,
    });

    const second = await authorizationUrl(config, NATIVE_REDIRECT, 'openid');
    const run2 = await driveFlow(browser, second.url, { subject: 'someone-else' });
    expect(run2.screens.login).toMatchObject({ skip: true, subject: 'remembered-user' });
    expect(run2.screens.consent).toMatchObject({ skip: true, subject: 'remembered-user' });
    const tokens2 = await client.authorizationCodeGrant(config, run2.callback, {
      pkceCodeVerifier: second.verifier,
      expectedState: second.state,
      expectedNonce: second.nonce,
    });
    expect(tokens2.claims()).toMatchObject({ sub: 'remembered-user', nonce: second.nonce, auth_time: tokens1.claims()!.auth_time });
  });

  it('a login rejected by the Hydra-style app reaches openid-client as an AuthorizationResponseError with iss', async () => {
    const clientId = await nativeClient();
    const config = await discover(clientId, client.None());
    const auth = await authorizationUrl(config, NATIVE_REDIRECT, 'openid');
    const browser = new Browser();
    const toLogin = await browser.follow(auth.url);
    const loginChallenge = challengeFrom(toLogin, LOGIN_URL, 'login_challenge');
    const { data } = await hydra.rejectOAuth2LoginRequest({
      loginChallenge,
      rejectOAuth2Request: { error: 'access_denied', error_description: 'The user said no' },
    });
    const callback = await browser.follow(data.redirect_to);
    expect(callback.searchParams.get('iss')).toBe(svc.url);
    const err = await settle(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce }),
    );
    expect(err).toBeInstanceOf(client.AuthorizationResponseError);
    expect(err).toMatchObject({ error: 'access_denied', error_description: 'The user said no' });
  });

  it('prompt=none without a session comes back as login_required, which openid-client reports', async () => {
    const clientId = await nativeClient();
    const config = await discover(clientId, client.None());
    const auth = await authorizationUrl(config, NATIVE_REDIRECT, 'openid', { prompt: 'none' });
    const callback = await new Browser().follow(auth.url);
    expect(callback.origin + callback.pathname).toBe(NATIVE_REDIRECT);
    const err = await settle(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce }),
    );
    expect(err).toBeInstanceOf(client.AuthorizationResponseError);
    expect(err).toMatchObject({ error: 'login_required' });
  });
});

describe('openid-client v6, confidential web client with client_secret_basic', () => {
  it('completes the flow authenticating with ClientSecretBasic; a wrong secret is refused', async () => {
    const registered = await registerClient(svc, {
      client_name: 'Interop Web App',
      redirect_uris: [WEB_REDIRECT],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid offline_access',
    });
    const clientId = registered.client_id as string;
    const secret = registered.client_secret as string;
    expect(typeof secret).toBe('string');
    const config = await discover(clientId, client.ClientSecretBasic(secret), secret);

    const auth = await authorizationUrl(config, WEB_REDIRECT, 'openid offline_access');
    const { callback } = await driveFlow(new Browser(), auth.url, { subject: 'web-user' }, { idTokenClaims: { name: 'Web User' } });
    expect(callback.origin + callback.pathname).toBe(WEB_REDIRECT);

    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: auth.verifier,
      expectedState: auth.state,
      expectedNonce: auth.nonce,
    });
    expect(tokens.claims()).toMatchObject({ iss: svc.url, sub: 'web-user', nonce: auth.nonce, name: 'Web User' });
    expect([tokens.claims()!.aud].flat()).toEqual([clientId]);
    expect(await client.fetchUserInfo(config, tokens.access_token, 'web-user')).toEqual({ sub: 'web-user', name: 'Web User' });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()!.sub).toBe('web-user');

    // The same refresh with a wrong secret: Basic authentication fails (401 with a Basic challenge).
    const wrong = await discover(clientId, client.ClientSecretBasic('not-the-secret'), 'not-the-secret');
    const err = await settle(client.refreshTokenGrant(wrong, refreshed.refresh_token!));
    expect(err).toMatchObject({ status: 401 });
    const body = err instanceof client.WWWAuthenticateChallengeError ? await err.response.json() : (err as { error?: string });
    expect(body).toMatchObject({ error: 'invalid_client' });
  });
});
