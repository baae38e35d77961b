// Introspection (RFC 7662), revocation (RFC 7009) and signing keys (README, Access tokens and the strategy)
// over real HTTP against the real app on PostgreSQL, for both token formats.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { createAdminClient, manage, registerClient } from '../support/dcr.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';
import { basicAuth } from '../support/net.js';
import { adminIntrospect } from '../support/oauth-flow.js';

type Format = 'jwt' | 'opaque';
const FORMATS: Format[] = ['jwt', 'opaque'];
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

interface Client {
  client_id: string;
  client_secret?: string;
  registration_access_token?: string;
  [key: string]: unknown;
}

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function createClient(app: RunningApp, body: Record<string, unknown>): Promise<Client> {
  return (await createAdminClient(app, body)) as Client;
}

function basic(client: Client): string {
  return basicAuth(client.client_id, client.client_secret!);
}

function post(app: RunningApp, path: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(app.url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function issue(app: RunningApp, client: Client, params: Record<string, string> = {}): Promise<string> {
  const res = await post(app, '/oauth2/token', { grant_type: 'client_credentials', ...params }, { Authorization: basic(client) });
  const body = await json(res);
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token as string;
}

function introspect(app: RunningApp, caller: Client, token: string): Promise<Response> {
  return post(app, '/oauth2/introspect', { token }, { Authorization: basic(caller) });
}

async function introspected(app: RunningApp, caller: Client, token: string): Promise<Record<string, unknown>> {
  const res = await introspect(app, caller, token);
  expect(res.status).toBe(200);
  return json(res);
}

function revoke(app: RunningApp, caller: Client, token: string): Promise<Response> {
  return post(app, '/oauth2/revoke', { token }, { Authorization: basic(caller) });
}

function clientOf(format: Format, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return machineClient({ access_token_strategy: format, ...overrides });
}

function isJwt(token: string): boolean {
  return token.split('.').length === 3;
}

/** Waits until the start of a wall-clock second, so that a token with a 1 s lifetime lives close to 1 s. */
async function startOfSecond(): Promise<void> {
  const ms = Date.now() % 1000;
  if (ms > 50) await sleep(1000 - ms + 5);
}

describe('RFC 7662 introspection: POST /oauth2/introspect', () => {
  const clients = {} as Record<Format, Client>;
  let stranger: Client;

  beforeAll(async () => {
    clients.jwt = await createClient(svc, clientOf('jwt'));
    clients.opaque = await createClient(svc, clientOf('opaque'));
    stranger = await createClient(svc, machineClient());
  });

  it.each(FORMATS)('reports a %s token issued to the caller as active, with its claims', async (format) => {
    const client = clients[format];
    const token = await issue(svc, client, { scope: 'read' });
    expect(isJwt(token)).toBe(format === 'jwt');
    const before = Math.floor(Date.now() / 1000);
    const res = await introspect(svc, client, token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await json(res);
    expect(body).toMatchObject({
      active: true,
      client_id: client.client_id,
      sub: client.client_id,
      scope: 'read',
      iss: svc.url,
      token_type: 'Bearer',
    });
    expect(body.aud).toBeDefined();
    expect(typeof body.exp).toBe('number');
    expect(typeof body.iat).toBe('number');
    expect(Math.abs((body.iat as number) - before)).toBeLessThanOrEqual(5);
    expect((body.exp as number) - (body.iat as number)).toBe(3600);
  });

  it.each(FORMATS)('answers only {active: false} to a client that neither received the %s token nor is named in its aud', async (format) => {
    const token = await issue(svc, clients[format]);
    expect(await introspected(svc, stranger, token)).toEqual({ active: false });
  });

  it.each(FORMATS)('lets a client named in the audience of a %s token introspect it', async (format) => {
    const resourceServer = await createClient(svc, machineClient());
    const issuer = await createClient(svc, clientOf(format, { audience: [resourceServer.client_id, 'https://api.example.com'] }));
    const token = await issue(svc, issuer, { audience: resourceServer.client_id });
    const body = await introspected(svc, resourceServer, token);
    expect(body).toMatchObject({ active: true, client_id: issuer.client_id });
    expect([body.aud].flat()).toContain(resourceServer.client_id);
  });

  it('refuses unauthenticated introspection with 401 invalid_client', async () => {
    const token = await issue(svc, clients.opaque);
    const res = await post(svc, '/oauth2/introspect', { token });
    expect(res.status).toBe(401);
    expect((await json(res)).error).toBe('invalid_client');
  });

  it('refuses introspection with a wrong client secret with 401 invalid_client', async () => {
    const token = await issue(svc, clients.opaque);
    const res = await introspect(svc, { ...clients.opaque, client_secret: 'wrong' }, token);
    expect(res.status).toBe(401);
    expect((await json(res)).error).toBe('invalid_client');
  });

  it('answers {active: false} for garbage and for a JWT-shaped forgery', async () => {
    expect(await introspected(svc, clients.opaque, 'not-a-token')).toEqual({ active: false });
    expect(await introspected(svc, clients.jwt, 'aaaa.bbbb.cccc')).toEqual({ active: false });
    const real = await issue(svc, clients.jwt);
    const [header, , signature] = real.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...decodeJwt(real), scope: 'admin' })).toString('base64url')}.${signature}`;
    expect(await introspected(svc, clients.jwt, forged)).toEqual({ active: false });
    expect(await adminIntrospect(svc, forged)).toEqual({ active: false });
    expect(await adminIntrospect(svc, 'not-a-token')).toEqual({ active: false });
  });

  it('answers 400 invalid_request when the token parameter is missing', async () => {
    const res = await post(svc, '/oauth2/introspect', {}, { Authorization: basic(clients.opaque) });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe('invalid_request');
  });
});

describe('admin introspection: POST /admin/oauth2/introspect', () => {
  it.each(FORMATS)('reports any client\'s %s token as active', async (format) => {
    const client = await createClient(svc, clientOf(format));
    const token = await issue(svc, client);
    expect(await adminIntrospect(svc, token)).toMatchObject({ active: true, client_id: client.client_id, scope: 'read write' });
  });

  it('refuses a request without the admin key with 401', async () => {
    const client = await createClient(svc, clientOf('opaque'));
    const token = await issue(svc, client);
    expect((await post(svc, '/admin/oauth2/introspect', { token })).status).toBe(401);
    expect((await post(svc, '/admin/oauth2/introspect', { token }, { Authorization: basic(client) })).status).toBe(401);
    expect((await post(svc, '/admin/oauth2/introspect', { token }, { Authorization: 'Bearer wrong-key' })).status).toBe(401);
  });
});

describe('RFC 7009 revocation: POST /oauth2/revoke', () => {
  it.each(FORMATS)('makes a revoked %s token inactive', async (format) => {
    const client = await createClient(svc, clientOf(format));
    const token = await issue(svc, client);
    const other = await issue(svc, client);
    expect(await adminIntrospect(svc, token)).toMatchObject({ active: true });
    const res = await revoke(svc, client, token);
    expect(res.status).toBe(200);
    expect(await adminIntrospect(svc, token)).toEqual({ active: false });
    expect(await introspected(svc, client, token)).toEqual({ active: false });
    expect(await adminIntrospect(svc, other)).toMatchObject({ active: true });
  });

  it.each(FORMATS)('answers 200 when the %s token is revoked a second time', async (format) => {
    const client = await createClient(svc, clientOf(format));
    const token = await issue(svc, client);
    expect((await revoke(svc, client, token)).status).toBe(200);
    expect((await revoke(svc, client, token)).status).toBe(200);
    expect(await adminIntrospect(svc, token)).toEqual({ active: false });
  });

  it('revokes a token whatever token_type_hint says (RFC 7009 §2.1: the hint is only a hint)', async () => {
    const client = await createClient(svc, clientOf('opaque'));
    const token = await issue(svc, client);
    const res = await post(svc, '/oauth2/revoke', { token, token_type_hint: 'refresh_token' }, { Authorization: basic(client) });
    expect(res.status).toBe(200);
    expect(await adminIntrospect(svc, token)).toEqual({ active: false });
  });

  it('answers 200 for an unknown token (RFC 7009 §2.2)', async () => {
    const client = await createClient(svc, clientOf('opaque'));
    expect((await revoke(svc, client, `unknown-${randomUUID()}`)).status).toBe(200);
  });

  it.each(FORMATS)('refuses to revoke another client\'s %s token with 400 unauthorized_client, and the token stays active', async (format) => {
    const owner = await createClient(svc, clientOf(format));
    const thief = await createClient(svc, clientOf(format));
    const token = await issue(svc, owner);
    const res = await revoke(svc, thief, token);
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe('unauthorized_client');
    expect(await adminIntrospect(svc, token)).toMatchObject({ active: true });
  });

  it('refuses an unauthenticated revocation with 401 invalid_client and the token stays active', async () => {
    const client = await createClient(svc, clientOf('opaque'));
    const token = await issue(svc, client);
    const res = await post(svc, '/oauth2/revoke', { token });
    expect(res.status).toBe(401);
    expect((await json(res)).error).toBe('invalid_client');
    expect(await adminIntrospect(svc, token)).toMatchObject({ active: true });
  });
});

describe('deleting a client ends its tokens', () => {
  it('DELETE /admin/clients/{id} makes the client\'s JWT and opaque tokens inactive at once', async () => {
    const client = await createClient(svc, clientOf('jwt'));
    const jwt = await issue(svc, client);
    const patched = await svc.admin(`/admin/clients/${client.client_id}`, {
      method: 'PATCH',
      json: [{ op: 'replace', path: '/access_token_strategy', value: 'opaque' }],
    });
    expect(patched.status).toBe(200);
    const opaque = await issue(svc, client);
    expect([isJwt(jwt), isJwt(opaque)]).toEqual([true, false]);
    expect(await adminIntrospect(svc, jwt)).toMatchObject({ active: true });
    expect(await adminIntrospect(svc, opaque)).toMatchObject({ active: true });

    expect((await svc.admin(`/admin/clients/${client.client_id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await adminIntrospect(svc, jwt)).toEqual({ active: false });
    expect(await adminIntrospect(svc, opaque)).toEqual({ active: false });
  });

  it('RFC 7592 DELETE with the registration access token makes the client\'s JWT and opaque tokens inactive at once', async () => {
    const client = (await registerClient(svc, machineClient())) as Client;
    const opaque = await issue(svc, client);
    const patched = await svc.admin(`/admin/clients/${client.client_id}`, {
      method: 'PATCH',
      json: [{ op: 'add', path: '/access_token_strategy', value: 'jwt' }],
    });
    expect(patched.status).toBe(200);
    const jwt = await issue(svc, client);
    expect([isJwt(jwt), isJwt(opaque)]).toEqual([true, false]);
    expect(await adminIntrospect(svc, jwt)).toMatchObject({ active: true });
    expect(await adminIntrospect(svc, opaque)).toMatchObject({ active: true });

    expect((await manage(svc, 'DELETE', client.client_id, client.registration_access_token)).status).toBe(204);
    expect(await adminIntrospect(svc, jwt)).toEqual({ active: false });
    expect(await adminIntrospect(svc, opaque)).toEqual({ active: false });
  });

  it('a new client that takes a deleted client\'s id does not revive the deleted client\'s tokens', async () => {
    const id = `reused-${randomUUID()}`;
    const first = await createClient(svc, clientOf('jwt', { client_id: id, client_secret: 'first-secret' }));
    const jwt = await issue(svc, first);
    expect((await svc.admin(`/admin/clients/${id}`, { method: 'DELETE' })).status).toBe(204);
    await sleep(1100); // a later second than the deleted client's tokens' iat
    const second = await createClient(svc, clientOf('jwt', { client_id: id, client_secret: 'second-secret' }));
    expect(await adminIntrospect(svc, jwt)).toEqual({ active: false });
    expect(await introspected(svc, second, jwt)).toEqual({ active: false });
  });
});

