// The JWT bearer grant (RFC 7523 §2.1, §3) over real HTTP: trust relationships
// managed through Hydra's admin routes (and Hydra's SDK), the grant's checks
// one by one, and who may hold the grant type (README "JWT bearer grant").
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Configuration, OAuth2Api } from '@ory/hydra-client';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { main } from '../../src/cli/cli.js';
import { JanitorService } from '../../src/database/janitor.service.js';
import { machineClient } from '../factories/clients.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { createAdminClient, mintIat, register } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { basicAuth, nextLink } from '../support/net.js';
import { query } from '../support/postgres.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TRUST_PATH = '/admin/trust/grants/jwt-bearer/issuers';
const FAR = new Date(Date.now() + 30 * 86400_000).toISOString();

let svc: RunningApp;

interface Key {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKey(alg: 'RS256' | 'ES256' | 'EdDSA' = 'ES256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `key-${randomUUID()}`;
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

interface Trust {
  issuer: string;
  subject?: string;
  allow_any_subject?: boolean;
  scope: string[];
  jwk: JWK;
  expires_at: string;
}

async function trust(body: Trust): Promise<Record<string, unknown>> {
  const res = await svc.admin(TRUST_PATH, { method: 'POST', json: body });
  if (res.status !== 201) throw new Error(`trusting an issuer failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

interface Client {
  id: string;
  secret: string;
}

async function adminClient(overrides: Record<string, unknown> = {}): Promise<Client> {
  const body = await createAdminClient(svc, machineClient({ grant_types: [JWT_BEARER], scope: 'invoices.read invoices.write profile', ...overrides }));
  return { id: body.client_id, secret: body.client_secret };
}

interface AssertionOptions {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number | null;
  iat?: number;
  nbf?: number;
  jti?: string | null;
  kid?: string | null;
}

async function assertion(key: Key, issuer: string, o: AssertionOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: o.iss ?? issuer,
    sub: o.sub ?? 'mike@example.com',
    aud: o.aud ?? `${svc.url}/oauth2/token`,
    ...(o.exp === null ? {} : { exp: o.exp ?? now + 300 }),
    iat: o.iat ?? now,
    ...(o.nbf !== undefined ? { nbf: o.nbf } : {}),
    ...(o.jti === null ? {} : { jti: o.jti ?? randomUUID() }),
  };
  const header = { alg: key.publicJwk.alg as string, ...(o.kid === null ? {} : { kid: o.kid ?? key.kid }) };
  return new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
}

function grant(client: Client, params: Record<string, string>): Promise<Response> {
  return fetch(`${svc.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.id, client.secret) },
    body: new URLSearchParams({ grant_type: JWT_BEARER, ...params }).toString(),
  });
}

