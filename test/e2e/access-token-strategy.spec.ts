// README, Access tokens and the strategy, end to end: which access token format a client gets, decided by the
// DCR key, the global key, and what an admin stored on the client, over real
// HTTP against the real app on PostgreSQL. Formats are checked the way an
// outsider would: JWTs with jose against the discovered JWKS (RFC 9068),
// opaque tokens by shape and through introspection (RFC 7662).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, mintIat, register, registerClient } from '../support/dcr.js';
import { createDatabase, dropDatabase } from '../support/postgres.js';
import { adminIntrospect } from '../support/oauth-flow.js';
import { STRATEGY_MATRIX, strategyEnv, type Strategy } from '../support/strategy-matrix.js';
import { basicAuth } from '../support/net.js';


interface Credentials {
  clientId: string;
  secret: string;
}

interface Discovery {
  issuer: string;
  jwks_uri: string;
  token_endpoint: string;
  introspection_endpoint: string;
}

const SCOPE = 'read write';

function envFor(dcr: Strategy | undefined, global: Strategy, extra: Record<string, string> = {}): Record<string, string> {
  return { ...strategyEnv(dcr, global), ...extra };
}

function form(params: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  };
}

function basic({ clientId, secret }: Credentials): string {
  return basicAuth(clientId, secret);
}

async function discover(svc: RunningApp): Promise<Discovery> {
  const res = await fetch(`${svc.url}/.well-known/openid-configuration`);
  expect(res.status).toBe(200);
  return (await res.json()) as Discovery;
}

async function dcrClient(svc: RunningApp, overrides: Record<string, unknown> = {}): Promise<Credentials & { body: Record<string, unknown> }> {
  const body = await registerClient(svc, machineClient({ scope: SCOPE, ...overrides }));
  return { clientId: body.client_id as string, secret: body.client_secret as string, body };
}

async function adminClient(svc: RunningApp, overrides: Record<string, unknown> = {}): Promise<Credentials & { body: Record<string, unknown> }> {
  const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ scope: SCOPE, ...overrides }) });
  expect(res.status).toBe(201);
  const body = (await res.json()) as Record<string, unknown>;
  return { clientId: body.client_id as string, secret: body.client_secret as string, body };
}

async function setStrategy(svc: RunningApp, clientId: string, value: Strategy | ''): Promise<Record<string, unknown>> {
  const res = await svc.admin(`/admin/clients/${encodeURIComponent(clientId)}`, {
    method: 'PATCH',
    json: [{ op: 'replace', path: '/access_token_strategy', value }],
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** POST /oauth2/token, client_credentials, client_secret_basic. */
async function accessToken(svc: RunningApp, creds: Credentials, scope = SCOPE): Promise<string> {
  const res = await fetch(`${svc.url}/oauth2/token`, {
    ...form({ grant_type: 'client_credentials', scope }),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(creds) },
  });
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, body }).toMatchObject({ status: 200, body: { token_type: 'Bearer' } });
  expect(typeof body.access_token).toBe('string');
  return body.access_token as string;
}

function looksLikeJwt(token: string): boolean {
  return (token.match(/\./g) ?? []).length >= 2;
}

/** The format a token is in, judged from outside: a JWT has two dots, an opaque token none. */
function formatOf(token: string): Strategy {
  return looksLikeJwt(token) ? 'jwt' : 'opaque';
}

/** RFC 9068: verified against the discovered JWKS, typ at+jwt, every required claim present and right. */
async function expectRfc9068Jwt(svc: RunningApp, token: string, creds: Credentials, scope = SCOPE): Promise<void> {
  const meta = await discover(svc);
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: meta.issuer, typ: 'at+jwt' });
  expect(protectedHeader.typ).toBe('at+jwt');
  expect(protectedHeader.alg).toBe('RS256');
  expect(typeof protectedHeader.kid).toBe('string');
  expect(payload.iss).toBe(meta.issuer);
  // RFC 9068 §2.2: with client_credentials there is no resource owner; sub names the client.
  expect(payload.sub).toBe(creds.clientId);
  expect(payload.client_id).toBe(creds.clientId);
  expect(payload.scope).toBe(scope);
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  expect(aud.length).toBeGreaterThan(0);
  for (const a of aud) expect(typeof a === 'string' && a.length > 0).toBe(true);
  const now = Math.floor(Date.now() / 1000);
  expect(typeof payload.iat).toBe('number');
  expect(Math.abs(payload.iat! - now)).toBeLessThanOrEqual(60);
  expect(typeof payload.exp).toBe('number');
  expect(payload.exp!).toBeGreaterThan(payload.iat!);
  expect(typeof payload.jti).toBe('string');
  expect(payload.jti!.length).toBeGreaterThan(0);
}

