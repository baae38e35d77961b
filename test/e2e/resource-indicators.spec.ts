// Resource indicators (RFC 8707) over real HTTP: resource on the authorization
// request, narrowed at the code exchange and at each refresh (§2.2), on the
// client_credentials grant, invalid_target for anything malformed or beyond
// what the client may reach (§2), the access token's aud in both formats
// (RFC 9068 §2.2, RFC 7662 §2.2), the DCR rules that decide which resources a
// registrant may name, and oauth4webapi sending resource unchanged.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { machineClient, webClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { createAdminClient, mintIat, register, registerClient } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { basicAuth } from '../support/net.js';
import { adminIntrospect, authorizeUrl, Browser, pkcePair, runFlowFrom } from '../support/oauth-flow.js';

type Json = Record<string, unknown>;

const API = 'https://api.example.com/';
const BILLING = 'https://billing.example.com/v1';
const MCP = 'https://mcp.example.com/mcp';
const OUTSIDE = 'https://internal.example.com/';
const REDIRECT = 'https://app.example.com/callback';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp({
    env: {
      URLS_LOGIN: 'https://login.example.com/login',
      URLS_CONSENT: 'https://login.example.com/consent',
      // What a DCR registrant may name as audience, and so as resource.
      OIDC_DYNAMIC_CLIENT_REGISTRATION_ALLOWED_AUDIENCES: `${API},${MCP}`,
    },
  });
});
afterAll(async () => {
  await svc?.close();
});

interface Client {
  id: string;
  secret: string;
}

async function adminClient(body: Json): Promise<Client> {
  const created = await createAdminClient(svc, body);
  return { id: String(created.client_id), secret: String(created.client_secret) };
}

/** POST /oauth2/token with repeatable parameters, authenticated with HTTP Basic. */
function token(client: Client, pairs: Array<[string, string]>): Promise<Response> {
  return fetch(`${svc.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.id, client.secret) },
    body: new URLSearchParams(pairs).toString(),
  });
}

async function tokens(res: Response): Promise<Json> {
  const body = (await res.json()) as Json;
  expect({ status: res.status, body }).toMatchObject({ status: 200, body: { token_type: 'Bearer' } });
  return body;
}

function audOf(accessToken: string): unknown {
  return decodeJwt(accessToken).aud;
}

async function introspect(client: Client, value: string): Promise<Json> {
  const res = await fetch(`${svc.url}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.id, client.secret) },
    body: new URLSearchParams({ token: value }).toString(),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

