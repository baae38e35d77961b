// Client metadata that changes the tokens a client receives, over real HTTP:
// Hydra's per-client token lifespans, OIDC Core §8 pairwise subject
// identifiers, and OIDC Registration §2 id_token_signed_response_alg /
// userinfo_signed_response_alg. A field the server stores changes what it
// does, or is refused with invalid_client_metadata naming it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { expectOAuthError } from '../support/expect.js';
import { sendJson, startHttpsServer, type TestHttpsServer } from '../support/https-server.js';
import { adminIntrospect, Browser, runFlow, tokenRequest } from '../support/oauth-flow.js';
import { query } from '../support/postgres.js';
import { createAdminClient, mintIat } from '../support/dcr.js';

const FLOW_ENV = { URLS_LOGIN: 'https://login.example.com/login', URLS_CONSENT: 'https://login.example.com/consent' };
const REDIRECT = 'https://app.example.com/callback';
const POST_LOGOUT = 'https://app.example.com/logged-out';
const UNSERVED = [
  'device_authorization_grant_access_token_lifespan',
  'device_authorization_grant_id_token_lifespan',
  'device_authorization_grant_refresh_token_lifespan',
  'implicit_grant_access_token_lifespan',
  'implicit_grant_id_token_lifespan',
];

let svc: RunningApp;
let remote: TestHttpsServer;

beforeAll(async () => {
  remote = await startHttpsServer();
  remote.route('/sector.json', (_req, res) => sendJson(res, [REDIRECT, 'https://other.example.com/callback', 'https://third.example.com/cb']));
  svc = await startApp({ env: { ...FLOW_ENV, FETCH_CA_FILE: remote.caFile, FETCH_ALLOW_PRIVATE_NETWORKS: 'true' } });
});
afterAll(async () => {
  await svc?.close();
  await remote?.close();
});

interface Client {
  id: string;
  secret: string;
}

async function createClient(body: Record<string, unknown>): Promise<Client> {
  const created = await createAdminClient(svc, body);
  return { id: created.client_id, secret: created.client_secret };
}

