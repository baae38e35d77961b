// Operating a fleet of dynamic clients (README): provenance filters on the
// admin list, suspending and resuming a client, bulk actions with a dry run,
// and software statements that must stay valid (the janitor), over real HTTP
// against the real app on a PostgreSQL database of this file's own.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { main } from '../../src/cli/cli.js';
import { JanitorService } from '../../src/database/janitor.service.js';
import { machineClient, webClient } from '../factories/clients.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { manage, mintIatRecord, register } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { allPages, basicAuth } from '../support/net.js';
import { adminIntrospect, authorizeUrl, Browser, codeFlowTokens as codeFlow, pkcePair, runFlow, tokenRequest } from '../support/oauth-flow.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';

type Body = Record<string, unknown>;

const ISSUER = 'https://vendor.example';
const OTHER_ISSUER = 'https://other-vendor.example';
const REDIRECT = 'https://app.example.com/callback';
const FLOW_ENV = { URLS_LOGIN: 'https://login.example.com/login', URLS_CONSENT: 'https://login.example.com/consent' };

let db: { name: string; dsn: string };
let svc: RunningApp;
let statementKey: CryptoKey;
let trustedIssuers: string;
let statementJwk: Body;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  statementKey = privateKey;
  statementJwk = { ...(await exportJWK(publicKey)), kid: 'vendor-1', alg: 'ES256' };
  trustedIssuers = JSON.stringify([{ issuer: ISSUER, jwks: { keys: [statementJwk] } }]);
  db = await createDatabase('registrar_fleet');
  svc = await startApp({ env: { DSN: db.dsn, ...FLOW_ENV, OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_TRUSTED_ISSUERS: trustedIssuers } });
});
afterAll(async () => {
  await svc?.close();
  if (db) await dropDatabase(db.name);
});

const sql = async (text: string, params: unknown[] = []) => (await query(text, params, db.dsn)).rows;
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function statement(claims: Body, expiresIn = 3600): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'vendor-1' })
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
    .sign(statementKey);
}