async function introspectAsClient(svc: RunningApp, token: string, creds: Credentials): Promise<Record<string, unknown>> {
  const res = await fetch(`${svc.url}/oauth2/introspect`, {
    ...form({ token }),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(creds) },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

const introspectAsAdmin = adminIntrospect;

/** README, Access tokens and the strategy: random, at least 256 bits, not a JWT, readable only through introspection (both doors). */
async function expectOpaque(svc: RunningApp, token: string, creds: Credentials, scope = SCOPE): Promise<void> {
  expect(looksLikeJwt(token)).toBe(false);
  // 256 bits in base64url are 43 characters.
  expect(token).toMatch(/^[A-Za-z0-9_-]{43,}$/);
  const expected = { active: true, client_id: creds.clientId, scope };
  expect(await introspectAsClient(svc, token, creds)).toMatchObject(expected);
  expect(await introspectAsAdmin(svc, token)).toMatchObject(expected);
}

/** Gets a token for the client and asserts it is in exactly the expected format. */
async function expectFormat(svc: RunningApp, creds: Credentials, expected: Strategy): Promise<string> {
  const token = await accessToken(svc, creds);
  expect(formatOf(token)).toBe(expected);
  if (expected === 'jwt') await expectRfc9068Jwt(svc, token, creds);
  else await expectOpaque(svc, token, creds);
  return token;
}

// The behaviour matrix (README, Access tokens and the strategy): DCR key / global key -> DCR client's tokens.

describe.each(STRATEGY_MATRIX)(
  'with the DCR strategy $dcrLabel and the global strategy $global',
  ({ dcr, global, dcrClientGets }) => {
    let svc: RunningApp;

    beforeAll(async () => {
      svc = await startApp({ env: envFor(dcr, global) });
    });
    afterAll(async () => {
      await svc?.close();
    });

    it(`a client registered through DCR gets ${dcrClientGets} access tokens`, async () => {
      const client = await dcrClient(svc);
      await expectFormat(svc, client, dcrClientGets);
    });

    it(`the DCR client stores the DCR strategy (${dcr ?? 'empty'}) and the registration response does not show it`, async () => {
      const client = await dcrClient(svc);
      expect(client.body).not.toHaveProperty('access_token_strategy');
      const res = await svc.admin(`/admin/clients/${client.clientId}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ created_via: 'dcr', access_token_strategy: dcr ?? '' });
    });

    it(`a client created through the admin API without a strategy gets the global format, ${global}`, async () => {
      const client = await adminClient(svc);
      expect(client.body.access_token_strategy).toBe('');
      await expectFormat(svc, client, global);
    });

    it('every token it issues, in either format, introspects active for its own client', async () => {
      const client = await dcrClient(svc);
      const token = await accessToken(svc, client);
      expect(await introspectAsClient(svc, token, client)).toMatchObject({ active: true, client_id: client.clientId });
      expect(await introspectAsAdmin(svc, token)).toMatchObject({ active: true, client_id: client.clientId });
    });
  },
);

describe('an admin-set access_token_strategy on an instance whose global strategy is opaque', () => {
  let svc: RunningApp;

  beforeAll(async () => {
    svc = await startApp({ env: envFor(undefined, 'opaque') });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('a client created by an admin with access_token_strategy jwt gets JWTs, and the admin response shows the strategy', async () => {
    const client = await adminClient(svc, { access_token_strategy: 'jwt' });
    expect(client.body.access_token_strategy).toBe('jwt');
    await expectFormat(svc, client, 'jwt');
  });

  it('clearing it with a JSON Patch replace to "" makes the client follow the global strategy again', async () => {
    const client = await adminClient(svc, { access_token_strategy: 'jwt' });
    await expectFormat(svc, client, 'jwt');
    const patched = await setStrategy(svc, client.clientId, '');
    expect(patched.access_token_strategy).toBe('');
    await expectFormat(svc, client, 'opaque');
  });

  it('an admin can change the strategy of a client registered through DCR, and the update keeps its registration access token', async () => {
    const client = await dcrClient(svc);
    await expectFormat(svc, client, 'opaque');
    const patched = await setStrategy(svc, client.clientId, 'jwt');
    expect(patched.access_token_strategy).toBe('jwt');
    await expectFormat(svc, client, 'jwt');
    const read = await manage(svc, 'GET', client.clientId, client.body.registration_access_token as string);
    expect(read.status).toBe(200);
  });

  it('an admin cannot store a strategy other than opaque or jwt: 400 invalid_client_metadata naming the field', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ access_token_strategy: 'jwe' }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client_metadata');
    expect(String(body.error_description)).toContain('access_token_strategy');
  });

  it('a JWT issued before the strategy was cleared stays valid afterwards', async () => {
    const client = await adminClient(svc, { access_token_strategy: 'jwt' });
    const jwt = await expectFormat(svc, client, 'jwt');
    await setStrategy(svc, client.clientId, '');
    expect(await introspectAsClient(svc, jwt, client)).toMatchObject({ active: true, client_id: client.clientId });
  });
});

describe('an admin-set access_token_strategy on an instance whose global strategy is jwt', () => {
  let svc: RunningApp;

  beforeAll(async () => {
    svc = await startApp({ env: envFor(undefined, 'jwt') });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('a client created by an admin with access_token_strategy opaque gets opaque tokens', async () => {
    const client = await adminClient(svc, { access_token_strategy: 'opaque' });
    expect(client.body.access_token_strategy).toBe('opaque');
    await expectFormat(svc, client, 'opaque');
  });

  it('clearing it with a JSON Patch replace to "" makes the client follow the global strategy again', async () => {
    const client = await adminClient(svc, { access_token_strategy: 'opaque' });
    await expectFormat(svc, client, 'opaque');
    const patched = await setStrategy(svc, client.clientId, '');
    expect(patched.access_token_strategy).toBe('');
    const read = await svc.admin(`/admin/clients/${client.clientId}`);
    expect(await read.json()).toMatchObject({ access_token_strategy: '' });
    await expectFormat(svc, client, 'jwt');
  });

  it('an admin-set strategy on an existing client applies to the next token it gets', async () => {
    const client = await adminClient(svc);
    await expectFormat(svc, client, 'jwt');
    await setStrategy(svc, client.clientId, 'opaque');
    await expectFormat(svc, client, 'opaque');
  });
});

describe('the DCR payload can never choose the format (DCR strategy jwt, global opaque)', () => {
  let svc: RunningApp;

  beforeAll(async () => {
    svc = await startApp({ env: envFor('jwt', 'opaque') });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it.each([
    ['access_token_strategy', 'opaque'],
    ['access_token_strategy', 'jwt'],
    ['strategies', { access_token: 'opaque' }],
  ])('a registration whose body carries %s is rejected with 400 invalid_client_metadata naming the field', async (field, value) => {
    const res = await register(svc, machineClient({ [field]: value }), await mintIat(svc));
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client_metadata');
    expect(String(body.error_description)).toContain(field);
  });

  it.each([
    ['access_token_strategy', 'opaque'],
    ['strategies', { access_token: 'opaque' }],
  ])('an RFC 7592 PUT whose body carries %s is rejected with 400 invalid_client_metadata naming the field, and changes nothing', async (field, value) => {
    const client = await dcrClient(svc);
    const rat = client.body.registration_access_token as string;
    const res = await manage(svc, 'PUT', client.clientId, rat, {
      ...machineClient({ scope: SCOPE }),
      client_id: client.clientId,
      [field]: value,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client_metadata');
    expect(String(body.error_description)).toContain(field);
    await expectFormat(svc, client, 'jwt');
    const read = await svc.admin(`/admin/clients/${client.clientId}`);
    expect(await read.json()).toMatchObject({ access_token_strategy: 'jwt' });
  });

  it('an RFC 7592 GET does not show the stored strategy', async () => {
    const client = await dcrClient(svc);
    const res = await manage(svc, 'GET', client.clientId, client.body.registration_access_token as string);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.client_id).toBe(client.clientId);
    expect(body).not.toHaveProperty('access_token_strategy');
  });

  it('a client registered under DCR strategy jwt still gets JWTs after an RFC 7592 PUT (the update keeps the stored strategy)', async () => {
    const client = await dcrClient(svc);
    await expectFormat(svc, client, 'jwt');
    const res = await manage(svc, 'PUT', client.clientId, client.body.registration_access_token as string, {
      client_id: client.clientId,
      client_name: 'replaced by a full PUT',
      grant_types: ['client_credentials'],
      scope: SCOPE,
    });
    expect(res.status).toBe(200);
    const updated = (await res.json()) as Record<string, unknown>;
    expect(updated.client_name).toBe('replaced by a full PUT');
    expect(updated).not.toHaveProperty('access_token_strategy');
    const secret = typeof updated.client_secret === 'string' ? updated.client_secret : client.secret;
    await expectFormat(svc, { clientId: client.clientId, secret }, 'jwt');
    const read = await svc.admin(`/admin/clients/${client.clientId}`);
    expect(await read.json()).toMatchObject({ access_token_strategy: 'jwt' });
  });
});

describe('the stored strategy survives a restart with a different configuration', () => {
  let db: { name: string; dsn: string } | undefined;
  let svc: RunningApp | undefined;
  let clientA: Credentials;
  let jwtBeforeRestart: string;
  let issuerBeforeRestart: string;
  let tokenA: string;
  let clientB: Credentials;
  let tokenB: string;

  beforeAll(async () => {
    db = await createDatabase('registrar_ats');
    svc = await startApp({ env: envFor('jwt', 'opaque', { DSN: db.dsn }) });
    issuerBeforeRestart = (await discover(svc)).issuer;
    clientA = await dcrClient(svc);
    jwtBeforeRestart = await accessToken(svc, clientA);
    await svc.close();
    svc = undefined;
    svc = await startApp({ env: envFor(undefined, 'opaque', { DSN: db.dsn }) });
    tokenA = await accessToken(svc, clientA);
    clientB = await dcrClient(svc);
    tokenB = await accessToken(svc, clientB);
  });
  afterAll(async () => {
    await svc?.close();
    if (db) await dropDatabase(db.name);
  });

  it('client A, registered while the DCR strategy was jwt, got a JWT before the restart', async () => {
    expect(formatOf(jwtBeforeRestart)).toBe('jwt');
  });

  it('client A still gets a JWT after a restart with the DCR strategy unset and the global strategy opaque', async () => {
    expect(formatOf(tokenA)).toBe('jwt');
    await expectRfc9068Jwt(svc!, tokenA, clientA);
    const read = await svc!.admin(`/admin/clients/${clientA.clientId}`);
    expect(await read.json()).toMatchObject({ access_token_strategy: 'jwt', created_via: 'dcr' });
  });

  it('client B, registered after the restart, gets an opaque token', async () => {
    expect(formatOf(tokenB)).toBe('opaque');
    await expectOpaque(svc!, tokenB, clientB);
    const read = await svc!.admin(`/admin/clients/${clientB.clientId}`);
    expect(await read.json()).toMatchObject({ access_token_strategy: '', created_via: 'dcr' });
  });

  it('a JWT signed before the restart still verifies against the JWKS served after it (signing keys live in the database)', async () => {
    // The test harness gives each instance its own port, and the default issuer contains the port,
    // so the token is checked against the issuer it was minted under.
    const { jwks_uri } = await discover(svc!);
    const { payload } = await jwtVerify(jwtBeforeRestart, createRemoteJWKSet(new URL(jwks_uri)), {
      issuer: issuerBeforeRestart,
      typ: 'at+jwt',
    });
    expect(payload.client_id).toBe(clientA.clientId);
  });
});