/** Runs the flow with the query's resource parameters (repeated) and returns the code, the verifier and what the consent app saw. */
async function authorize(client: Client, resources: string[], extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const url = authorizeUrl(svc, {
    client_id: client.id,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid offline_access',
    state: 'state-rir',
    nonce: 'nonce-rir',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  for (const r of resources) url.searchParams.append('resource', r);
  const flow = await runFlowFrom(svc, new Browser(), url);
  return { code: flow.code, verifier, consentRequest: flow.consentRequest };
}

function exchange(client: Client, code: string, verifier: string, resources: string[] = []): Promise<Response> {
  return token(client, [
    ['grant_type', 'authorization_code'],
    ['code', code],
    ['redirect_uri', REDIRECT],
    ['code_verifier', verifier],
    ...resources.map((r): [string, string] => ['resource', r]),
  ]);
}

function refresh(client: Client, refreshToken: string, resources: string[] = []): Promise<Response> {
  return token(client, [['grant_type', 'refresh_token'], ['refresh_token', refreshToken], ...resources.map((r): [string, string] => ['resource', r])]);
}

describe('the authorization code flow with two resources (RFC 8707 §2.1, §2.2)', () => {
  let jwtClient: Client;
  let opaqueClient: Client;

  beforeAll(async () => {
    const body = { redirect_uris: [REDIRECT], audience: [API, BILLING, MCP, 'payments-rs'] };
    jwtClient = await adminClient(webClient({ ...body, access_token_strategy: 'jwt' }));
    opaqueClient = await adminClient(webClient({ ...body, access_token_strategy: 'opaque' }));
  });

  it('offers the requested resources to the consent app as the requested audience', async () => {
    const { consentRequest } = await authorize(jwtClient, [API, BILLING]);
    expect(consentRequest.requested_access_token_audience).toEqual([API, BILLING]);
  });

  it('narrows the access token at the code exchange and at each refresh, the refresh token keeping the granted set', async () => {
    const { code, verifier } = await authorize(jwtClient, [API, BILLING]);
    const first = await tokens(await exchange(jwtClient, code, verifier, [API]));
    // RFC 9068 §2.2 (aud as in RFC 7519 §4.1.3): one audience is a string.
    expect(audOf(first.access_token as string)).toBe(API);

    const second = await tokens(await refresh(jwtClient, first.refresh_token as string, [BILLING]));
    expect(audOf(second.access_token as string)).toBe(BILLING);

    // No resource: all that was granted, as an array.
    const third = await tokens(await refresh(jwtClient, second.refresh_token as string));
    expect(audOf(third.access_token as string)).toEqual([API, BILLING]);

    const fourth = await tokens(await refresh(jwtClient, third.refresh_token as string, [API, BILLING]));
    expect(audOf(fourth.access_token as string)).toEqual([API, BILLING]);
    // The refresh token still carries the whole grant.
    expect((await adminIntrospect(svc, fourth.refresh_token as string)).aud).toEqual([API, BILLING]);
  });

  it('gives the token everything granted when the code exchange names no resource', async () => {
    const { code, verifier } = await authorize(jwtClient, [API, BILLING]);
    const body = await tokens(await exchange(jwtClient, code, verifier));
    expect(audOf(body.access_token as string)).toEqual([API, BILLING]);
  });

  it('reports the narrowed audience of an opaque token through introspection (RFC 7662 §2.2)', async () => {
    const { code, verifier } = await authorize(opaqueClient, [API, BILLING]);
    const first = await tokens(await exchange(opaqueClient, code, verifier, [BILLING]));
    expect(first.access_token as string).not.toContain('.');
    expect(await introspect(opaqueClient, first.access_token as string)).toMatchObject({ active: true, aud: [BILLING] });
    const second = await tokens(await refresh(opaqueClient, first.refresh_token as string));
    expect((await introspect(opaqueClient, second.access_token as string)).aud).toEqual([API, BILLING]);
  });

  it('combines Hydra\'s audience with resource: the consent app sees both, and both narrow at the token endpoint', async () => {
    const { code, verifier, consentRequest } = await authorize(jwtClient, [API], { audience: 'payments-rs' });
    expect(consentRequest.requested_access_token_audience).toEqual(['payments-rs', API]);
    const body = await tokens(await token(jwtClient, [
      ['grant_type', 'authorization_code'], ['code', code], ['redirect_uri', REDIRECT], ['code_verifier', verifier], ['audience', 'payments-rs'],
    ]));
    expect(audOf(body.access_token as string)).toBe('payments-rs');
    const next = await tokens(await refresh(jwtClient, body.refresh_token as string, [API]));
    expect(audOf(next.access_token as string)).toBe(API);
    // An audience outside the grant is Hydra's invalid_request; a resource outside it is invalid_target.
    const refused = await token(jwtClient, [['grant_type', 'refresh_token'], ['refresh_token', next.refresh_token as string], ['audience', BILLING]]);
    await expectOAuthError(refused, 400, 'invalid_request', BILLING);
  });

  it('is invalid_target at the code exchange for a resource the client has but was not granted', async () => {
    const { code, verifier } = await authorize(jwtClient, [API]);
    await expectOAuthError(await exchange(jwtClient, code, verifier, [BILLING]), 400, 'invalid_target', JSON.stringify(BILLING), 'was not granted');
  });

  it('is invalid_target at a refresh for a resource not granted, and leaves the refresh token usable', async () => {
    const { code, verifier } = await authorize(jwtClient, [API]);
    const first = await tokens(await exchange(jwtClient, code, verifier));
    expect(audOf(first.access_token as string)).toBe(API);
    await expectOAuthError(await refresh(jwtClient, first.refresh_token as string, [BILLING]), 400, 'invalid_target', JSON.stringify(BILLING));
    await expectOAuthError(await refresh(jwtClient, first.refresh_token as string, [API, `${API}#x`]), 400, 'invalid_target', 'fragment');
    await expectOAuthError(await refresh(jwtClient, first.refresh_token as string, ['/relative']), 400, 'invalid_target', 'absolute URI');
    // Refused before the token was spent: it still works (a spent one would revoke the grant).
    const next = await tokens(await refresh(jwtClient, first.refresh_token as string, [API]));
    expect(audOf(next.access_token as string)).toBe(API);
  });

  it('answers an authorization request naming a resource beyond the client with invalid_target at the redirect URI', async () => {
    const cases: Array<[string, string]> = [
      [OUTSIDE, 'is not a resource the client may request'],
      [`${API}#section`, 'without a fragment'],
      ['api/v1', 'absolute URI'],
      ['payments-rs', 'absolute URI'],
    ];
    for (const [value, text] of cases) {
      const url = authorizeUrl(svc, { client_id: jwtClient.id, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', state: 'st' });
      url.searchParams.append('resource', API);
      url.searchParams.append('resource', value);
      const back = await new Browser().follow(url);
      expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
      expect(Object.fromEntries(back.searchParams)).toMatchObject({ error: 'invalid_target', state: 'st', iss: svc.url });
      expect(back.searchParams.get('error_description')).toContain(JSON.stringify(value));
      expect(back.searchParams.get('error_description')).toContain(text);
    }
  });
});

describe('client_credentials with resource (RFC 8707 §2)', () => {
  let jwtClient: Client;
  let opaqueClient: Client;

  beforeAll(async () => {
    jwtClient = await adminClient(machineClient({ access_token_strategy: 'jwt', audience: [API, BILLING, 'payments-rs'] }));
    opaqueClient = await adminClient(machineClient({ access_token_strategy: 'opaque', audience: [API, BILLING] }));
  });

  const cc = (client: Client, pairs: Array<[string, string]>) => token(client, [['grant_type', 'client_credentials'], ...pairs]);

  it('issues a JWT whose aud is the one resource as a string, and several as an array', async () => {
    expect(audOf((await tokens(await cc(jwtClient, [['resource', BILLING]]))).access_token as string)).toBe(BILLING);
    expect(audOf((await tokens(await cc(jwtClient, [['resource', API], ['resource', BILLING]]))).access_token as string)).toEqual([API, BILLING]);
  });

  it('adds the resources to Hydra\'s audience parameter', async () => {
    const body = await tokens(await cc(jwtClient, [['audience', 'payments-rs'], ['resource', API]]));
    expect(audOf(body.access_token as string)).toEqual(['payments-rs', API]);
  });

  it('reports the resources as aud when an opaque token is introspected', async () => {
    const body = await tokens(await cc(opaqueClient, [['resource', API], ['resource', BILLING], ['resource', API]]));
    expect(await introspect(opaqueClient, body.access_token as string)).toMatchObject({ active: true, aud: [API, BILLING] });
  });

  it('is invalid_target naming a resource the client may not reach, and issues nothing', async () => {
    const body = await expectOAuthError(await cc(jwtClient, [['resource', API], ['resource', OUTSIDE]]), 400, 'invalid_target', JSON.stringify(OUTSIDE));
    expect(body.access_token).toBeUndefined();
    // Another client's resources are not this one's.
    await expectOAuthError(await cc(opaqueClient, [['resource', 'payments-rs']]), 400, 'invalid_target', 'payments-rs');
  });

  // Hostile and near-miss values: each is refused with 400 invalid_target naming it, never a 500 or a token.
  it.each([
    ['a fragment', `${API}#x`],
    ['an empty fragment', `${API}#`],
    ['a relative reference', '/v1'],
    ['a network-path reference', '//api.example.com/'],
    ['a bare host', 'api.example.com'],
    ['a trailing slash the client did not register', BILLING + '/'],
    ['another case', API.toUpperCase()],
    ['a space', 'https://api.example.com/a b'],
    ['a non-ASCII host', 'https://äpi.example.com/'],
    ['a NUL', 'https://api.example.com/\u0000'],
    ['a javascript: URI', 'javascript:alert(1)'],
    ['a scheme alone', 'https:'],
    ['a very long URI', `https://api.example.com/${'a'.repeat(5000)}`],
    ['a broken percent-encoding', 'https://api.example.com/%zz'],
    ['a prototype name', '__proto__'],
  ])('refuses %s with 400, naming it', async (_why, value) => {
    const res = await cc(jwtClient, [['resource', value]]);
    // A NUL is refused by the checks every form body gets, before RFC 8707's.
    if (value.includes('\u0000')) await expectOAuthError(res, 400, 'invalid_request');
    else await expectOAuthError(res, 400, 'invalid_target', 'resource', JSON.stringify(value).slice(0, 150));
  });

  it('bounds the number of resources', async () => {
    const many = Array.from({ length: 51 }, (): [string, string] => ['resource', API]);
    await expectOAuthError(await cc(jwtClient, many), 400, 'invalid_target', 'at most 50');
  });

  it('keeps Hydra\'s audience errors as they were: invalid_request', async () => {
    await expectOAuthError(await cc(jwtClient, [['audience', OUTSIDE]]), 400, 'invalid_request', OUTSIDE);
  });

  it('gives a token without resource or audience the issuer as its one audience, a string', async () => {
    expect(audOf((await tokens(await cc(jwtClient, []))).access_token as string)).toBe(svc.url);
    // RFC 6749 §3.2: an empty resource is an omitted one.
    expect(audOf((await tokens(await cc(jwtClient, [['resource', '']]))).access_token as string)).toBe(svc.url);
  });
});

describe('resources a DCR registrant may name: its audience, under the audience rules', () => {
  it('lets a registrant name an allowed resource and get tokens for it', async () => {
    const registered = await registerClient(svc, machineClient({ audience: [MCP] }));
    const client = { id: String(registered.client_id), secret: String(registered.client_secret) };
    const body = await tokens(await token(client, [['grant_type', 'client_credentials'], ['resource', MCP]]));
    expect(await introspect(client, body.access_token as string)).toMatchObject({ active: true, aud: [MCP] });
    await expectOAuthError(await token(client, [['grant_type', 'client_credentials'], ['resource', API]]), 400, 'invalid_target', JSON.stringify(API));
  });

  it('refuses a registrant naming a resource outside allowed_audiences', async () => {
    const res = await register(svc, machineClient({ audience: [MCP, OUTSIDE] }), await mintIat(svc));
    await expectOAuthError(res, 400, 'invalid_client_metadata', 'audience', OUTSIDE, 'allowed_audiences');
  });

  it('lets a policy\'s allowed_audiences decide which resources its registrants may name', async () => {
    const name = `resources-${Date.now()}`;
    const created = await svc.admin('/admin/policies', { method: 'POST', json: { name, rules: { allowed_audiences: [BILLING] } } });
    expect(created.status).toBe(201);
    const refused = await register(svc, machineClient({ audience: [API] }), await mintIat(svc, { policies: [name] }));
    await expectOAuthError(refused, 400, 'invalid_client_metadata', `policy "${name}"`, API);
    const ok = await register(svc, machineClient({ audience: [BILLING] }), await mintIat(svc, { policies: [name] }));
    const registered = (await ok.json()) as Json;
    expect({ status: ok.status, audience: registered.audience }).toEqual({ status: 201, audience: [BILLING] });
    const client = { id: String(registered.client_id), secret: String(registered.client_secret) };
    await tokens(await token(client, [['grant_type', 'client_credentials'], ['resource', BILLING]]));
  });
});

describe('oauth4webapi sends resource unchanged', () => {
  it('gets tokens narrowed by resource for client_credentials, the code exchange and a refresh', async () => {
    const issuer = new URL(svc.url);
    const insecure = { [oauth.allowInsecureRequests]: true };
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
    const created = await adminClient(webClient({
      redirect_uris: [REDIRECT], audience: [API, BILLING], access_token_strategy: 'jwt', scope: 'offline_access',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    }));
    const client: oauth.Client = { client_id: created.id };
    const auth = oauth.ClientSecretBasic(created.secret);

    const cc = await oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(
      as, client, auth, new URLSearchParams([['resource', API], ['resource', BILLING]]), insecure,
    ));
    expect(audOf(cc.access_token)).toEqual([API, BILLING]);

    const verifier = oauth.generateRandomCodeVerifier();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams([
      ['client_id', client.client_id], ['response_type', 'code'], ['redirect_uri', REDIRECT], ['scope', 'offline_access'], ['state', 'st-4w'],
      ['code_challenge', await oauth.calculatePKCECodeChallenge(verifier)], ['code_challenge_method', 'S256'],
      ['resource', API], ['resource', BILLING],
    ]).toString();
    const flow = await runFlowFrom(svc, new Browser(), url);
    const params = oauth.validateAuthResponse(as, client, flow.callback, 'st-4w');
    const exchanged = await oauth.processAuthorizationCodeResponse(as, client, await oauth.authorizationCodeGrantRequest(
      as, client, auth, params, REDIRECT, verifier, { ...insecure, additionalParameters: { resource: BILLING } },
    ));
    expect(audOf(exchanged.access_token)).toBe(BILLING);

    const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(
      as, client, auth, exchanged.refresh_token!, { ...insecure, additionalParameters: { resource: API } },
    ));
    expect(audOf(refreshed.access_token)).toBe(API);

    const refused = await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token!, { ...insecure, additionalParameters: { resource: OUTSIDE } });
    const error = await oauth.processRefreshTokenResponse(as, client, refused).then(() => undefined, (err: unknown) => err);
    expect(error).toBeInstanceOf(oauth.ResponseBodyError);
    expect((error as oauth.ResponseBodyError).error).toBe('invalid_target');
  });
});