/** An admin-created confidential web client of the authorization code flow. */
function codeClient(overrides: Record<string, unknown> = {}): Promise<Client> {
  return createClient({
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: [POST_LOGOUT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid offline_access',
    ...overrides,
  });
}

type Tokens = { access_token: string; expires_in: number; refresh_token?: string; id_token?: string };

/** The flow through login and consent, then the code exchange. */
async function tokensFor(client: Client, subject: string, options: { browser?: Browser; redirectUri?: string; remember?: boolean } = {}): Promise<Tokens> {
  const redirectUri = options.redirectUri ?? REDIRECT;
  const flow = await runFlow(
    svc,
    options.browser ?? new Browser(),
    { client_id: client.id, response_type: 'code', redirect_uri: redirectUri, scope: 'openid offline_access', state: 'state-1' },
    { login: { subject, remember: options.remember ?? false } },
  );
  const res = await tokenRequest(svc, { grant_type: 'authorization_code', code: flow.code, redirect_uri: redirectUri }, { id: client.id, secret: client.secret });
  expect(res.status).toBe(200);
  return res.body as unknown as Tokens;
}

async function refreshed(client: Client, refreshToken: string): Promise<Tokens> {
  const res = await tokenRequest(svc, { grant_type: 'refresh_token', refresh_token: refreshToken }, { id: client.id, secret: client.secret });
  expect(res.status).toBe(200);
  return res.body as unknown as Tokens;
}

/** Seconds a token lives, as introspection reports it (both formats, refresh tokens included). */
async function introspectedLifetime(token: string): Promise<number> {
  const info = await adminIntrospect(svc, token);
  expect(info.active).toBe(true);
  return (info.exp as number) - (info.iat as number);
}

function jwtLifetime(token: string): number {
  const { exp, iat } = decodeJwt(token);
  return exp! - iat!;
}

function userinfo(token: string): Promise<Response> {
  return fetch(`${svc.url}/userinfo`, { headers: { Authorization: `Bearer ${token}` } });
}

async function verify(token: string, clientId?: string) {
  return jwtVerify(token, createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`)), { issuer: svc.url, ...(clientId ? { audience: clientId } : {}) });
}

function newSubject(): string {
  return `user-${randomBytes(4).toString('hex')}`;
}

// --- Hydra's per-client token lifespans ---------------------------------------

describe('per-client token lifespans (Hydra): a non-empty lifespan replaces the ttl.* default for its grant and token', () => {
  it.each(['jwt', 'opaque'])('client_credentials_grant_access_token_lifespan sets expires_in and exp of a %s access token', async (format) => {
    const client = await createClient(machineClient({ access_token_strategy: format, client_credentials_grant_access_token_lifespan: '1h30m0s' }));
    const res = await tokenRequest(svc, { grant_type: 'client_credentials' }, { id: client.id, secret: client.secret });
    expect(res.status).toBe(200);
    expect(res.body.expires_in).toBe(5400);
    const token = res.body.access_token as string;
    expect(await introspectedLifetime(token)).toBe(5400);
    if (format === 'jwt') expect(jwtLifetime(token)).toBe(5400);
  });

  it('an empty lifespan means the ttl.access_token default (1h)', async () => {
    const client = await createClient(machineClient({ client_credentials_grant_access_token_lifespan: '' }));
    const res = await tokenRequest(svc, { grant_type: 'client_credentials' }, { id: client.id, secret: client.secret });
    expect(res.body.expires_in).toBe(3600);
    expect(await introspectedLifetime(res.body.access_token as string)).toBe(3600);
  });

  it.each(['jwt', 'opaque'])(
    'authorization_code_grant_* and refresh_token_grant_* lifespans set the access, ID and refresh tokens of each grant (%s)',
    async (format) => {
      const client = await codeClient({
        access_token_strategy: format,
        authorization_code_grant_access_token_lifespan: '2h',
        authorization_code_grant_id_token_lifespan: '3h',
        authorization_code_grant_refresh_token_lifespan: '4h',
        refresh_token_grant_access_token_lifespan: '5m',
        refresh_token_grant_id_token_lifespan: '6m',
        refresh_token_grant_refresh_token_lifespan: '1000h',
      });
      const first = await tokensFor(client, newSubject());
      expect(first.expires_in).toBe(7200);
      expect(await introspectedLifetime(first.access_token)).toBe(7200);
      if (format === 'jwt') expect(jwtLifetime(first.access_token)).toBe(7200);
      expect(jwtLifetime(first.id_token!)).toBe(3 * 3600);
      expect(await introspectedLifetime(first.refresh_token!)).toBe(4 * 3600);

      const second = await refreshed(client, first.refresh_token!);
      expect(second.expires_in).toBe(300);
      expect(await introspectedLifetime(second.access_token)).toBe(300);
      if (format === 'jwt') expect(jwtLifetime(second.access_token)).toBe(300);
      expect(jwtLifetime(second.id_token!)).toBe(360);
      expect(await introspectedLifetime(second.refresh_token!)).toBe(1000 * 3600);
      // The grant behind the tokens lives as long as the longest of them, so the janitor keeps it.
      const { rows } = await query(
        `SELECT extract(epoch FROM expires_at - now())::bigint AS left FROM oauth2_grants WHERE client_id = $1`,
        [client.id],
      );
      expect(Number(rows[0].left)).toBeGreaterThanOrEqual(1000 * 3600 - 60);
    },
  );

  it('a retired signing key stays published while a token it signed under a long lifespan is valid', async () => {
    const client = await createClient(machineClient({ access_token_strategy: 'jwt', client_credentials_grant_access_token_lifespan: '48h' }));
    const res = await tokenRequest(svc, { grant_type: 'client_credentials' }, { id: client.id, secret: client.secret });
    const token = res.body.access_token as string;
    const { kid } = decodeProtectedHeader(token);
    expect((await svc.admin('/admin/keys/rotate', { method: 'POST' })).status).toBe(201);
    // As if the rotation were a day old: longer ago than ttl.access_token, sooner than the token's expiry.
    await query(`UPDATE signing_keys SET retired_at = now() - interval '1 day' WHERE kid = $1`, [kid]);
    expect((await svc.admin('/admin/keys/rotate', { method: 'POST' })).status).toBe(201);

    expect((await adminIntrospect(svc, token)).active).toBe(true);
    const jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    await verify(token);
  });
});

describe('per-client token lifespans for grants this server does not implement are refused', () => {
  it.each(UNSERVED)('a non-empty %s is 400 invalid_client_metadata naming it, at create, replace and patch', async (field) => {
    await expectOAuthError(
      await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ [field]: '1h' }) }),
      400,
      'invalid_client_metadata',
      field,
    );
    const created = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ [field]: '' }) });
    expect(created.status).toBe(201);
    const client = (await created.json()) as Record<string, unknown>;
    expect(client[field]).toBe('');
    const path = `/admin/clients/${client.client_id as string}`;
    await expectOAuthError(await svc.admin(path, { method: 'PUT', json: { ...client, [field]: '2h' } }), 400, 'invalid_client_metadata', field);
    await expectOAuthError(
      await svc.admin(path, { method: 'PATCH', json: [{ op: 'replace', path: `/${field}`, value: '30m' }] }),
      400,
      'invalid_client_metadata',
      field,
    );
  });

  it('null for such a lifespan is accepted, as Hydra’s SDK may send it', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient(Object.fromEntries(UNSERVED.map((f) => [f, null]))) });
    expect(res.status).toBe(201);
  });

  it.each(['0s', '500ms', '87601h'])('a lifespan of %s (under 1s or over 10 years) is 400 invalid_client_metadata naming the field', async (value) => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ client_credentials_grant_access_token_lifespan: value }) });
    await expectOAuthError(res, 400, 'invalid_client_metadata', 'client_credentials_grant_access_token_lifespan');
  });
});

// --- OIDC Core §8: subject identifier types --------------------------------------

describe('subject_type pairwise (OIDC Core §8.1)', () => {
  it('gives ID tokens and userinfo a sub per sector, not the local subject; access tokens and introspection keep the local subject', async () => {
    const subject = newSubject();
    const publicClient = await codeClient();
    const pairwiseA = await codeClient({ subject_type: 'pairwise', access_token_strategy: 'jwt' });
    const pairwiseB = await codeClient({ subject_type: 'pairwise', access_token_strategy: 'opaque' });
    const otherSector = await codeClient({ subject_type: 'pairwise', redirect_uris: ['https://other.example.com/callback'] });

    const pub = await tokensFor(publicClient, subject);
    expect((await verify(pub.id_token!, publicClient.id)).payload.sub).toBe(subject);

    const a = await tokensFor(pairwiseA, subject);
    const subA = (await verify(a.id_token!, pairwiseA.id)).payload.sub!;
    expect(subA).not.toBe(subject);
    expect(subA).not.toContain(subject);
    expect(subA).toMatch(/^[0-9a-f]{64}$/);
    // Stable: the same user, the same client, another login.
    expect(decodeJwt((await tokensFor(pairwiseA, subject)).id_token!).sub).toBe(subA);
    // The same sector (redirect URIs on one host): the same sub.
    const b = await tokensFor(pairwiseB, subject);
    expect(decodeJwt(b.id_token!).sub).toBe(subA);
    // Another sector, or another user: another sub.
    expect(decodeJwt((await tokensFor(otherSector, subject, { redirectUri: 'https://other.example.com/callback' })).id_token!).sub).not.toBe(subA);
    expect(decodeJwt((await tokensFor(pairwiseA, newSubject())).id_token!).sub).not.toBe(subA);

    for (const t of [a, b]) {
      const res = await userinfo(t.access_token);
      expect(res.status).toBe(200);
      expect(((await res.json()) as Record<string, unknown>).sub).toBe(subA);
      expect((await adminIntrospect(svc, t.access_token)).sub).toBe(subject);
    }
    expect(decodeJwt(a.access_token).sub).toBe(subject);
  });

  it('takes the sector from the host of sector_identifier_uri when one is registered', async () => {
    const subject = newSubject();
    const sector = `${remote.url}/sector.json`;
    const onApp = await codeClient({ subject_type: 'pairwise', sector_identifier_uri: sector });
    const onOther = await codeClient({ subject_type: 'pairwise', sector_identifier_uri: sector, redirect_uris: ['https://other.example.com/callback'] });
    const plain = await codeClient({ subject_type: 'pairwise' });
    const subApp = decodeJwt((await tokensFor(onApp, subject)).id_token!).sub;
    const subOther = decodeJwt((await tokensFor(onOther, subject, { redirectUri: 'https://other.example.com/callback' })).id_token!).sub;
    expect(subOther).toBe(subApp);
    expect(decodeJwt((await tokensFor(plain, subject)).id_token!).sub).not.toBe(subApp);
  });

  it('an ID token with a pairwise sub is still a good id_token_hint at logout: it names the session by sid, which ends at once', async () => {
    const client = await codeClient({ subject_type: 'pairwise', skip_logout_consent: true });
    const browser = new Browser();
    const { id_token } = await tokensFor(client, newSubject(), { browser, remember: true });
    expect(browser.cookies.has('registrar_session')).toBe(true);
    expect(typeof decodeJwt(id_token!).sid).toBe('string');
    const url = new URL('/oauth2/sessions/logout', svc.url);
    url.search = new URLSearchParams({ id_token_hint: id_token!, post_logout_redirect_uri: POST_LOGOUT }).toString();
    const res = await browser.get(url);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(POST_LOGOUT);
    expect(browser.cookies.has('registrar_session')).toBe(false);
  });

  it('discovery lists pairwise among subject_types_supported', async () => {
    const doc = (await (await fetch(`${svc.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.subject_types_supported).toEqual(['public', 'pairwise']);
  });
});

