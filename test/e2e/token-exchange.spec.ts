// Token exchange (RFC 8693) over real HTTP: opaque and JWT subject tokens,
// actor tokens and the act claim (§4.1), narrowing of scope and audience,
// the error codes of §2.2.2, and who may exchange (README "Token exchange").
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt } from 'jose';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { createAdminClient, mintIat, register } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { basicAuth } from '../support/net.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const DOWNSTREAM = 'https://downstream.example.com';

let svc: RunningApp;

interface Client {
  id: string;
  secret: string;
}

async function adminClient(body: Record<string, unknown>): Promise<Client> {
  const created = await createAdminClient(svc, machineClient(body));
  return { id: created.client_id, secret: created.client_secret };
}

function tokenRequest(client: Client, params: Record<string, string>): Promise<Response> {
  return fetch(`${svc.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.id, client.secret) },
    body: new URLSearchParams(params).toString(),
  });
}

async function clientToken(client: Client, params: Record<string, string> = {}): Promise<string> {
  const res = await tokenRequest(client, { grant_type: 'client_credentials', ...params });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`client_credentials failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token as string;
}

function exchange(client: Client, subjectToken: string, params: Record<string, string> = {}): Promise<Response> {
  return tokenRequest(client, { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, ...params });
}

async function exchanged(res: Response): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, body }).toMatchObject({ status: 200, body: { token_type: 'Bearer', issued_token_type: ACCESS_TOKEN } });
  return body;
}