async function registerWith(iat: string, body: Body): Promise<Body> {
  const res = await register(svc, body, iat);
  const answer = (await res.json()) as Body;
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${JSON.stringify(answer)}`);
  return answer;
}

async function adminJson(path: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; body: unknown; res: Response }> {
  const res = await svc.admin(path, init);
  return { status: res.status, body: await res.json().catch(() => undefined), res };
}

async function listIds(params: Record<string, string>): Promise<string[]> {
  const { status, body } = await adminJson(`/admin/clients?${new URLSearchParams(params).toString()}`);
  expect(status).toBe(200);
  return (body as Body[]).map((c) => c.client_id as string).sort();
}

const bulk = (json: unknown) => svc.admin('/admin/bulk/clients', { method: 'POST', json });

async function clientCredentials(client: Body): Promise<{ status: number; body: Body }> {
  return tokenRequest(svc, { grant_type: 'client_credentials' }, { id: client.client_id as string, secret: client.client_secret as string });
}

async function accessToken(client: Body): Promise<string> {
  const { status, body } = await clientCredentials(client);
  expect(status).toBe(200);
  return body.access_token as string;
}

async function setStrategy(clientId: string, value: 'jwt' | 'opaque'): Promise<void> {
  const res = await svc.admin(`/admin/clients/${encodeURIComponent(clientId)}`, {
    method: 'PATCH',
    json: [{ op: 'replace', path: '/access_token_strategy', value }],
  });
  expect(res.status).toBe(200);
}

const active = async (token: string) => (await adminIntrospect(svc, token)).active;

describe('GET /admin/clients filters on provenance, activity and suspension', () => {
  const policy = unique('partners');
  let viaPolicy: { id: string; token: string };
  let plain: { id: string; token: string };
  let first: Body;
  let second: Body;
  let withStatement: Body;
  let adminMade: Body;
  const softwareId = unique('software');

  beforeAll(async () => {
    expect((await svc.admin('/admin/policies', { method: 'POST', json: { name: policy, rules: {} } })).status).toBe(201);
    viaPolicy = await mintIatRecord(svc, { max_uses: 5, policies: [policy] });
    plain = await mintIatRecord(svc, { max_uses: 5 });
    first = await registerWith(viaPolicy.token, machineClient({ software_id: softwareId }));
    second = await registerWith(viaPolicy.token, machineClient());
    withStatement = await registerWith(plain.token, {
      software_statement: await statement({ software_id: 'vendor-app', grant_types: ['client_credentials'], scope: 'read' }),
    });
    const created = await adminJson('/admin/clients', { method: 'POST', json: machineClient({ owner: unique('team') }) });
    expect(created.status).toBe(201);
    adminMade = created.body as Body;
  });

  it('initial_access_token_id: only the clients registered with that token', async () => {
    expect(await listIds({ initial_access_token_id: viaPolicy.id })).toEqual([first.client_id, second.client_id].sort());
    expect(await listIds({ initial_access_token_id: plain.id })).toEqual([withStatement.client_id]);
    expect(await listIds({ initial_access_token_id: 'no-such-token' })).toEqual([]);
  });

  it('policy: only the clients registered through that policy', async () => {
    expect(await listIds({ policy })).toEqual([first.client_id, second.client_id].sort());
    expect(await listIds({ policy: unique('never-used') })).toEqual([]);
  });

  it('software_id: the client with that software_id, also when it came from a software statement', async () => {
    expect(await listIds({ software_id: softwareId })).toEqual([first.client_id]);
    expect(await listIds({ software_id: 'vendor-app' })).toEqual([withStatement.client_id]);
  });

  it('software_statement_issuer: clients registered with a statement of that issuer; the admin view shows issuer and expiry', async () => {
    expect(await listIds({ software_statement_issuer: ISSUER })).toEqual([withStatement.client_id]);
    expect(await listIds({ software_statement_issuer: OTHER_ISSUER })).toEqual([]);
    const { body } = await adminJson(`/admin/clients/${String(withStatement.client_id)}`);
    expect(body).toMatchObject({ software_statement_issuer: ISSUER, suspended_at: null, suspended_reason: null });
    const expiry = Date.parse((body as Body).software_statement_expires_at as string);
    expect(Math.abs(expiry - (Date.now() + 3600_000))).toBeLessThan(120_000);
    expect((await adminJson(`/admin/clients/${String(first.client_id)}`)).body).toMatchObject({
      software_statement_issuer: null,
      software_statement_expires_at: null,
    });
  });

  it('created_via: admin or dcr', async () => {
    const admins = await listIds({ created_via: 'admin' });
    const dcr = await listIds({ created_via: 'dcr' });
    expect(admins).toContain(adminMade.client_id);
    expect(admins).not.toContain(first.client_id);
    expect(dcr).toEqual(expect.arrayContaining([first.client_id, second.client_id, withStatement.client_id]));
    expect(dcr).not.toContain(adminMade.client_id);
  });

  it('last_used_before / last_used_after (RFC 3339) bound last_used_at; a client never used matches neither', async () => {
    const before = new Date(Date.now() - 60_000).toISOString();
    await accessToken(second); // recorded as a use
    await sql(`UPDATE clients SET last_used_at = '2020-06-01T00:00:00Z' WHERE id = $1`, [first.client_id]);
    const scope = { initial_access_token_id: viaPolicy.id };
    expect(await listIds({ ...scope, last_used_after: before })).toEqual([second.client_id]);
    expect(await listIds({ ...scope, last_used_before: '2021-01-01T00:00:00Z' })).toEqual([first.client_id]);
    expect(await listIds({ ...scope, last_used_before: '2020-01-01T00:00:00+02:00' })).toEqual([]);
    expect(await listIds({ initial_access_token_id: plain.id, last_used_after: '2000-01-01T00:00:00Z' })).toEqual([]);
  });

  it('suspended: true or false', async () => {
    const scope = { initial_access_token_id: viaPolicy.id };
    expect(await listIds({ ...scope, suspended: 'true' })).toEqual([]);
    expect((await svc.admin(`/admin/clients/${String(first.client_id)}/suspend`, { method: 'POST', json: {} })).status).toBe(200);
    expect(await listIds({ ...scope, suspended: 'true' })).toEqual([first.client_id]);
    expect(await listIds({ ...scope, suspended: 'false' })).toEqual([second.client_id]);
    expect((await svc.admin(`/admin/clients/${String(first.client_id)}/resume`, { method: 'POST' })).status).toBe(200);
    expect(await listIds({ ...scope, suspended: 'true' })).toEqual([]);
  });

  it('combines filters (AND) and pages through them, the Link header keeping every filter', async () => {
    expect(await listIds({ policy, software_id: softwareId, created_via: 'dcr', suspended: 'false' })).toEqual([first.client_id]);
    expect(await listIds({ policy, created_via: 'admin' })).toEqual([]);
    const pages = await allPages<Body>((path) => svc.admin(path), svc.url, `/admin/clients?page_size=1&policy=${encodeURIComponent(policy)}&created_via=dcr`);
    expect(pages.map((p) => p.status)).toEqual([200, 200]);
    const [lower, higher] = [first.client_id, second.client_id].sort();
    expect(pages.map((p) => p.items.map((c) => c.client_id))).toEqual([[lower], [higher]]);
    const next = new URL(pages[0].next!, svc.url);
    expect(next.searchParams.get('policy')).toBe(policy);
    expect(next.searchParams.get('created_via')).toBe('dcr');
    expect(pages[1].next).toBeUndefined();
  });

  it.each([
    ['last_used_before=yesterday', 'last_used_before'],
    ['last_used_after=2025-13-45T00:00:00Z', 'last_used_after'],
    ['last_used_after=2025-01-01', 'last_used_after'],
    ['created_via=metadata_document', 'created_via'],
    ['suspended=yes', 'suspended'],
    ['policy=', 'policy'],
    ['software_id=a&software_id=b', 'software_id'],
    [`owner=${'x'.repeat(2000)}`, 'owner'],
  ])('refuses %s with a 400 naming the parameter', async (q, name) => {
    const res = await svc.admin(`/admin/clients?${q}`);
    await expectOAuthError(res, 400, 'invalid_request', name);
  });
});

/** A code flow with PKCE for a confidential web client, accepted by the login and consent apps; the token answer. */
function codeFlowTokens(client: Body): Promise<{ status: number; body: Record<string, unknown> }> {
  return codeFlow(svc, { client_id: client.client_id as string, client_secret: client.client_secret as string }, REDIRECT);
}

describe('a suspended client gets nothing and its tokens are inactive, until it is resumed', () => {
  let client: Body;
  let opaque: string;
  let jwt: string;
  let flowAccess: string;
  let refresh: string;
  const reason = 'abuse report 4711';

  beforeAll(async () => {
    const iat = await mintIatRecord(svc);
    client = await registerWith(iat.token, webClient({ grant_types: ['authorization_code', 'refresh_token', 'client_credentials'] }));
    opaque = await accessToken(client);
    const tokens = await codeFlowTokens(client);
    expect(tokens.status).toBe(200);
    flowAccess = tokens.body.access_token as string;
    refresh = tokens.body.refresh_token as string;
    await setStrategy(client.client_id as string, 'jwt');
    jwt = await accessToken(client);
    expect(jwt.split('.')).toHaveLength(3);
    expect(opaque.split('.')).toHaveLength(1);
  });

  const userinfo = (token: string) => fetch(`${svc.url}/userinfo`, { headers: { Authorization: `Bearer ${token}` } });
  const introspectAsClient = (token: string) =>
    fetch(`${svc.url}/oauth2/introspect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.client_id as string, client.client_secret as string) },
      body: new URLSearchParams({ token }),
    });

  it('works before the suspension', async () => {
    for (const token of [opaque, jwt, flowAccess, refresh]) expect(await active(token)).toBe(true);
    expect((await userinfo(flowAccess)).status).toBe(200);
  });

  it('POST /admin/clients/{id}/suspend records when and why; the admin view shows it', async () => {
    const { status, body } = await adminJson(`/admin/clients/${String(client.client_id)}/suspend`, { method: 'POST', json: { reason } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ client_id: client.client_id, suspended_reason: reason });
    expect(Math.abs(Date.parse((body as Body).suspended_at as string) - Date.now())).toBeLessThan(60_000);
    const [row] = await sql(`SELECT suspended_at, suspended_reason FROM clients WHERE id = $1`, [client.client_id]);
    expect(row.suspended_reason).toBe(reason);
    expect(row.suspended_at).toBeInstanceOf(Date);
  });

  it('the token endpoint refuses it for every grant: 401 invalid_client, "the client is suspended"', async () => {
    await expectOAuthError(
      await fetch(`${svc.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.client_id as string, client.client_secret as string) },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      }),
      401,
      'invalid_client',
      'suspended',
    );
    const refreshed = await tokenRequest(svc, { grant_type: 'refresh_token', refresh_token: refresh }, { id: client.client_id as string, secret: client.client_secret as string });
    expect(refreshed.status).toBe(401);
    expect(refreshed.body).toMatchObject({ error: 'invalid_client', error_description: 'the client is suspended' });
  });

  it('a wrong secret still gets the one description that says nothing about the client', async () => {
    const res = await tokenRequest(svc, { grant_type: 'client_credentials' }, { id: client.client_id as string, secret: 'wrong-secret' });
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
  });

  it('its opaque and JWT access tokens and its refresh token are inactive at introspection; the client cannot introspect', async () => {
    for (const token of [opaque, jwt, flowAccess, refresh]) expect(await adminIntrospect(svc, token)).toEqual({ active: false });
    await expectOAuthError(await introspectAsClient(opaque), 401, 'invalid_client', 'suspended');
  });

  it('userinfo refuses its access token', async () => {
    const res = await userinfo(flowAccess);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('/oauth2/auth answers 400 invalid_client itself and sends the user nowhere', async () => {
    const res = await fetch(
      authorizeUrl(svc, {
        client_id: client.client_id as string,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: REDIRECT,
        state: 'state-123456',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      }),
      { redirect: 'manual' },
    );
    expect(res.headers.get('location')).toBeNull();
    await expectOAuthError(res, 400, 'invalid_client', 'suspended');
  });

  it('RFC 7592: GET still answers, saying it is suspended and why (nothing secret); PUT and secret rotation are refused with 403', async () => {
    const read = await manage(svc, 'GET', client.client_id as string, client.registration_access_token as string);
    expect(read.status).toBe(200);
    const body = (await read.json()) as Body;
    expect(body).toMatchObject({ client_id: client.client_id, suspended: true, suspended_reason: reason });
    expect(body).not.toHaveProperty('client_secret');
    expect(body).not.toHaveProperty('suspended_at');

    const { registration_access_token: _rat, registration_client_uri: _uri, client_id_issued_at: _iat, client_secret_expires_at: _exp, suspended: _s, suspended_reason: _r, ...metadata } = body;
    const put = await manage(svc, 'PUT', client.client_id as string, client.registration_access_token as string, { ...metadata, client_name: 'renamed' });
    await expectOAuthError(put, 403, 'access_denied', 'suspended');
    const rotate = await fetch(`${svc.url}/oauth2/register/${String(client.client_id)}/secrets/rotate`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${String(client.registration_access_token)}` },
    });
    await expectOAuthError(rotate, 403, 'access_denied', 'suspended');
    expect((await adminJson(`/admin/clients/${String(client.client_id)}`)).body).not.toMatchObject({ client_name: 'renamed' });
  });

  it('a second suspend keeps suspended_at and takes the new reason', async () => {
    const before = ((await adminJson(`/admin/clients/${String(client.client_id)}`)).body as Body).suspended_at;
    const again = await adminJson(`/admin/clients/${String(client.client_id)}/suspend`, { method: 'POST', json: { reason: 'still under review' } });
    expect(again.body).toMatchObject({ suspended_at: before, suspended_reason: 'still under review' });
  });

  it('POST /admin/clients/{id}/resume restores everything that has not expired', async () => {
    const { status, body } = await adminJson(`/admin/clients/${String(client.client_id)}/resume`, { method: 'POST' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ suspended_at: null, suspended_reason: null });
    for (const token of [opaque, jwt, flowAccess, refresh]) expect(await active(token)).toBe(true);
    expect((await userinfo(flowAccess)).status).toBe(200);
    expect((await clientCredentials(client)).status).toBe(200);
    const refreshed = await tokenRequest(svc, { grant_type: 'refresh_token', refresh_token: refresh }, { id: client.client_id as string, secret: client.client_secret as string });
    expect(refreshed.status).toBe(200);
    const read = (await (await manage(svc, 'GET', client.client_id as string, client.registration_access_token as string)).json()) as Body;
    expect(read).not.toHaveProperty('suspended');
  });

  it('RFC 7592 DELETE still works while suspended', async () => {
    const other = await registerWith((await mintIatRecord(svc)).token, machineClient());
    expect((await svc.admin(`/admin/clients/${String(other.client_id)}/suspend`, { method: 'POST' })).status).toBe(200);
    expect((await manage(svc, 'DELETE', other.client_id as string, other.registration_access_token as string)).status).toBe(204);
    expect((await svc.admin(`/admin/clients/${String(other.client_id)}`)).status).toBe(404);
  });

  it('refuses an unknown client (404), a bad reason, an unknown field, and a body on resume (400)', async () => {
    await expectOAuthError(await svc.admin('/admin/clients/no-such-client/suspend', { method: 'POST' }), 404, 'not_found');
    await expectOAuthError(await svc.admin('/admin/clients/no-such-client/resume', { method: 'POST' }), 404, 'not_found');
    const path = `/admin/clients/${String(client.client_id)}`;
    await expectOAuthError(await svc.admin(`${path}/suspend`, { method: 'POST', json: { reason: 42 } }), 400, 'invalid_request', 'reason');
    await expectOAuthError(await svc.admin(`${path}/suspend`, { method: 'POST', json: { reason: 'x'.repeat(501) } }), 400, 'invalid_request', 'reason');
    await expectOAuthError(await svc.admin(`${path}/suspend`, { method: 'POST', json: { why: 'no' } }), 400, 'invalid_request', 'why');
    await expectOAuthError(await svc.admin(`${path}/resume`, { method: 'POST', json: { reason: 'x' } }), 400, 'invalid_request', 'reason');
    expect(((await adminJson(path)).body as Body).suspended_at).toBeNull();
  });
});