// --- OIDC Registration §2: response signing algorithms -----------------------------

describe('id_token_signed_response_alg and userinfo_signed_response_alg', () => {
  it.each(['ES256', 'EdDSA'])('signs the client’s ID tokens with %s, with a key published in the JWKS; access tokens keep the configured algorithm', async (alg) => {
    const client = await codeClient({ id_token_signed_response_alg: alg, access_token_strategy: 'jwt' });
    const tokens = await tokensFor(client, newSubject());
    const { protectedHeader, payload } = await verify(tokens.id_token!, client.id);
    expect(protectedHeader.alg).toBe(alg);
    const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(tokens.access_token).digest();
    expect(payload.at_hash).toBe(digest.subarray(0, digest.length / 2).toString('base64url'));
    expect(decodeProtectedHeader(tokens.access_token).alg).toBe('RS256');
    const jwks = (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; alg: string }> };
    expect(jwks.keys.find((k) => k.kid === protectedHeader.kid)?.alg).toBe(alg);
  });

  it('a key rotation rotates the key of every algorithm in use', async () => {
    const client = await codeClient({ id_token_signed_response_alg: 'ES256' });
    const before = decodeProtectedHeader((await tokensFor(client, newSubject())).id_token!).kid;
    expect((await svc.admin('/admin/keys/rotate', { method: 'POST' })).status).toBe(201);
    const after = await tokensFor(client, newSubject());
    const header = decodeProtectedHeader(after.id_token!);
    expect(header.alg).toBe('ES256');
    expect(header.kid).not.toBe(before);
    const keys = (await (await svc.admin('/admin/keys')).json()) as Array<{ kid: string; alg: string; state: string }>;
    expect(keys.find((k) => k.kid === before)?.state).toBe('retired');
    const active = keys.filter((k) => k.state === 'active');
    expect(active.filter((k) => k.alg === 'ES256').map((k) => k.kid)).toEqual([header.kid]);
    expect(active.filter((k) => k.alg === 'RS256')).toHaveLength(1);
  });

  it('answers userinfo as a signed JWT (application/jwt) with iss and aud for a client that registered userinfo_signed_response_alg', async () => {
    const subject = newSubject();
    const client = await codeClient({ userinfo_signed_response_alg: 'ES256', subject_type: 'pairwise' });
    const tokens = await tokensFor(client, subject);
    const res = await userinfo(tokens.access_token);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/jwt/);
    const { payload, protectedHeader } = await verify(await res.text(), client.id);
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.sub).toBe(decodeJwt(tokens.id_token!).sub);
  });

  it('answers userinfo as JSON for userinfo_signed_response_alg none', async () => {
    const client = await codeClient({ userinfo_signed_response_alg: 'none' });
    const subject = newSubject();
    const res = await userinfo((await tokensFor(client, subject)).access_token);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as Record<string, unknown>).sub).toBe(subject);
  });

  it('discovery lists every algorithm a client may register, the configured one first', async () => {
    const doc = (await (await fetch(`${svc.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256', 'EdDSA']);
    expect(doc.userinfo_signing_alg_values_supported).toEqual(['RS256', 'ES256', 'EdDSA']);
  });
});

describe("allowed_cors_origins at userinfo (a single-page app reads its user's claims)", () => {
  it('lets the origins the token\'s client lists read userinfo, and no other origin', async () => {
    const spa = 'https://spa.example.com';
    const client = await codeClient({ allowed_cors_origins: [spa] });
    const other = await codeClient();
    const own = await tokensFor(client, newSubject());
    const foreign = await tokensFor(other, newSubject());
    const userinfo = (token: string, origin: string) => fetch(`${svc.url}/userinfo`, { headers: { Authorization: `Bearer ${token}`, Origin: origin } });

    const allowed = await userinfo(own.access_token, spa);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(spa);
    const elsewhere = await userinfo(own.access_token, 'https://evil.example.net');
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
    const notListed = await userinfo(foreign.access_token, spa);
    expect(notListed.status).toBe(200);
    expect(notListed.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('standard fields of features this server does not serve are refused, not stored and ignored', () => {
  const refused: Array<[string, unknown, string]> = [
    ['request_uris', ['https://app.example.com/request.jwt'], 'request objects'],
    ['request_object_signing_alg', 'RS256', 'request objects'],
    ['frontchannel_logout_uri', 'https://app.example.com/fc', 'front-channel logout'],
    ['frontchannel_logout_session_required', true, 'front-channel logout'],
    ['backchannel_logout_uri', 'https://app.example.com/bc', 'back-channel logout'],
    ['backchannel_logout_session_required', true, 'back-channel logout'],
  ];

  it.each(refused)('refuses %s = %j with 400 invalid_client_metadata naming it, at the admin API and at registration', async (field, value, feature) => {
    const admin = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ [field]: value }) });
    await expectOAuthError(admin, 400, 'invalid_client_metadata', field, feature);
    const token = await mintIat(svc);
    const dcr = await fetch(`${svc.url}/oauth2/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(machineClient({ [field]: value })),
    });
    await expectOAuthError(dcr, 400, 'invalid_client_metadata', field);
  });

  it('accepts the empty values a client library sends for them, and keeps them as sent', async () => {
    const empty = { request_uris: [], frontchannel_logout_uri: '', frontchannel_logout_session_required: false, backchannel_logout_uri: '', backchannel_logout_session_required: false };
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient(empty) });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject(empty);
  });
});