async function introspect(token: string): Promise<Record<string, unknown>> {
  const res = await svc.admin('/admin/oauth2/introspect', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  return (await res.json()) as Record<string, unknown>;
}

let api: Client; // the exchanging service (opaque tokens)
let apiJwt: Client; // the same, on the jwt strategy
let frontend: Client; // opaque tokens addressed to both services
let frontendJwt: Client; // the same, as JWTs
let gateway: Client; // an actor

beforeAll(async () => {
  svc = await startApp();
  const exchanger = { grant_types: ['client_credentials', TOKEN_EXCHANGE], scope: 'read write', audience: [DOWNSTREAM, 'https://reports.example.com'] };
  api = await adminClient(exchanger);
  apiJwt = await adminClient({ ...exchanger, access_token_strategy: 'jwt' });
  const audience = [api.id, apiJwt.id];
  frontend = await adminClient({ scope: 'read write admin', audience });
  frontendJwt = await adminClient({ scope: 'read write admin', audience, access_token_strategy: 'jwt' });
  gateway = await adminClient({ scope: 'read', audience });
});
afterAll(async () => {
  await svc?.close();
});

describe('exchanging an access token (RFC 8693 §2)', () => {
  it('exchanges an opaque subject token for a token of the same subject, with issued_token_type and no refresh token', async () => {
    const subject = await clientToken(frontend, { scope: 'read write', audience: api.id });
    const res = await exchange(api, subject, { scope: 'read', audience: DOWNSTREAM });
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await exchanged(res);
    expect(body).not.toHaveProperty('refresh_token');
    expect(body.scope).toBe('read');
    expect(await introspect(body.access_token as string)).toMatchObject({
      active: true,
      sub: frontend.id,
      client_id: api.id,
      scope: 'read',
      aud: [DOWNSTREAM],
    });
  });

  it('exchanges a JWT subject token, verified with the server\'s own keys, into a JWT', async () => {
    const subject = await clientToken(frontendJwt, { scope: 'read', audience: apiJwt.id });
    const body = await exchanged(await exchange(apiJwt, subject, { resource: DOWNSTREAM }));
    expect(decodeJwt(body.access_token as string)).toMatchObject({ sub: frontendJwt.id, client_id: apiJwt.id, scope: 'read', aud: DOWNSTREAM });
  });

  it('grants, when no scope is requested, what both the subject token and the client have', async () => {
    const subject = await clientToken(frontend, { scope: 'read admin', audience: api.id });
    const body = await exchanged(await exchange(api, subject));
    expect(body.scope).toBe('read');
  });

  it('accepts the client\'s own token', async () => {
    const own = await clientToken(api, { scope: 'write' });
    const body = await exchanged(await exchange(api, own, { requested_token_type: ACCESS_TOKEN }));
    // Both tokens have the client's one-hour lifespan, and the new one ends no later than the one it came from:
    // a second boundary crossed between the two requests makes it 3599.
    expect(body.expires_in).toBeGreaterThanOrEqual(3590);
    expect(body.expires_in).toBeLessThanOrEqual(3600);
    const info = await introspect(body.access_token as string);
    expect(info).toMatchObject({ active: true, sub: api.id, scope: 'write' });
    expect(info.exp).toBe((await introspect(own)).exp);
  });

  it('never outlives the subject token', async () => {
    const shortLived = await adminClient({ audience: [api.id], client_credentials_grant_access_token_lifespan: '2m' });
    const subject = await clientToken(shortLived, { audience: api.id });
    const body = await exchanged(await exchange(api, subject));
    expect(body.expires_in).toBeGreaterThan(0);
    expect(body.expires_in).toBeLessThanOrEqual(120);
    const info = await introspect(body.access_token as string);
    expect(info.exp).toBeLessThanOrEqual((await introspect(subject)).exp as number);
  });
});

describe('actors (RFC 8693 §4.1)', () => {
  it('names the actor token\'s subject in act, in introspection of an opaque token', async () => {
    const subject = await clientToken(frontend, { scope: 'read', audience: api.id });
    const actor = await clientToken(gateway, { audience: api.id });
    const body = await exchanged(await exchange(api, subject, { actor_token: actor, actor_token_type: ACCESS_TOKEN }));
    const info = await introspect(body.access_token as string);
    expect(info).toMatchObject({ active: true, sub: frontend.id, act: { sub: gateway.id } });
    expect((info.act as Record<string, unknown>).act).toBeUndefined();
  });

  it('nests the subject token\'s actors under the new one, in a JWT access token', async () => {
    const subject = await clientToken(frontendJwt, { scope: 'read', audience: apiJwt.id });
    const firstActor = await clientToken(gateway, { audience: apiJwt.id });
    const first = await exchanged(await exchange(apiJwt, subject, { actor_token: firstActor, actor_token_type: ACCESS_TOKEN }));
    expect(decodeJwt(first.access_token as string).act).toEqual({ sub: gateway.id });
    const secondActor = await clientToken(apiJwt);
    const second = await exchanged(
      await exchange(apiJwt, first.access_token as string, { actor_token: secondActor, actor_token_type: ACCESS_TOKEN }),
    );
    expect(decodeJwt(second.access_token as string)).toMatchObject({ sub: frontendJwt.id, act: { sub: apiJwt.id, act: { sub: gateway.id } } });
    expect(await introspect(second.access_token as string)).toMatchObject({ act: { sub: apiJwt.id, act: { sub: gateway.id } } });
  });

  it('keeps the subject token\'s actors when no actor token is sent', async () => {
    const subject = await clientToken(frontend, { audience: api.id });
    const actor = await clientToken(gateway, { audience: api.id });
    const first = await exchanged(await exchange(api, subject, { actor_token: actor, actor_token_type: ACCESS_TOKEN }));
    const again = await exchanged(await exchange(api, first.access_token as string));
    expect(await introspect(again.access_token as string)).toMatchObject({ act: { sub: gateway.id } });
  });
});

describe('narrowing only', () => {
  it('refuses a scope the subject token lacks with invalid_scope naming it', async () => {
    const subject = await clientToken(frontend, { scope: 'read', audience: api.id });
    await expectOAuthError(await exchange(api, subject, { scope: 'read write' }), 400, 'invalid_scope', 'write');
  });

  it('refuses a scope the client lacks with invalid_scope naming it', async () => {
    const subject = await clientToken(frontend, { scope: 'read admin', audience: api.id });
    await expectOAuthError(await exchange(api, subject, { scope: 'admin' }), 400, 'invalid_scope', 'admin');
  });

  it('refuses an audience or resource outside the client\'s audience with invalid_target naming it', async () => {
    const subject = await clientToken(frontend, { audience: api.id });
    await expectOAuthError(await exchange(api, subject, { audience: 'https://elsewhere.example.com' }), 400, 'invalid_target', 'https://elsewhere.example.com');
    await expectOAuthError(await exchange(api, subject, { resource: 'https://other.example.com' }), 400, 'invalid_target', 'https://other.example.com');
  });
});

describe('refused subject and actor tokens (RFC 8693 §2.2.2: invalid_request)', () => {
  it('refuses a revoked subject token', async () => {
    const subject = await clientToken(frontend, { audience: api.id });
    const revoked = await fetch(`${svc.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(frontend.id, frontend.secret) },
      body: new URLSearchParams({ token: subject }).toString(),
    });
    expect(revoked.status).toBe(200);
    await expectOAuthError(await exchange(api, subject), 400, 'invalid_request', 'subject_token');
  });

  it('refuses a revoked JWT subject token', async () => {
    const subject = await clientToken(frontendJwt, { audience: apiJwt.id });
    expect((await exchange(apiJwt, subject)).status).toBe(200);
    await fetch(`${svc.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(frontendJwt.id, frontendJwt.secret) },
      body: new URLSearchParams({ token: subject }).toString(),
    });
    await expectOAuthError(await exchange(apiJwt, subject), 400, 'invalid_request', 'subject_token');
  });

  it('refuses a token that is no access token of this server', async () => {
    await expectOAuthError(await exchange(api, 'not-a-token'), 400, 'invalid_request', 'subject_token');
    const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.sig`;
    await expectOAuthError(await exchange(api, forged), 400, 'invalid_request', 'subject_token');
  });

  it('refuses a subject token neither issued to the client nor addressed to it', async () => {
    const other = await clientToken(gateway);
    await expectOAuthError(await exchange(api, other), 400, 'invalid_request', 'subject_token', 'neither issued to this client');
  });

  it('refuses an actor token of another audience', async () => {
    const subject = await clientToken(frontend, { audience: api.id });
    const actor = await clientToken(gateway);
    await expectOAuthError(await exchange(api, subject, { actor_token: actor, actor_token_type: ACCESS_TOKEN }), 400, 'invalid_request', 'actor_token');
  });

  it.each([
    ['subject_token_type', { subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }],
    ['subject_token_type', { subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' }],
    ['requested_token_type', { requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }],
    ['actor_token_type', { actor_token: 'x', actor_token_type: 'urn:ietf:params:oauth:token-type:saml2' }],
    ['actor_token_type', { actor_token: 'x' }],
    ['actor_token', { actor_token_type: ACCESS_TOKEN }],
  ])('refuses a wrong or missing %s with invalid_request naming it', async (name, params) => {
    const subject = await clientToken(frontend, { audience: api.id });
    await expectOAuthError(await exchange(api, subject, params as Record<string, string>), 400, 'invalid_request', name);
  });

  it('requires subject_token and subject_token_type', async () => {
    await expectOAuthError(await tokenRequest(api, { grant_type: TOKEN_EXCHANGE }), 400, 'invalid_request', 'subject_token');
    const subject = await clientToken(frontend, { audience: api.id });
    await expectOAuthError(await tokenRequest(api, { grant_type: TOKEN_EXCHANGE, subject_token: subject }), 400, 'invalid_request', 'subject_token_type');
  });
});

describe('who may exchange', () => {
  it('a client without the grant type is unauthorized_client', async () => {
    const subject = await clientToken(frontend, { audience: api.id });
    await expectOAuthError(await exchange(frontend, subject), 400, 'unauthorized_client', TOKEN_EXCHANGE);
  });

  it('a DCR registrant cannot give itself the grant type: 400 naming grant_types, at registration and update', async () => {
    const res = await register(svc, machineClient({ grant_types: ['client_credentials', TOKEN_EXCHANGE] }), await mintIat(svc));
    await expectOAuthError(res, 400, 'invalid_client_metadata', 'grant_types', TOKEN_EXCHANGE);
    const ok = await register(svc, machineClient(), await mintIat(svc));
    const registered = (await ok.json()) as Record<string, unknown>;
    const put = await fetch(`${svc.url}/oauth2/register/${String(registered.client_id)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${String(registered.registration_access_token)}` },
      body: JSON.stringify(machineClient({ client_id: registered.client_id, grant_types: ['client_credentials', TOKEN_EXCHANGE] })),
    });
    await expectOAuthError(put, 400, 'invalid_client_metadata', 'grant_types', TOKEN_EXCHANGE);
  });

  it('a DCR client an admin gave the grant type keeps it through its own RFC 7592 update', async () => {
    const ok = await register(svc, machineClient(), await mintIat(svc));
    const registered = (await ok.json()) as Record<string, unknown>;
    const id = String(registered.client_id);
    const patch = await svc.admin(`/admin/clients/${id}`, {
      method: 'PATCH',
      json: [{ op: 'replace', path: '/grant_types', value: ['client_credentials', TOKEN_EXCHANGE] }],
    });
    expect(patch.status).toBe(200);
    const put = await fetch(`${svc.url}/oauth2/register/${id}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${String(registered.registration_access_token)}` },
      body: JSON.stringify(machineClient({ client_id: id, grant_types: ['client_credentials', TOKEN_EXCHANGE] })),
    });
    expect({ status: put.status, grant_types: ((await put.json()) as Record<string, unknown>).grant_types }).toEqual({
      status: 200,
      grant_types: ['client_credentials', TOKEN_EXCHANGE],
    });
  });

  it('a public client cannot have it', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ grant_types: [TOKEN_EXCHANGE], token_endpoint_auth_method: 'none' }) });
    await expectOAuthError(res, 400, 'invalid_client_metadata', 'token_endpoint_auth_method');
  });
});

describe('switched by oauth2.grant.token_exchange.enabled', () => {
  let off: RunningApp;

  beforeAll(async () => {
    off = await startApp({ env: { OAUTH2_GRANT_TOKEN_EXCHANGE_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('discovery lists the grant only while it is on; off, the token endpoint answers unsupported_grant_type', async () => {
    const on = (await (await fetch(`${svc.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(on.grant_types_supported).toContain(TOKEN_EXCHANGE);
    const doc = (await (await fetch(`${off.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.grant_types_supported).not.toContain(TOKEN_EXCHANGE);
    const res = await fetch(`${off.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: ACCESS_TOKEN }).toString(),
    });
    await expectOAuthError(res, 400, 'unsupported_grant_type');
  });
});