describe('POST /admin/bulk/clients', () => {
  it('a dry run counts the matching clients, lists the first ids, and changes nothing', async () => {
    const iat = await mintIatRecord(svc, { max_uses: 3 });
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await registerWith(iat.token, machineClient())).client_id as string);
    for (const action of ['suspend', 'delete', 'revoke_tokens']) {
      const res = await bulk({ filter: { initial_access_token_id: iat.id }, action, dry_run: true });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ matched: 3, sample: ids.sort() });
    }
    const rows = await sql(`SELECT id, suspended_at, tokens_revoked_at FROM clients WHERE initial_access_token_id = $1`, [iat.id]);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect([row.suspended_at, row.tokens_revoked_at]).toEqual([null, null]);
  });

  it('all: true with a dry run counts every client', async () => {
    const [{ n }] = await sql(`SELECT count(*)::int AS n FROM clients`);
    const res = await bulk({ action: 'delete', all: true, dry_run: true });
    expect(((await res.json()) as Body).matched).toBe(n);
    expect((await sql(`SELECT count(*)::int AS n FROM clients`))[0].n).toBe(n);
  });

  it('suspends and resumes the matched clients, counting only those it changed', async () => {
    const iat = await mintIatRecord(svc, { max_uses: 3 });
    const clients = [];
    for (let i = 0; i < 3; i += 1) clients.push(await registerWith(iat.token, machineClient()));
    const filter = { initial_access_token_id: iat.id };
    expect((await svc.admin(`/admin/clients/${String(clients[0].client_id)}/suspend`, { method: 'POST' })).status).toBe(200);

    const suspended = await bulk({ filter, action: 'suspend', reason: 'campaign 12 ended' });
    expect(await suspended.json()).toEqual({ matched: 3, applied: 2 });
    const rows = await sql(`SELECT suspended_reason FROM clients WHERE initial_access_token_id = $1 AND suspended_at IS NOT NULL ORDER BY id`, [iat.id]);
    expect(rows).toHaveLength(3);
    expect(rows.filter((r) => r.suspended_reason === 'campaign 12 ended')).toHaveLength(2);
    expect((await clientCredentials(clients[1])).status).toBe(401);

    const resumed = await bulk({ filter: { ...filter, suspended: true }, action: 'resume' });
    expect(await resumed.json()).toEqual({ matched: 3, applied: 3 });
    expect((await sql(`SELECT count(*)::int AS n FROM clients WHERE initial_access_token_id = $1 AND suspended_at IS NOT NULL`, [iat.id]))[0].n).toBe(0);
    expect((await clientCredentials(clients[1])).status).toBe(200);
  });

  it('revoke_tokens ends every access and refresh token of the matched clients, opaque and JWT, and no other client\'s', async () => {
    const owner = unique('fleet-owner');
    const machine = (await adminJson('/admin/clients', { method: 'POST', json: machineClient({ owner }) })).body as Body;
    const web = (await adminJson('/admin/clients', { method: 'POST', json: webClient({ owner, redirect_uris: [REDIRECT] }) })).body as Body;
    const bystander = (await adminJson('/admin/clients', { method: 'POST', json: machineClient({ owner: unique('other-owner') }) })).body as Body;
    const opaque = await accessToken(machine);
    const untouched = await accessToken(bystander);
    await setStrategy(web.client_id as string, 'jwt');
    const tokens = await codeFlowTokens(web);
    const grantJwt = tokens.body.access_token as string;
    const refresh = tokens.body.refresh_token as string;
    await setStrategy(machine.client_id as string, 'jwt');
    const machineJwt = await accessToken(machine);
    await setStrategy(machine.client_id as string, 'opaque');
    for (const token of [opaque, machineJwt, grantJwt, refresh, untouched]) expect(await active(token)).toBe(true);

    const res = await bulk({ filter: { owner }, action: 'revoke_tokens' });
    expect(await res.json()).toEqual({ matched: 2, applied: 2 });
    for (const token of [opaque, machineJwt, grantJwt, refresh]) expect(await active(token)).toBe(false);
    expect(await active(untouched)).toBe(true);
    const refreshed = await tokenRequest(svc, { grant_type: 'refresh_token', refresh_token: refresh }, { id: web.client_id as string, secret: web.client_secret as string });
    expect(refreshed.body.error).toBe('invalid_grant');
    // The clients themselves carry on: a new (opaque) token works.
    expect(await active(await accessToken(machine))).toBe(true);
  });

  it('delete removes the matched clients; the initial access token and the policy stay used up (they count registrations)', async () => {
    const policy = unique('capped');
    expect((await svc.admin('/admin/policies', { method: 'POST', json: { name: policy, rules: { max_clients: 2 } } })).status).toBe(201);
    const iat = await mintIatRecord(svc, { max_uses: 2, policies: [policy] });
    const spare = await mintIatRecord(svc, { max_uses: 1, policies: [policy] });
    const made = [await registerWith(iat.token, machineClient()), await registerWith(iat.token, machineClient())];

    const res = await bulk({ filter: { initial_access_token_id: iat.id }, action: 'delete' });
    expect(await res.json()).toEqual({ matched: 2, applied: 2 });
    for (const c of made) expect((await svc.admin(`/admin/clients/${String(c.client_id)}`)).status).toBe(404);
    expect((await sql(`SELECT count(*)::int AS n FROM access_tokens WHERE client_id = ANY($1)`, [made.map((c) => c.client_id)]))[0].n).toBe(0);

    expect(((await adminJson(`/admin/initial-access-tokens/${iat.id}`)).body as Body).uses).toBe(2);
    await expectOAuthError(await register(svc, machineClient(), iat.token), 401, 'invalid_token');
    expect(((await adminJson(`/admin/policies/${policy}`)).body as Body).clients_created).toBe(2);
    await expectOAuthError(await register(svc, machineClient(), spare.token), 400, 'invalid_client_metadata', 'max_clients');
    expect(((await adminJson(`/admin/initial-access-tokens/${spare.id}`)).body as Body).uses).toBe(0);
  });

  it('refuses an empty filter unless all: true is explicit, and changes nothing', async () => {
    const state = async () => (await sql(`SELECT count(*)::int AS n, count(suspended_at)::int AS suspended FROM clients`))[0];
    const before = await state();
    expect(before.n).toBeGreaterThan(0);
    for (const body of [{ action: 'delete' }, { action: 'delete', filter: {} }, { action: 'suspend', all: false }]) {
      await expectOAuthError(await bulk(body), 400, 'invalid_request', 'all');
    }
    expect(await state()).toEqual(before);
  });

  it.each([
    [{ action: 'wipe', filter: { owner: 'x' } }, 'action'],
    [{ filter: { owner: 'x' } }, 'action'],
    [{ action: 'delete', filter: { owner: 'x' }, dry_run: 'yes' }, 'dry_run'],
    [{ action: 'delete', filter: { owner: 'x' }, reason: 'why' }, 'reason'],
    [{ action: 'suspend', filter: { owner: 'x' }, reason: '' }, 'reason'],
    [{ action: 'delete', filter: { owner: 'x' }, all: true }, 'all'],
    [{ action: 'delete', filter: { colour: 'red' } }, 'filter.colour'],
    [{ action: 'delete', filter: { suspended: 'maybe' } }, 'filter.suspended'],
    [{ action: 'delete', filter: { last_used_before: 1700000000 } }, 'filter.last_used_before'],
    [{ action: 'delete', filter: { owner: ['a'] } }, 'filter.owner'],
    [{ action: 'delete', filter: ['owner'] }, 'filter'],
    [{ action: 'delete', filter: { owner: 'x' }, force: true }, 'force'],
  ])('refuses %j with a 400 naming %s', async (body, name) => {
    await expectOAuthError(await bulk(body), 400, 'invalid_request', name);
  });

  it('refuses a body that is not a JSON object', async () => {
    await expectOAuthError(await bulk(['delete']), 400, 'invalid_request');
  });
});