async function introspect(token: string): Promise<Record<string, unknown>> {
  const res = await svc.admin('/admin/oauth2/introspect', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  return (await res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

describe('trusted issuers: Hydra\'s admin routes', () => {
  it('creates (201 with Location), reads, lists with the issuer filter and pagination, and deletes', async () => {
    const key = await newKey('RS256');
    const issuer = `https://idp-${randomUUID()}.example.com`;
    const res = await svc.admin(TRUST_PATH, {
      method: 'POST',
      json: { issuer, subject: 'alice', scope: ['invoices.read', 'profile'], jwk: key.publicJwk, expires_at: FAR },
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as Record<string, unknown>;
    expect(res.headers.get('location')).toBe(`${TRUST_PATH}/${String(created.id)}`);
    expect(created).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      issuer,
      subject: 'alice',
      allow_any_subject: false,
      scope: ['invoices.read', 'profile'],
      public_key: { set: issuer, kid: key.kid },
      expires_at: new Date(FAR).toISOString(),
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });

    const read = await svc.admin(`${TRUST_PATH}/${String(created.id)}`);
    expect({ status: read.status, body: await read.json() }).toEqual({ status: 200, body: created });

    const second = await trust({ issuer, subject: 'bob', scope: [], jwk: key.publicJwk, expires_at: FAR });
    await trust({ issuer: `${issuer}/other`, allow_any_subject: true, scope: [], jwk: key.publicJwk, expires_at: FAR });
    const page1 = await svc.admin(`${TRUST_PATH}?issuer=${encodeURIComponent(issuer)}&page_size=1`);
    const items1 = (await page1.json()) as Array<Record<string, unknown>>;
    expect(items1).toHaveLength(1);
    const next = nextLink(page1);
    expect(next).toContain('issuer=');
    const page2 = await svc.admin(next!);
    const items2 = (await page2.json()) as Array<Record<string, unknown>>;
    expect([...items1, ...items2].map((t) => t.id).sort()).toEqual([created.id, second.id].sort());
    expect(nextLink(page2)).toBeUndefined();

    expect((await svc.admin(`${TRUST_PATH}/${String(created.id)}`, { method: 'DELETE' })).status).toBe(204);
    await expectOAuthError(await svc.admin(`${TRUST_PATH}/${String(created.id)}`), 404, 'not_found');
    await expectOAuthError(await svc.admin(`${TRUST_PATH}/${String(created.id)}`, { method: 'DELETE' }), 404, 'not_found');
  });

  it('needs the admin key', async () => {
    const res = await fetch(`${svc.url}${TRUST_PATH}`);
    await expectOAuthError(res, 401, 'invalid_token');
  });

  it('refuses a second trust of the same issuer, subject and kid with 409', async () => {
    const key = await newKey();
    const body = { issuer: `https://idp-${randomUUID()}.example.com`, subject: 'alice', scope: ['profile'], jwk: key.publicJwk, expires_at: FAR };
    await trust(body);
    await expectOAuthError(await svc.admin(TRUST_PATH, { method: 'POST', json: body }), 409, 'conflict', 'alice', key.kid);
    // Another subject with the same key is another trust.
    await trust({ ...body, subject: 'bob' });
  });

  it.each([
    ['a missing issuer', (b: Record<string, unknown>) => ({ ...b, issuer: undefined }), 'issuer'],
    ['neither subject nor allow_any_subject', (b: Record<string, unknown>) => ({ ...b, subject: undefined }), 'subject'],
    ['both subject and allow_any_subject', (b: Record<string, unknown>) => ({ ...b, allow_any_subject: true }), 'allow_any_subject'],
    ['a private key', (b: Record<string, unknown>) => ({ ...b, jwk: { ...(b.jwk as object), d: 'AAAA' } }), '"d"'],
    ['a symmetric key', (b: Record<string, unknown>) => ({ ...b, jwk: { kty: 'oct', kid: 'k', k: 'c2VjcmV0' } }), 'oct'],
    ['a key without kid', (b: Record<string, unknown>) => ({ ...b, jwk: { ...(b.jwk as object), kid: undefined } }), 'jwk.kid'],
    ['an expiry in the past', (b: Record<string, unknown>) => ({ ...b, expires_at: '2001-01-01T00:00:00Z' }), 'expires_at'],
    ['an expiry that is no date', (b: Record<string, unknown>) => ({ ...b, expires_at: 'tomorrow' }), 'expires_at'],
    ['a scope string instead of a list', (b: Record<string, unknown>) => ({ ...b, scope: 'a b' }), 'scope'],
    ['a malformed scope value', (b: Record<string, unknown>) => ({ ...b, scope: ['bad"scope'] }), 'scope'],
    ['an unknown field', (b: Record<string, unknown>) => ({ ...b, domain: 'x' }), 'domain'],
  ])('refuses %s with 400 naming the field', async (_name, change, field) => {
    const key = await newKey();
    const base = { issuer: `https://idp-${randomUUID()}.example.com`, subject: 'alice', scope: ['profile'], jwk: key.publicJwk, expires_at: FAR };
    const res = await svc.admin(TRUST_PATH, { method: 'POST', json: change(base) });
    await expectOAuthError(res, 400, 'invalid_request', field);
  });

  it('works with @ory/hydra-client\'s OAuth2Api (trust, get, list, delete)', async () => {
    const api = new OAuth2Api(new Configuration({ basePath: svc.url, baseOptions: { headers: { Authorization: `Bearer ${ADMIN_KEY}` } } }));
    const key = await newKey('RS256');
    const issuer = `https://sdk-${randomUUID()}.example.com`;
    const { data: created, status } = await api.trustOAuth2JwtGrantIssuer({
      trustOAuth2JwtGrantIssuer: {
        issuer,
        allow_any_subject: true,
        scope: ['profile'],
        expires_at: FAR,
        jwk: { ...(key.publicJwk as Record<string, string>), alg: 'RS256', kid: key.kid, kty: 'RSA', use: 'sig' },
      },
    });
    expect(status).toBe(201);
    expect(created).toMatchObject({ issuer, allow_any_subject: true, scope: ['profile'], public_key: { set: issuer, kid: key.kid } });
    const { data: read } = await api.getTrustedOAuth2JwtGrantIssuer({ id: created.id! });
    expect(read).toEqual(created);
    const { data: listed } = await api.listTrustedOAuth2JwtGrantIssuers({ issuer });
    expect(listed.map((t) => t.id)).toEqual([created.id]);
    await api.deleteTrustedOAuth2JwtGrantIssuer({ id: created.id! });
    const { data: after } = await api.listTrustedOAuth2JwtGrantIssuers({ issuer });
    expect(after).toEqual([]);
  });
});

describe('the grant (RFC 7523 §2.1, §3)', () => {
  let key: Key;
  let issuer: string;
  let client: Client;

  beforeAll(async () => {
    key = await newKey();
    issuer = `https://idp-${randomUUID()}.example.com`;
    await trust({ issuer, subject: 'mike@example.com', scope: ['invoices.read', 'profile'], jwk: key.publicJwk, expires_at: FAR });
    client = await adminClient({ audience: ['https://api.example.com'] });
  });

  it('issues an access token whose sub is the assertion\'s subject, with the requested scope and audience', async () => {
    const res = await grant(client, { assertion: await assertion(key, issuer), scope: 'invoices.read', audience: 'https://api.example.com' });
    const body = (await res.json()) as Record<string, unknown>;
    expect({ status: res.status, body }).toMatchObject({ status: 200, body: { token_type: 'Bearer', scope: 'invoices.read', expires_in: 3600 } });
    expect(body).not.toHaveProperty('refresh_token');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await introspect(body.access_token as string)).toMatchObject({
      active: true,
      sub: 'mike@example.com',
      client_id: client.id,
      scope: 'invoices.read',
      aud: ['https://api.example.com'],
    });
  });

  it('accepts the issuer URL as aud, and grants every scope both the trust and the client allow when none is requested', async () => {
    const res = await grant(client, { assertion: await assertion(key, issuer, { aud: svc.url }) });
    const body = (await res.json()) as Record<string, unknown>;
    expect({ status: res.status, scope: body.scope }).toEqual({ status: 200, scope: 'invoices.read profile' });
  });

  it('issues a JWT access token (RFC 9068) with the subject for a client on the jwt strategy', async () => {
    const jwtClient = await adminClient({ access_token_strategy: 'jwt' });
    const res = await grant(jwtClient, { assertion: await assertion(key, issuer), scope: 'profile' });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(decodeJwt(body.access_token as string)).toMatchObject({ sub: 'mike@example.com', client_id: jwtClient.id, scope: 'profile', iss: svc.url });
  });

  it('tries the issuer\'s keys for the subject when the assertion names no kid', async () => {
    const res = await grant(client, { assertion: await assertion(key, issuer, { kid: null }) });
    expect(res.status).toBe(200);
  });

  it('accepts any subject from an issuer trusted with allow_any_subject', async () => {
    const anyKey = await newKey('EdDSA');
    const anyIssuer = `https://any-${randomUUID()}.example.com`;
    await trust({ issuer: anyIssuer, allow_any_subject: true, scope: ['profile'], jwk: anyKey.publicJwk, expires_at: FAR });
    const res = await grant(client, { assertion: await assertion(anyKey, anyIssuer, { sub: 'someone-else' }) });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(await introspect(body.access_token as string)).toMatchObject({ active: true, sub: 'someone-else' });
  });

  it('refuses an assertion used twice (jti replay)', async () => {
    const jwt = await assertion(key, issuer);
    expect((await grant(client, { assertion: jwt })).status).toBe(200);
    await expectOAuthError(await grant(client, { assertion: jwt }), 400, 'invalid_grant', 'already used');
  });

  it('settles concurrent uses of one assertion in the database: exactly one succeeds', async () => {
    const jwt = await assertion(key, issuer);
    const statuses = await Promise.all([1, 2, 3, 4].map(async () => (await grant(client, { assertion: jwt })).status));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(3);
  });

  it.each<[string, () => Promise<string>, string]>([
    ['an expired assertion', async () => assertion(key, issuer, { exp: Math.floor(Date.now() / 1000) - 60, iat: Math.floor(Date.now() / 1000) - 120 }), 'expired'],
    ['an unknown issuer', async () => assertion(key, issuer, { iss: 'https://stranger.example.com' }), 'issuer is not trusted'],
    ['another subject', async () => assertion(key, issuer, { sub: 'eve@example.com' }), 'subject'],
    ['a signature by another key with the trusted kid', async () => assertion({ ...(await newKey()), kid: key.kid }, issuer), 'signature'],
    ['an unknown kid', async () => assertion(key, issuer, { kid: 'nope' }), 'kid'],
    ['another audience', async () => assertion(key, issuer, { aud: 'https://elsewhere.example.com' }), 'aud'],
    ['no exp', async () => assertion(key, issuer, { exp: null }), 'exp'],
    ['an exp beyond oauth2.grant.jwt.max_ttl', async () => assertion(key, issuer, { exp: Math.floor(Date.now() / 1000) + 7200 }), 'max_ttl'],
    ['a future nbf', async () => assertion(key, issuer, { nbf: Math.floor(Date.now() / 1000) + 600 }), 'nbf'],
    ['a future iat', async () => assertion(key, issuer, { iat: Math.floor(Date.now() / 1000) + 600 }), 'iat'],
    ['no jti', async () => assertion(key, issuer, { jti: null }), 'jti'],
  ])('refuses %s with invalid_grant naming the reason', async (_name, make, reason) => {
    await expectOAuthError(await grant(client, { assertion: await make() }), 400, 'invalid_grant', reason);
  });

  it('refuses an assertion of an expired trust relationship', async () => {
    const oldKey = await newKey();
    const oldIssuer = `https://old-${randomUUID()}.example.com`;
    const created = await trust({ issuer: oldIssuer, subject: 'mike@example.com', scope: ['profile'], jwk: oldKey.publicJwk, expires_at: FAR });
    expect((await grant(client, { assertion: await assertion(oldKey, oldIssuer) })).status).toBe(200);
    await query(`UPDATE trusted_jwt_issuers SET expires_at = now() - interval '1 second' WHERE id = $1`, [created.id]);
    await expectOAuthError(await grant(client, { assertion: await assertion(oldKey, oldIssuer) }), 400, 'invalid_grant', 'expired');
    // The janitor removes the expired trust; live ones stay.
    const counts = await svc.app.get(JanitorService).runOnce();
    expect(counts?.expired_jwt_grant_issuers).toBeGreaterThanOrEqual(1);
    expect((await svc.admin(`${TRUST_PATH}/${String(created.id)}`)).status).toBe(404);
    expect((await query(`SELECT count(*)::int AS n FROM trusted_jwt_issuers WHERE expires_at > now()`)).rows[0].n).toBeGreaterThan(0);
  });

  it('refuses an assertion of a deleted trust relationship', async () => {
    const goneKey = await newKey();
    const goneIssuer = `https://gone-${randomUUID()}.example.com`;
    const created = await trust({ issuer: goneIssuer, subject: 'mike@example.com', scope: ['profile'], jwk: goneKey.publicJwk, expires_at: FAR });
    expect((await svc.admin(`${TRUST_PATH}/${String(created.id)}`, { method: 'DELETE' })).status).toBe(204);
    await expectOAuthError(await grant(client, { assertion: await assertion(goneKey, goneIssuer) }), 400, 'invalid_grant', 'not trusted');
  });

  it('refuses a scope beyond the trust, and one beyond the client, with invalid_scope naming it', async () => {
    await expectOAuthError(await grant(client, { assertion: await assertion(key, issuer), scope: 'invoices.write' }), 400, 'invalid_scope', 'invoices.write');
    const narrow = await adminClient({ scope: 'invoices.read' });
    await expectOAuthError(await grant(narrow, { assertion: await assertion(key, issuer), scope: 'profile' }), 400, 'invalid_scope', 'profile');
  });

  it('refuses an audience the client may not request', async () => {
    await expectOAuthError(await grant(client, { assertion: await assertion(key, issuer), audience: 'https://other.example.com' }), 400, 'invalid_request', 'audience');
  });

  it('requires the assertion parameter', async () => {
    await expectOAuthError(await grant(client, {}), 400, 'invalid_request', 'assertion');
  });

  it('answers unauthorized_client to a client without the grant type', async () => {
    const plain = await adminClient({ grant_types: ['client_credentials'] });
    await expectOAuthError(await grant(plain, { assertion: await assertion(key, issuer) }), 400, 'unauthorized_client', JWT_BEARER);
  });

  it('needs client authentication: a wrong secret is invalid_client', async () => {
    await expectOAuthError(await grant({ id: client.id, secret: 'wrong' }, { assertion: await assertion(key, issuer) }), 401, 'invalid_client');
  });
});

describe('who may hold the grant type', () => {
  it('a DCR registrant may not give itself the grant type (default): 400 naming grant_types', async () => {
    const res = await register(svc, machineClient({ grant_types: ['client_credentials', JWT_BEARER] }), await mintIat(svc));
    await expectOAuthError(res, 400, 'invalid_client_metadata', 'grant_types', JWT_BEARER);
  });

  it('a public client cannot have it', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ grant_types: [JWT_BEARER], token_endpoint_auth_method: 'none' }) });
    await expectOAuthError(res, 400, 'invalid_client_metadata', 'token_endpoint_auth_method');
  });

  it('jwt_bearer_grant_access_token_lifespan sets the token lifetime', async () => {
    const key = await newKey();
    const issuer = `https://life-${randomUUID()}.example.com`;
    await trust({ issuer, subject: 'mike@example.com', scope: ['profile'], jwk: key.publicJwk, expires_at: FAR });
    const client = await adminClient({ jwt_bearer_grant_access_token_lifespan: '5m' });
    const res = await grant(client, { assertion: await assertion(key, issuer) });
    expect(((await res.json()) as Record<string, unknown>).expires_in).toBe(300);
  });
});