describe('expired tokens (RFC 7662 §2.2)', () => {
  let short: RunningApp;

  beforeAll(async () => {
    short = await startApp({ env: { TTL_ACCESS_TOKEN: '1' } });
  });
  afterAll(async () => {
    await short?.close();
  });

  it('reports JWT and opaque tokens inactive once their 1 s lifetime is over', async () => {
    const jwtClient = await createClient(short, clientOf('jwt'));
    const opaqueClient = await createClient(short, clientOf('opaque'));
    await startOfSecond();
    const jwt = await issue(short, jwtClient);
    const opaque = await issue(short, opaqueClient);
    expect(await adminIntrospect(short, opaque)).toMatchObject({ active: true });
    expect(await adminIntrospect(short, jwt)).toMatchObject({ active: true });
    await sleep(1500);
    expect(await adminIntrospect(short, jwt)).toEqual({ active: false });
    expect(await adminIntrospect(short, opaque)).toEqual({ active: false });
    expect(await introspected(short, jwtClient, jwt)).toEqual({ active: false });
    expect(await introspected(short, opaqueClient, opaque)).toEqual({ active: false });
  });
});

function expectPublicOnly(jwk: Record<string, unknown>): void {
  for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
}

interface KeyView {
  kid: string;
  alg: string;
  state: string;
  public_jwk: Record<string, unknown>;
  created_at: string;
  retired_at: string | null;
}

