// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; README,
// "Client ID Metadata Documents"): a client_id that is an https URL names a
// client described by the JSON document served there. Over real HTTP against
// the real app; the documents are served by a local HTTPS server whose
// requests are counted, and oauth4webapi plays the clients unchanged.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { startApp, type RunningApp } from '../support/app.js';
import { startHttpsServer, type TestHttpsServer } from '../support/https-server.js';
import { expectOAuthError } from '../support/expect.js';
import { adminIntrospect, authorizeUrl, Browser, pkcePair, runFlow, tokenRequest } from '../support/oauth-flow.js';
import { query } from '../support/postgres.js';

type Json = Record<string, unknown>;

const REDIRECT = 'https://app.example.com/callback';
const insecure = { [oauth.allowInsecureRequests]: true };

let remote: TestHttpsServer;
/** Accepts client_id URLs on 127.0.0.1 (the local HTTPS server), reachable through FETCH_ALLOW_PRIVATE_NETWORKS and FETCH_CA_FILE. */
let svc: RunningApp;
/** The feature at its default: off. */
let off: RunningApp;
/** On for 127.0.0.1, but server-side fetches keep refusing loopback addresses. */
let strict: RunningApp;
let clientKey: { privateKey: CryptoKey; publicJwk: JWK };

/** The client_id URL of a document served at /clients/<name>.json. */
const idOf = (name: string) => `${remote.url}/clients/${name}.json`;
const pathOf = (name: string) => `/clients/${name}.json`;

function send(res: ServerResponse, body: string, headers: Record<string, string>, status = 200): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

/** Serves a document at /clients/<name>.json, with client_id = its URL unless `doc` names another, and cacheable for 10 minutes unless `headers` say otherwise. */
function serve(name: string, doc: Json, headers: Record<string, string> = { 'Cache-Control': 'max-age=600' }): string {
  const id = idOf(name);
  remote.route(pathOf(name), (_req, res) => send(res, JSON.stringify({ client_id: id, ...doc }), headers));
  return id;
}

function publicClient(extra: Json = {}): Json {
  return {
    client_name: 'Example MCP client',
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'openid offline_access',
    ...extra,
  };
}

/** GET /oauth2/auth for a client with a fresh PKCE challenge; no redirect is followed. */
function authorize(app: RunningApp, clientId: string, extra: Record<string, string> = {}): Promise<Response> {
  const url = authorizeUrl(app, {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid',
    state: 'state-1234567890',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return fetch(url, { redirect: 'manual' });
}

/** The authorization endpoint sent the browser on to the login app: the client was accepted. */
async function expectToLogin(res: Response): Promise<void> {
  expect({ status: res.status, body: res.status === 302 ? '' : await res.text() }).toEqual({ status: 302, body: '' });
  expect(res.headers.get('location')).toContain('login_challenge=');
}

/** A refusal answered by /oauth2/auth itself, as JSON, and never redirected (to a redirect URI nobody verified). */
async function expectRefused(res: Response, error: string, ...mentions: string[]): Promise<void> {
  expect(res.headers.get('location')).toBeNull();
  await expectOAuthError(res, 400, error, ...mentions);
}

beforeAll(async () => {
  remote = await startHttpsServer();
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  clientKey = { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: 'cimd-key', alg: 'ES256', use: 'sig' } };
  remote.route('/jwks.json', (_req, res) => send(res, JSON.stringify({ keys: [clientKey.publicJwk] }), {}));
  const common = {
    URLS_LOGIN: 'https://login.example.com/login',
    URLS_CONSENT: 'https://login.example.com/consent',
    FETCH_CA_FILE: remote.caFile,
  };
  svc = await startApp({
    env: {
      ...common,
      FETCH_ALLOW_PRIVATE_NETWORKS: 'true',
      OIDC_CLIENT_ID_METADATA_DOCUMENT_ENABLED: 'true',
      OIDC_CLIENT_ID_METADATA_DOCUMENT_ALLOWED_HOSTS: '127.0.0.1',
      OIDC_CLIENT_ID_METADATA_DOCUMENT_MAX_BYTES: '2048',
      OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: 'jwt',
      // Applied to documents as to registrations; created below, resolved at each request.
      OIDC_DYNAMIC_CLIENT_REGISTRATION_POLICIES: 'cimd-rules',
    },
  });
  const created = await svc.admin('/admin/policies', {
    method: 'POST',
    json: { name: 'cimd-rules', rules: { forbidden_fields: ['contacts'] } },
  });
  expect(created.status).toBe(201);
  off = await startApp({ env: { ...common, FETCH_ALLOW_PRIVATE_NETWORKS: 'true', OIDC_CLIENT_ID_METADATA_DOCUMENT_ALLOWED_HOSTS: '127.0.0.1' } });
  strict = await startApp({
    env: { ...common, OIDC_CLIENT_ID_METADATA_DOCUMENT_ENABLED: 'true', OIDC_CLIENT_ID_METADATA_DOCUMENT_ALLOWED_HOSTS: '127.0.0.1' },
  });
});

afterAll(async () => {
  await svc?.close();
  await off?.close();
  await strict?.close();
  await remote?.close();
});

describe('discovery (draft §6)', () => {
  it('advertises client_id_metadata_document_supported only while the feature is on', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const on = (await (await fetch(`${svc.url}${path}`)).json()) as Json;
      expect(on.client_id_metadata_document_supported).toBe(true);
      const disabled = (await (await fetch(`${off.url}${path}`)).json()) as Json;
      expect(disabled).not.toHaveProperty('client_id_metadata_document_supported');
    }
  });
});