describe('switched by configuration', () => {
  let open: RunningApp;
  let off: RunningApp;

  beforeAll(async () => {
    open = await startApp({ env: { OAUTH2_GRANT_JWT_ALLOW_DYNAMIC_REGISTRATION: 'true' } });
    off = await startApp({ env: { OAUTH2_GRANT_JWT_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await open?.close();
    await off?.close();
  });

  it('oauth2.grant.jwt.allow_dynamic_registration lets registrants ask for it', async () => {
    const res = await register(open, machineClient({ grant_types: ['client_credentials', JWT_BEARER] }), await mintIat(open));
    const body = (await res.json()) as Record<string, unknown>;
    expect({ status: res.status, grant_types: body.grant_types }).toEqual({ status: 201, grant_types: ['client_credentials', JWT_BEARER] });
  });

  it('discovery lists the grant while it is on, and not once it is off, where the token endpoint answers unsupported_grant_type', async () => {
    const on = (await (await fetch(`${svc.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(on.grant_types_supported).toContain(JWT_BEARER);
    const doc = (await (await fetch(`${off.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(doc.grant_types_supported).not.toContain(JWT_BEARER);
    const res = await fetch(`${off.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: 'x' }).toString(),
    });
    await expectOAuthError(res, 400, 'unsupported_grant_type');
  });
});

describe('the operator CLI: registrar trust', () => {
  async function cli(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(['node', 'registrar', '--url', svc.url, ...args], {
      env: { REGISTRAR_ADMIN_KEY: ADMIN_KEY },
      out: (t) => (out += t),
      err: (t) => (err += t),
      stdin: async () => stdin,
    });
    return { code, out, err };
  }

  it('creates from standard input, lists by issuer as a table, reads and deletes', async () => {
    const key = await newKey();
    const issuer = `https://cli-${randomUUID()}.example.com`;
    const created = await cli(['--json', 'trust', 'create', '-f', '-'], JSON.stringify({ issuer, subject: 'alice', scope: ['profile'], jwk: key.publicJwk, expires_at: FAR }));
    expect(created.code).toBe(0);
    const trustId = (JSON.parse(created.out) as { id: string }).id;
    const lines = (await cli(['trust', 'list', '--issuer', issuer])).out.trimEnd().split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['id', 'issuer', 'subject', 'allow_any_subject', 'expires_at']);
    expect(lines).toHaveLength(2);
    expect(lines[1].startsWith(trustId)).toBe(true);
    expect(JSON.parse((await cli(['--json', 'trust', 'get', trustId])).out)).toMatchObject({ issuer, subject: 'alice' });
    expect((await cli(['trust', 'delete', trustId])).code).toBe(0);
    const gone = await cli(['trust', 'get', trustId]);
    expect({ code: gone.code, err: gone.err }).toEqual({ code: 1, err: expect.stringContaining('404 not_found') });
  });

  it('reports a refused trust with exit code 1 and the server\'s error', async () => {
    const refused = await cli(['trust', 'create', '-f', '-'], JSON.stringify({ issuer: 'x', subject: 'y', scope: [], jwk: { kty: 'oct', kid: 'k', k: 'AA' }, expires_at: FAR }));
    expect({ code: refused.code, err: refused.err }).toEqual({ code: 1, err: expect.stringContaining('400 invalid_request') });
  });
});