async function listKeys(app: RunningApp): Promise<KeyView[]> {
  const res = await app.admin('/admin/keys');
  expect(res.status).toBe(200);
  return (await res.json()) as KeyView[];
}

async function jwks(app: RunningApp): Promise<JSONWebKeySet> {
  const res = await fetch(`${app.url}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return (await res.json()) as JSONWebKeySet;
}

describe('signing keys shared by two instances on one database (README, Operating Registrar)', () => {
  // Instances behind one load balancer share the issuer.
  const issuerUrl = 'https://registrar.example.test';
  let db: { name: string; dsn: string };
  let a: RunningApp;
  let b: RunningApp;
  let client: Client;
  let opaqueClient: Client;
  let oldKid: string;
  let newKid: string;
  let beforeRotation: string;

  beforeAll(async () => {
    db = await createDatabase();
    a = await startApp({ env: { DSN: db.dsn, URLS_SELF_ISSUER: issuerUrl } });
    b = await startApp({ env: { DSN: db.dsn, URLS_SELF_ISSUER: issuerUrl } });
    client = await createClient(a, clientOf('jwt'));
    opaqueClient = await createClient(a, clientOf('opaque'));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (db) await dropDatabase(db.name);
  });

  it('GET /admin/keys lists one active RS256 key with its public JWK and no private members', async () => {
    const keys = await listKeys(a);
    expect(keys).toHaveLength(1);
    const [key] = keys;
    expect(key).toMatchObject({ alg: 'RS256', state: 'active', retired_at: null });
    expect(key.public_jwk).toMatchObject({ kty: 'RSA', kid: key.kid });
    expect(typeof key.public_jwk.n).toBe('string');
    expectPublicOnly(key.public_jwk);
    expect(JSON.stringify(keys)).not.toMatch(/private/i);
    expect((await listKeys(b)).map((k) => k.kid)).toEqual([key.kid]);
    oldKid = key.kid;
  });

  it('GET /admin/keys and POST /admin/keys/rotate need the admin key', async () => {
    expect((await fetch(`${a.url}/admin/keys`)).status).toBe(401);
    expect((await fetch(`${a.url}/admin/keys/rotate`, { method: 'POST' })).status).toBe(401);
    expect((await listKeys(a)).map((k) => k.kid)).toEqual([oldKid]);
  });

  it('GET /.well-known/jwks.json publishes only the public members of the key', async () => {
    const set = await jwks(a);
    expect(set.keys.map((k) => k.kid)).toEqual([oldKid]);
    for (const key of set.keys) expectPublicOnly(key as Record<string, unknown>);
  });

  it('signs JWTs with the active key (RS256, kid in the header)', async () => {
    beforeRotation = await issue(a, client);
    expect(decodeProtectedHeader(beforeRotation)).toMatchObject({ alg: 'RS256', kid: oldKid, typ: 'at+jwt' });
    // Instance b signs too, and so has the active key cached.
    expect(decodeProtectedHeader(await issue(b, client)).kid).toBe(oldKid);
  });

  it('POST /admin/keys/rotate answers 201 with a new active key', async () => {
    const res = await a.admin('/admin/keys/rotate', { method: 'POST' });
    expect(res.status).toBe(201);
    const key = (await res.json()) as KeyView;
    expect(key.kid).not.toBe(oldKid);
    expect(key).toMatchObject({ alg: 'RS256', state: 'active' });
    expectPublicOnly(key.public_jwk);
    newKid = key.kid;
  });

  it('signs new tokens with the new key on the rotating instance', async () => {
    expect(decodeProtectedHeader(await issue(a, client)).kid).toBe(newKid);
  });

  it('signs new tokens with the new key on the other instance too, right after the rotation', async () => {
    // Instance b signed with the old key just before the rotation; the old key is now retired.
    expect(decodeProtectedHeader(await issue(b, client)).kid).toBe(newKid);
  });

  it('lists the previous key as retired after the rotation', async () => {
    const keys = await listKeys(b);
    const byKid = new Map(keys.map((k) => [k.kid, k]));
    expect(byKid.get(oldKid)).toMatchObject({ state: 'retired' });
    expect(typeof byKid.get(oldKid)?.retired_at).toBe('string');
    expect(byKid.get(newKid)).toMatchObject({ state: 'active', retired_at: null });
    expect(keys.filter((k) => k.state === 'active')).toHaveLength(1);
  });

  it('publishes both kids in the JWKS of both instances', async () => {
    for (const app of [a, b]) {
      const set = await jwks(app);
      expect(set.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
      for (const key of set.keys) expectPublicOnly(key as Record<string, unknown>);
    }
  });

  it('still reports a token signed before the rotation as active, on both instances', async () => {
    expect(await adminIntrospect(a, beforeRotation)).toMatchObject({ active: true, client_id: client.client_id });
    expect(await adminIntrospect(b, beforeRotation)).toMatchObject({ active: true, client_id: client.client_id });
    expect(await introspected(b, client, beforeRotation)).toMatchObject({ active: true });
  });

  it('lets a resource server verify tokens signed before and after the rotation against the JWKS', async () => {
    const keySet = createRemoteJWKSet(new URL(`${b.url}/.well-known/jwks.json`));
    const afterRotation = await issue(a, client);
    for (const token of [beforeRotation, afterRotation]) {
      const { payload, protectedHeader } = await jwtVerify(token, keySet, { issuer: issuerUrl, typ: 'at+jwt', algorithms: ['RS256'] });
      expect(payload.client_id).toBe(client.client_id);
      expect(protectedHeader.kid).toBe(token === beforeRotation ? oldKid : newKid);
    }
  });

  it('reports a token issued by one instance as active on the other', async () => {
    for (const [from, to] of [
      [a, b],
      [b, a],
    ]) {
      for (const c of [client, opaqueClient]) {
        const token = await issue(from, c);
        expect(await introspected(to, c, token)).toMatchObject({ active: true, client_id: c.client_id });
      }
    }
  });

  it('reports a token revoked on one instance as inactive on the other', async () => {
    for (const c of [client, opaqueClient]) {
      const token = await issue(a, c);
      expect(await introspected(b, c, token)).toMatchObject({ active: true });
      expect((await revoke(a, c, token)).status).toBe(200);
      expect(await introspected(b, c, token)).toEqual({ active: false });
      expect(await adminIntrospect(b, token)).toEqual({ active: false });
    }
  });

  it('stores the private keys encrypted, never as a plain JWK', async () => {
    const { rows } = await query('SELECT kid, private_jwk_encrypted FROM signing_keys', [], db.dsn);
    expect(rows.map((r) => r.kid as string).sort()).toEqual([oldKid, newKid].sort());
    for (const row of rows) {
      const stored = row.private_jwk_encrypted as string;
      expect(stored.length).toBeGreaterThan(0);
      expect(stored).not.toContain('"d"');
      expect(() => JSON.parse(stored)).toThrow();
    }
  });
});

describe('two instances starting at once on an empty database', () => {
  const issuerUrl = 'https://registrar-pair.example.test';
  let db: { name: string; dsn: string };
  let apps: RunningApp[] = [];

  beforeAll(async () => {
    db = await createDatabase();
    apps = await Promise.all([0, 1].map(() => startApp({ env: { DSN: db.dsn, URLS_SELF_ISSUER: issuerUrl } })));
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    if (db) await dropDatabase(db.name);
  });

  it('settle on one active signing key, which both sign with and publish', async () => {
    const [first, second] = apps;
    const keys = await listKeys(first);
    expect(keys.filter((k) => k.state === 'active')).toHaveLength(1);
    const client = await createClient(first, clientOf('jwt'));
    const tokens = [await issue(first, client), await issue(second, client)];
    expect(tokens.map((t) => decodeProtectedHeader(t).kid)).toEqual([keys[0].kid, keys[0].kid]);
    expect((await jwks(second)).keys.map((k) => k.kid)).toEqual([keys[0].kid]);
  });
});

describe.each([
  ['ES256', 'EC', 'P-256'],
  ['EdDSA', 'OKP', 'Ed25519'],
])('JWT_SIGNING_ALGORITHM=%s', (alg, kty, crv) => {
  let db: { name: string; dsn: string };
  let app: RunningApp;

  beforeAll(async () => {
    db = await createDatabase();
    app = await startApp({ env: { DSN: db.dsn, JWT_SIGNING_ALGORITHM: alg } });
  });
  afterAll(async () => {
    await app?.close();
    if (db) await dropDatabase(db.name);
  });

  it(`lists an active ${alg} key and issues JWTs signed with it that verify against the JWKS`, async () => {
    const keys = await listKeys(app);
    const active = keys.filter((k) => k.state === 'active');
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ alg, public_jwk: { kty, crv } });
    expectPublicOnly(active[0].public_jwk);

    const client = await createClient(app, clientOf('jwt'));
    const token = await issue(app, client);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg, kid: active[0].kid, typ: 'at+jwt' });
    const set = await jwks(app);
    for (const key of set.keys) expectPublicOnly(key as Record<string, unknown>);
    const { payload } = await jwtVerify(token, createLocalJWKSet(set), { issuer: app.url, algorithms: [alg] });
    expect(payload).toMatchObject({ sub: client.client_id, client_id: client.client_id });
    expect(await introspected(app, client, token)).toMatchObject({ active: true });
  });

  it(`rotates to a new ${alg} key`, async () => {
    const res = await app.admin('/admin/keys/rotate', { method: 'POST' });
    expect(res.status).toBe(201);
    expect(((await res.json()) as KeyView).alg).toBe(alg);
  });
});
