// Recovering a lost registration access token with a private_key_jwt client
// assertion, over real HTTP (README "Re-registration and recovering a
// registration access token"; RFC 7523 §3 for the assertion).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, registerClient } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';

type Json = Record<string, unknown>;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let svc: RunningApp;
let clientKey: CryptoKey;
let clientJwk: JWK;
let otherKey: CryptoKey;

beforeAll(async () => {
  [{ privateKey: clientKey, publicKey: clientJwk }, { privateKey: otherKey }] = await Promise.all([
    generateKeyPair('ES256').then(async (p) => ({ privateKey: p.privateKey, publicKey: { ...(await exportJWK(p.publicKey)), kid: 'k1', alg: 'ES256' } })),
    generateKeyPair('ES256').then((p) => ({ privateKey: p.privateKey, publicKey: {} as JWK })),
  ]);
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

function endpoint(clientId: string): string {
  return `${svc.url}/oauth2/register/${encodeURIComponent(clientId)}/registration-access-token`;
}

function assertion(clientId: string, options: { aud?: string; key?: CryptoKey; jti?: string; exp?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(options.aud ?? endpoint(clientId))
    .setJti(options.jti ?? randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(options.exp ?? now + 60)
    .sign(options.key ?? clientKey);
}

function recover(clientId: string, form: Record<string, string> | string, contentType = 'application/x-www-form-urlencoded'): Promise<Response> {
  return fetch(endpoint(clientId), {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
  });
}

async function recoverWith(clientId: string, jwt: string): Promise<Response> {
  return recover(clientId, { client_assertion_type: ASSERTION_TYPE, client_assertion: jwt });
}

function keyClient(): Promise<Json> {
  return registerClient(svc, machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [clientJwk] } }));
}

async function readStatus(clientId: string, rat: string): Promise<number> {
  const res = await manage(svc, 'GET', clientId, rat);
  await res.text();
  return res.status;
}

/** Every refusal is this one answer, whatever the reason. */
async function expectRefused(res: Response): Promise<void> {
  const body = await expectOAuthError(res, 401, 'invalid_client');
  expect(body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
}

describe('recovering a registration access token', () => {
  it('gives a private_key_jwt client a new token for an assertion addressed to the endpoint; the previous one stops working', async () => {
    const client = await keyClient();
    const clientId = client.client_id as string;
    const res = await recoverWith(clientId, await assertion(clientId));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({ client_id: clientId, token_endpoint_auth_method: 'private_key_jwt', registration_client_uri: `${svc.url}/oauth2/register/${clientId}` });
    expect(body).not.toHaveProperty('client_secret');
    expect(body.registration_access_token).toEqual(expect.any(String));
    expect(body.registration_access_token).not.toBe(client.registration_access_token);
    expect(await readStatus(clientId, client.registration_access_token as string)).toBe(401);
    expect(await readStatus(clientId, body.registration_access_token as string)).toBe(200);
    // In the audit trail, by the client that proved itself (README "Audit events").
    const trail = (await (await svc.admin(`/admin/events?type=client.rat_recovered&client_id=${encodeURIComponent(clientId)}`)).json()) as Json[];
    expect(trail).toEqual([expect.objectContaining({ actor: { type: 'client', client_id: clientId } })]);
  });

  it('accepts the issuer as the audience', async () => {
    const client = await keyClient();
    const res = await recoverWith(client.client_id as string, await assertion(client.client_id as string, { aud: svc.url }));
    expect(res.status).toBe(200);
  });

  it('refuses a replayed assertion, and the token it issued keeps working', async () => {
    const client = await keyClient();
    const clientId = client.client_id as string;
    const jwt = await assertion(clientId);
    const first = (await (await recoverWith(clientId, jwt)).json()) as Json;
    await expectRefused(await recoverWith(clientId, jwt));
    expect(await readStatus(clientId, first.registration_access_token as string)).toBe(200);
  });

  it('refuses an assertion already used at the token endpoint (one jti record for both)', async () => {
    const client = await keyClient();
    const clientId = client.client_id as string;
    const jti = randomUUID();
    const token = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(clientId, { aud: svc.url, jti }) }),
    });
    expect(token.status).toBe(200);
    await expectRefused(await recoverWith(clientId, await assertion(clientId, { aud: svc.url, jti })));
  });

  it.each<[string, (clientId: string) => Promise<string>]>([
    ['signed with another key', (id) => assertion(id, { key: otherKey })],
    ['addressed to the token endpoint', (id) => assertion(id, { aud: `${svc.url}/oauth2/token` })],
    ['expired', (id) => assertion(id, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ['valid for more than ten minutes', (id) => assertion(id, { exp: Math.floor(Date.now() / 1000) + 3600 })],
    ['not a JWT', async () => 'not-a-jwt'],
    ['unsigned', async (id) => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: id, sub: id, aud: svc.url, exp: 9e9, jti: 'x' })).toString('base64url')}.`],
  ])('refuses an assertion %s, with the one answer, and the old token keeps working', async (_what, make) => {
    const client = await keyClient();
    const clientId = client.client_id as string;
    await expectRefused(await recoverWith(clientId, await make(clientId)));
    expect(await readStatus(clientId, client.registration_access_token as string)).toBe(200);
  });

  it('refuses an assertion for another client', async () => {
    const [a, b] = [await keyClient(), await keyClient()];
    await expectRefused(await recoverWith(b.client_id as string, await assertion(a.client_id as string, { aud: svc.url })));
  });

  it('refuses clients without keys, clients on another method, operator-created clients and unknown clients alike', async () => {
    const secretClient = await registerClient(svc, machineClient());
    await expectRefused(await recoverWith(secretClient.client_id as string, await assertion(secretClient.client_id as string)));

    // Keys registered, but the client authenticates with its secret: the keys do not stand for it here.
    const keyedSecretClient = await registerClient(svc, machineClient({ jwks: { keys: [clientJwk] } }));
    await expectRefused(await recoverWith(keyedSecretClient.client_id as string, await assertion(keyedSecretClient.client_id as string)));

    const created = await svc.admin('/admin/clients', {
      method: 'POST',
      json: machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [clientJwk] } }),
    });
    const adminClient = (await created.json()) as Json;
    await expectRefused(await recoverWith(adminClient.client_id as string, await assertion(adminClient.client_id as string)));

    const unknown = randomUUID();
    await expectRefused(await recoverWith(unknown, await assertion(unknown)));
  });

  it('does not take the recovery audience at the token endpoint', async () => {
    const client = await keyClient();
    const clientId = client.client_id as string;
    const res = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(clientId) }),
    });
    await expectOAuthError(res, 401, 'invalid_client');
  });
});

describe('hostile recovery requests', () => {
  let clientId: string;
  beforeAll(async () => {
    clientId = (await keyClient()).client_id as string;
  });

  it('refuses JSON and other media types: the parameters are form parameters', async () => {
    const jwt = await assertion(clientId);
    await expectOAuthError(await recover(clientId, JSON.stringify({ client_assertion_type: ASSERTION_TYPE, client_assertion: jwt }), 'application/json'), 400, 'invalid_request', 'application/x-www-form-urlencoded');
  });

  it.each<[string, string, string]>([
    ['no parameters', '', 'client_assertion_type must be'],
    ['a wrong assertion type', `client_assertion_type=urn%3Aexample&client_assertion=x`, 'client_assertion_type must be'],
    ['no assertion', `client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}`, 'client_assertion is required'],
    ['an empty assertion', `client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}&client_assertion=`, 'client_assertion is required'],
    ['a repeated assertion', `client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}&client_assertion=a&client_assertion=b`, 'client_assertion must not be repeated'],
    ['an unknown parameter', `client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}&client_assertion=a&client_secret=s`, 'unknown parameter client_secret'],
    ['another client_id', `client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}&client_assertion=a&client_id=other`, 'client_id differs'],
    ['an oversized assertion', `client_assertion_type=${encodeURIComponent(ASSERTION_TYPE)}&client_assertion=${'a'.repeat(20_000)}`, 'at most 16384 characters'],
  ])('refuses %s with 400 naming the parameter', async (_what, form, message) => {
    await expectOAuthError(await recover(clientId, form), 400, 'invalid_request', message);
  });

  it('answers a NUL or a broken escape in the client_id as any unknown client, never 500', async () => {
    const form = { client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(clientId) };
    const nul = await fetch(`${svc.url}/oauth2/register/a%00b/registration-access-token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    expect([400, 401]).toContain(nul.status);
    await expectOAuthError(nul, nul.status, nul.status === 401 ? 'invalid_client' : 'invalid_request');
  });
});

describe('turned off', () => {
  let off: RunningApp;
  beforeAll(async () => {
    off = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_REGISTRATION_ACCESS_TOKEN_RECOVERY: 'false' } });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('answers 404 while oidc.dynamic_client_registration.registration_access_token.recovery is false', async () => {
    const client = await registerClient(off, machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [clientJwk] } }));
    const clientId = client.client_id as string;
    const res = await fetch(`${off.url}/oauth2/register/${clientId}/registration-access-token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(clientId, { aud: off.url }) }).toString(),
    });
    await expectOAuthError(res, 404, 'not_found', 'recovery is not enabled');
  });
});