describe('a public client (none + PKCE), driven by oauth4webapi', () => {
  it('completes the authorization code flow; the login app sees the document metadata; tokens name the URL', async () => {
    const accepts: (string | undefined)[] = [];
    const clientId = idOf('public');
    remote.route(pathOf('public'), (req, res) => {
      accepts.push(req.headers.accept);
      send(res, JSON.stringify({ client_id: clientId, ...publicClient({ client_uri: 'https://app.example.com' }) }), { 'Cache-Control': 'max-age=600' });
    });
    const issuer = new URL(svc.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    const client: oauth.Client = { client_id: clientId };
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();

    const flow = await runFlow(svc, new Browser(), {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid offline_access',
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const shown = flow.loginRequest.client as Json;
    expect(shown).toMatchObject({
      client_id: clientId,
      client_name: 'Example MCP client',
      client_uri: 'https://app.example.com',
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      created_via: 'metadata_document',
      access_token_strategy: 'jwt',
    });
    expect(shown).not.toHaveProperty('registration_client_uri');
    expect((flow.consentRequest.client as Json).client_id).toBe(clientId);

    const params = oauth.validateAuthResponse(as, client, flow.callback, state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT, verifier, insecure),
      { expectedNonce: nonce, requireIdToken: true },
    );
    expect([oauth.getValidatedIdTokenClaims(tokens)!.aud].flat()).toEqual([clientId]);
    // The DCR access token format applies to self-described clients (jwt here): a JWT is issued and introspects as active.
    expect(tokens.access_token.split('.')).toHaveLength(3);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(await adminIntrospect(svc, tokens.access_token)).toMatchObject({ active: true, client_id: clientId, sub: 'alice' });

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure),
    );
    expect(await adminIntrospect(svc, refreshed.access_token)).toMatchObject({ active: true, client_id: clientId });

    // One fetch served the whole flow (max-age=600), asked for JSON.
    expect(remote.hits(pathOf('public'))).toBe(1);
    expect(accepts).toEqual(['application/json']);

    // Consent and tokens are the client's as for any other: revoking its consent revokes them.
    const revoked = await svc.admin(`/admin/oauth2/auth/sessions/consent?subject=alice&client=${encodeURIComponent(clientId)}`, { method: 'DELETE' });
    expect(revoked.status).toBe(204);
    expect((await adminIntrospect(svc, refreshed.access_token)).active).toBe(false);
  });

  it('is never stored as a client: not in the admin list, 404 by id, no row, no RFC 7592 management', async () => {
    const clientId = serve('unlisted', publicClient());
    await expectToLogin(await authorize(svc, clientId));
    const list = (await (await svc.admin('/admin/clients?page_size=500')).json()) as Json[];
    expect(list.map((c) => c.client_id)).not.toContain(clientId);
    expect((await svc.admin(`/admin/clients/${encodeURIComponent(clientId)}`)).status).toBe(404);
    expect((await query('SELECT id FROM clients WHERE id = $1', [clientId])).rowCount).toBe(0);
    expect((await query('SELECT id FROM metadata_document_clients WHERE id = $1', [clientId])).rowCount).toBe(1);
    const managed = await fetch(`${svc.url}/oauth2/register/${encodeURIComponent(clientId)}`, { headers: { Authorization: 'Bearer anything' } });
    await expectOAuthError(managed, 401, 'invalid_token');
  });

  it('must present PKCE, as every public client must', async () => {
    const clientId = serve('no-pkce', publicClient());
    const res = await fetch(
      authorizeUrl(svc, { client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', state: 'state-1234567890' }),
      { redirect: 'manual' },
    );
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toContain('code_challenge');
  });
});

describe('a private_key_jwt client at the token endpoint (draft §8.2)', () => {
  it('authenticates with a key from its jwks_uri, gets a client_credentials token and introspects it; other methods fail', async () => {
    const clientId = serve('machine', {
      client_name: 'Example agent',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: `${remote.url}/jwks.json`,
      scope: 'invoices.read',
    });
    const issuer = new URL(svc.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    const client: oauth.Client = { client_id: clientId };
    const auth = oauth.PrivateKeyJwt({ key: clientKey.privateKey, kid: 'cimd-key' });
    const token = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'invoices.read' }, insecure),
    );
    expect(token.scope).toBe('invoices.read');
    const introspected = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, oauth.PrivateKeyJwt({ key: clientKey.privateKey, kid: 'cimd-key' }), token.access_token, insecure),
    );
    expect(introspected).toMatchObject({ active: true, client_id: clientId, scope: 'invoices.read' });

    // Registered for private_key_jwt: no assertion is no authentication.
    const unauthenticated = await tokenRequest(svc, { grant_type: 'client_credentials', client_id: clientId });
    expect(unauthenticated).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    // A secret (Basic) can never authenticate such a client.
    const basic = await tokenRequest(svc, { grant_type: 'client_credentials' }, { id: clientId, secret: 'guess' });
    expect(basic).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
});