describe('software statements that stay valid: the janitor and oidc.dynamic_client_registration.software_statement.on_invalid', () => {
  let expired: Body[];
  let valid: Body;

  const janitorWith = async (env: Record<string, string>) =>
    startApp({ env: { DSN: db.dsn, OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_TRUSTED_ISSUERS: trustedIssuers, ...env } });
  const rows = (ids: unknown[]) => sql(`SELECT id, suspended_at, suspended_reason FROM clients WHERE id = ANY($1) ORDER BY id`, [ids]);
  const logLines = (app: RunningApp, from: number) =>
    app.logs
      .slice(from)
      .map((line) => JSON.parse(line) as Body)
      .filter((entry) => entry.msg === 'clients with a software statement that is no longer valid');

  beforeAll(async () => {
    const iat = await mintIatRecord(svc, { max_uses: 3 });
    const make = async () =>
      registerWith(iat.token, { software_statement: await statement({ software_id: unique('sw'), grant_types: ['client_credentials'], scope: 'read' }, 600) });
    expired = [await make(), await make()];
    valid = await make();
    // The statements were valid at registration; their exp has passed since.
    await sql(`UPDATE clients SET software_statement_expires_at = now() - interval '1 minute' WHERE id = ANY($1)`, [expired.map((c) => c.client_id)]);
  });

  it('registration stored the statement\'s exp', async () => {
    const [row] = await sql(`SELECT software_statement_issuer, extract(epoch FROM software_statement_expires_at)::int AS exp FROM clients WHERE id = $1`, [valid.client_id]);
    expect(row.software_statement_issuer).toBe(ISSUER);
    expect(Math.abs(row.exp - (Date.now() / 1000 + 600))).toBeLessThan(120);
  });

  it('report only logs the clients, and why', async () => {
    const app = await janitorWith({ OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_ON_INVALID: 'report' });
    try {
      const from = app.logs.length;
      const counts = await app.app.get(JanitorService).runOnce();
      expect(counts).toMatchObject({ invalid_software_statements: 0 });
      const lines = logLines(app, from);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ action: 'report', count: 2 });
      expect((lines[0].clients as Body[]).map((c) => c.client_id)).toEqual(expired.map((c) => c.client_id).sort());
      expect((lines[0].clients as Body[])[0].reason).toMatch(/^software statement expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    } finally {
      await app.close();
    }
    for (const row of await rows([...expired, valid].map((c) => c.client_id))) expect(row.suspended_at).toBeNull();
  });

  it('report names an issuer that is no longer trusted', async () => {
    const app = await janitorWith({
      OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_ON_INVALID: 'report',
      OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_TRUSTED_ISSUERS: JSON.stringify([{ issuer: OTHER_ISSUER, jwks: { keys: [statementJwk] } }]),
    });
    try {
      const from = app.logs.length;
      await app.app.get(JanitorService).runOnce();
      const reported = logLines(app, from).flatMap((l) => l.clients as Body[]);
      expect(reported.find((c) => c.client_id === valid.client_id)?.reason).toBe(`software statement issuer ${ISSUER} is no longer trusted`);
    } finally {
      await app.close();
    }
    expect((await rows([valid.client_id]))[0].suspended_at).toBeNull();
  });

  it('suspend (the default) suspends them, naming why, and they get no tokens; a valid one is untouched', async () => {
    const from = svc.logs.length;
    const counts = await svc.app.get(JanitorService).runOnce();
    expect(counts).toMatchObject({ invalid_software_statements: 2 });
    const [a, b] = await rows(expired.map((c) => c.client_id));
    for (const row of [a, b]) {
      expect(row.suspended_at).toBeInstanceOf(Date);
      expect(row.suspended_reason).toMatch(/^software statement expired at /);
    }
    expect((await rows([valid.client_id]))[0].suspended_at).toBeNull();
    expect(logLines(svc, from)[0]).toMatchObject({ action: 'suspend', count: 2 });
    // Each suspension is in the audit trail, by the server itself, with its reason.
    for (const row of [a, b]) {
      const trail = (await (await svc.admin(`/admin/events?type=client.suspended&client_id=${encodeURIComponent(row.id as string)}`)).json()) as Body[];
      expect(trail).toEqual([expect.objectContaining({ actor: { type: 'system' }, details: { reason: row.suspended_reason } })]);
    }
    await expectOAuthError(
      await fetch(`${svc.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(expired[0].client_id as string, expired[0].client_secret as string) },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      }),
      401,
      'invalid_client',
      'suspended',
    );
    expect((await clientCredentials(valid)).status).toBe(200);
    // A second pass finds nothing new to suspend.
    expect(await svc.app.get(JanitorService).runOnce()).toMatchObject({ invalid_software_statements: 0 });
  });

  it('delete deletes them (suspended or not) and keeps the valid one', async () => {
    const app = await janitorWith({ OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_ON_INVALID: 'delete' });
    try {
      expect(await app.app.get(JanitorService).runOnce()).toMatchObject({ invalid_software_statements: 2 });
    } finally {
      await app.close();
    }
    expect(await rows(expired.map((c) => c.client_id))).toEqual([]);
    expect(await rows([valid.client_id])).toHaveLength(1);
    expect((await svc.admin(`/admin/clients/${String(expired[0].client_id)}`)).status).toBe(404);
  });
});

describe('an RFC 7592 update records the software statement it carries, or none', () => {
  it('replaces the stored issuer and expiry, and clears them when the update has no statement', async () => {
    const iat = await mintIatRecord(svc);
    const client = await registerWith(iat.token, machineClient());
    const path = `/admin/clients/${String(client.client_id)}`;
    expect((await adminJson(path)).body).toMatchObject({ software_statement_issuer: null });
    const update = async (rat: string, extra: Body) => {
      const res = await manage(svc, 'PUT', client.client_id as string, rat, { client_id: client.client_id, grant_types: ['client_credentials'], scope: 'read', ...extra });
      const body = (await res.json()) as Body;
      expect(res.status).toBe(200);
      return body.registration_access_token as string;
    };
    const rat = await update(client.registration_access_token as string, { software_statement: await statement({ software_id: 'updated-app' }, 900) });
    const withStatement = (await adminJson(path)).body as Body;
    expect(withStatement.software_statement_issuer).toBe(ISSUER);
    expect(Math.abs(Date.parse(withStatement.software_statement_expires_at as string) - (Date.now() + 900_000))).toBeLessThan(120_000);
    await update(rat, {});
    expect((await adminJson(path)).body).toMatchObject({ software_statement_issuer: null, software_statement_expires_at: null });
  });
});

describe('the operator CLI', () => {
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(['node', 'registrar', '--url', svc.url, ...args], {
      env: { REGISTRAR_ADMIN_KEY: ADMIN_KEY },
      out: (t) => (out += t),
      err: (t) => (err += t),
    });
    return { code, out, err };
  }

  it('lists with filters, suspends and resumes, and runs a bulk action with --dry-run first', async () => {
    const iat = await mintIatRecord(svc, { max_uses: 2 });
    const made = [await registerWith(iat.token, machineClient()), await registerWith(iat.token, machineClient())];
    const ids = made.map((c) => c.client_id as string).sort();

    const listed = await cli(['--json', 'clients', 'list', '--iat', iat.id, '--created-via', 'dcr', '--suspended', 'false']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.out) as Body[]).map((c) => c.client_id).sort()).toEqual(ids);

    const suspended = await cli(['--json', 'clients', 'suspend', ids[0], '--reason', 'cli review']);
    expect(JSON.parse(suspended.out)).toMatchObject({ client_id: ids[0], suspended_reason: 'cli review' });
    expect((JSON.parse((await cli(['--json', 'clients', 'list', '--iat', iat.id, '--suspended', 'true'])).out) as Body[]).map((c) => c.client_id)).toEqual([ids[0]]);
    expect(JSON.parse((await cli(['--json', 'clients', 'resume', ids[0]])).out)).toMatchObject({ suspended_at: null });

    const dry = await cli(['--json', 'clients', 'bulk', '--action', 'suspend', '--iat', iat.id, '--dry-run']);
    expect(JSON.parse(dry.out)).toEqual({ matched: 2, sample: ids });
    expect((await sql(`SELECT count(suspended_at)::int AS n FROM clients WHERE id = ANY($1)`, [ids]))[0].n).toBe(0);
    const real = await cli(['--json', 'clients', 'bulk', '--action', 'suspend', '--iat', iat.id, '--reason', 'cli bulk']);
    expect(JSON.parse(real.out)).toEqual({ matched: 2, applied: 2 });
    expect((await sql(`SELECT count(*)::int AS n FROM clients WHERE id = ANY($1) AND suspended_reason = 'cli bulk'`, [ids]))[0].n).toBe(2);
  });

  it('refuses a bulk action with no filter and no --all (400, exit 1), and a bad option value before sending anything (exit 2)', async () => {
    const empty = await cli(['clients', 'bulk', '--action', 'delete']);
    expect(empty.code).toBe(1);
    expect(empty.err).toContain('400 invalid_request');
    const bad = await cli(['clients', 'bulk', '--action', 'wipe', '--owner', 'x']);
    expect(bad.code).toBe(2);
    const badFilter = await cli(['clients', 'list', '--suspended', 'maybe']);
    expect(badFilter.code).toBe(2);
  });
});