describe('caching (draft §5.2, RFC 9111)', () => {
  it('does not fetch again within max-age', async () => {
    const clientId = serve('cached', publicClient(), { 'Cache-Control': 'public, max-age=600' });
    await expectToLogin(await authorize(svc, clientId));
    await expectToLogin(await authorize(svc, clientId));
    await expectToLogin(await authorize(svc, clientId));
    expect(remote.hits(pathOf('cached'))).toBe(1);
  });

  it('fetches again on every use when the document says no-store', async () => {
    const clientId = serve('no-store', publicClient(), { 'Cache-Control': 'no-store' });
    await expectToLogin(await authorize(svc, clientId));
    await expectToLogin(await authorize(svc, clientId));
    expect(remote.hits(pathOf('no-store'))).toBe(2);
  });

  it('does not cache a failure: a document that was broken is used once it is fixed', async () => {
    const clientId = idOf('fixed');
    let broken = true;
    remote.route(pathOf('fixed'), (_req, res) =>
      broken ? send(res, '{"error":"down"}', {}, 503) : send(res, JSON.stringify({ client_id: clientId, ...publicClient() }), { 'Cache-Control': 'max-age=600' }),
    );
    await expectRefused(await authorize(svc, clientId), 'invalid_client', clientId, 'HTTP 503');
    broken = false;
    await expectToLogin(await authorize(svc, clientId));
    expect(remote.hits(pathOf('fixed'))).toBe(2);
  });
});

describe('refusals', () => {
  it('while the feature is off, a client_id URL is an unknown client and nothing is fetched', async () => {
    const clientId = serve('while-off', publicClient());
    await expectRefused(await authorize(off, clientId), 'invalid_client', 'unknown client_id');
    const token = await tokenRequest(off, { grant_type: 'authorization_code', client_id: clientId, code: 'x', code_verifier: 'y'.repeat(43) });
    expect(token).toMatchObject({ status: 401, body: { error: 'invalid_client', error_description: 'client authentication failed' } });
    expect(remote.hits(pathOf('while-off'))).toBe(0);
  });

  it('a host that is not allowed is an unknown client and nothing is fetched', async () => {
    serve('other-host', publicClient());
    const clientId = `https://localhost:${remote.port}${pathOf('other-host')}`;
    await expectRefused(await authorize(svc, clientId), 'invalid_client', 'unknown client_id');
    expect(remote.hits(pathOf('other-host'))).toBe(0);
  });

  it('an http client_id is an unknown client', async () => {
    serve('http', publicClient());
    await expectRefused(await authorize(svc, idOf('http').replace('https:', 'http:')), 'invalid_client', 'unknown client_id');
    expect(remote.hits(pathOf('http'))).toBe(0);
  });

  it.each([
    ['a fragment', (id: string) => `${id}#x`, 'must not contain a fragment'],
    ['a dot segment', (id: string) => id.replace('/clients/', '/clients/../clients/'), '. or .. path segments'],
    ['no path', (_id: string) => `${remote.url}/`, 'must have a path'],
  ])('a client_id URL with %s is refused, naming the rule, and not fetched', async (_what, make, reason) => {
    serve('shape', publicClient());
    const before = remote.requests.length;
    await expectRefused(await authorize(svc, make(idOf('shape'))), 'invalid_client', reason);
    expect(remote.requests.length).toBe(before);
  });

  it.each<[string, Json, string]>([
    ['names another client_id', { client_id: 'https://127.0.0.1/clients/someone-else.json' }, 'which is not its URL'],
    ['holds a client_secret', { client_secret: 'shared' }, 'client_secret'],
    ['holds a client_secret_expires_at', { client_secret_expires_at: 0 }, 'client_secret_expires_at'],
    ['asks for client_secret_basic', { token_endpoint_auth_method: 'client_secret_basic' }, 'client_secret_basic'],
    ['asks for private_key_jwt without keys', { token_endpoint_auth_method: 'private_key_jwt' }, 'jwks'],
    ['sets an operator field', { skip_consent: true }, 'skip_consent'],
    ['has an invalid redirect URI', { redirect_uris: ['http://app.example.com/cb'] }, 'is not acceptable client metadata'],
    ['breaks a configured policy', { contacts: ['ops@example.com'] }, 'policy "cimd-rules" rule forbidden_fields'],
  ])('a document that %s is refused, naming why', async (name, override, reason) => {
    const slug = name.replace(/\W+/g, '-');
    serve(slug, publicClient(override));
    await expectRefused(await authorize(svc, idOf(slug)), 'invalid_client', idOf(slug), reason);
  });

  it('a document larger than max_bytes is refused', async () => {
    const clientId = serve('oversized', publicClient({ client_name: 'x'.repeat(3000) }));
    await expectRefused(await authorize(svc, clientId), 'invalid_client', 'larger than 2048 bytes');
  });

  it('a document served as text/html, or that is not JSON, or not an object, is refused', async () => {
    const clientId = idOf('html');
    remote.route(pathOf('html'), (_req, res) => send(res, JSON.stringify({ client_id: clientId, ...publicClient() }), { 'Content-Type': 'text/html' }));
    await expectRefused(await authorize(svc, clientId), 'invalid_client', 'content type "text/html"');
    remote.route(pathOf('not-json'), (_req, res) => send(res, '{"client_id": ', {}));
    await expectRefused(await authorize(svc, idOf('not-json')), 'invalid_client', 'is not valid JSON');
    remote.route(pathOf('array'), (_req, res) => send(res, '[]', {}));
    await expectRefused(await authorize(svc, idOf('array')), 'invalid_client', 'is not a JSON object');
  });

  it('a redirect is not followed (draft §5), and a 404 is refused', async () => {
    serve('redirect-target', publicClient());
    remote.route(pathOf('redirecting'), (_req, res) => {
      res.writeHead(302, { Location: pathOf('redirect-target') });
      res.end();
    });
    await expectRefused(await authorize(svc, idOf('redirecting')), 'invalid_client', 'HTTP 302', 'redirects are not followed');
    expect(remote.hits(pathOf('redirect-target'))).toBe(0);
    await expectRefused(await authorize(svc, idOf('missing')), 'invalid_client', 'HTTP 404');
  });

  it('a redirect_uri that is not in the document is refused and not redirected to', async () => {
    const clientId = serve('redirects', publicClient());
    await expectRefused(await authorize(svc, clientId, { redirect_uri: 'https://attacker.example.com/cb' }), 'invalid_request', 'redirect_uri');
  });

  it('a private or loopback address stays refused unless fetch.allow_private_networks; the reason is logged, not told', async () => {
    const clientId = serve('strict', publicClient());
    const res = await authorize(strict, clientId);
    const body = await expectOAuthError(res, 400, 'invalid_client', 'could not be fetched');
    expect(body.error_description).not.toContain('private');
    expect(remote.hits(pathOf('strict'))).toBe(0);
    expect(strict.logs.some((line) => line.includes('client metadata document fetch failed') && line.includes('private'))).toBe(true);
  });
});
