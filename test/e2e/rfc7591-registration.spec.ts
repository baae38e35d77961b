// RFC 7591 registration (POST /oauth2/register) over real HTTP, against the
// real app on the run's PostgreSQL database. Contract: RFC 7591 and README, Registering a client.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PUBLIC_JWK, machineClient, webClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, mintIat, mintIatRecord, register, registerClient } from '../support/dcr.js';
import { query } from '../support/postgres.js';
import { expectOAuthError as expectError } from '../support/expect.js';

type Json = Record<string, unknown>;

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

// --- helpers ---------------------------------------------------------------

async function iatUses(app: RunningApp, id: string): Promise<number> {
  const res = await app.admin(`/admin/initial-access-tokens/${id}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { uses: number }).uses;
}

async function adminClient(app: RunningApp, id: string): Promise<Json> {
  const res = await app.admin(`/admin/clients/${encodeURIComponent(id)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Json;
}

async function clientsNamed(name: string): Promise<number> {
  const { rows } = await query(`SELECT count(*)::int AS n FROM clients WHERE fields->>'client_name' = $1`, [name]);
  return rows[0].n as number;
}


async function expectBadIat(res: Response): Promise<void> {
  await expectError(res, 401, 'invalid_token');
  expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
}

async function created(res: Response): Promise<Json> {
  const text = await res.text();
  if (res.status !== 201) throw new Error(`expected 201, got ${res.status} ${text}`);
  return JSON.parse(text) as Json;
}

function postRaw(app: RunningApp, body: string, token: string): Promise<Response> {
  return fetch(`${app.url}/oauth2/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body,
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const nowSeconds = () => Math.floor(Date.now() / 1000);

// --- §4 Gate -----------------------------------------------------------------

describe('§4 gate: with initial_access_token.required, a request without a valid IAT gets 401 invalid_token', () => {
  it('refuses a request without an Authorization header with 401 invalid_token and a plain Bearer challenge', async () => {
    const res = await register(svc, machineClient());
    await expectError(res, 401, 'invalid_token');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('refuses an unknown IAT with WWW-Authenticate: Bearer error="invalid_token"', async () => {
    await expectBadIat(await register(svc, machineClient(), 'no-such-initial-access-token'));
  });

  it('refuses an expired IAT', async () => {
    const { token } = await mintIatRecord(svc, { expires_in: 1 });
    await sleep(1100);
    await expectBadIat(await register(svc, machineClient(), token));
  });

  it('refuses a revoked IAT', async () => {
    const { id, token } = await mintIatRecord(svc, { max_uses: 5 });
    await created(await register(svc, machineClient(), token));
    expect((await svc.admin(`/admin/initial-access-tokens/${id}`, { method: 'DELETE' })).status).toBe(204);
    await expectBadIat(await register(svc, machineClient(), token));
  });

  it('refuses a used-up IAT', async () => {
    const { id, token } = await mintIatRecord(svc, { max_uses: 1 });
    await created(await register(svc, machineClient(), token));
    await expectBadIat(await register(svc, machineClient(), token));
    expect(await iatUses(svc, id)).toBe(1);
  });

  it('accepts a valid IAT and counts one use', async () => {
    const { id, token } = await mintIatRecord(svc, { max_uses: 3 });
    await created(await register(svc, machineClient(), token));
    expect(await iatUses(svc, id)).toBe(1);
  });

  it('creates at most max_uses clients from concurrent registrations with one IAT', async () => {
    const { id, token } = await mintIatRecord(svc, { max_uses: 2 });
    const name = `concurrent-${Date.now()}`;
    const responses = await Promise.all(Array.from({ length: 6 }, () => register(svc, machineClient({ client_name: name }), token)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 401, 401, 401, 401]);
    expect(await clientsNamed(name)).toBe(2);
    expect(await iatUses(svc, id)).toBe(2);
  });
});

describe('§4 gate: with initial_access_token.required=false, anonymous registration works but a presented IAT is always validated', () => {
  let open: RunningApp;

  beforeAll(async () => {
    open = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false' } });
  });
  afterAll(async () => {
    await open?.close();
  });

  it('registers a client without an Authorization header', async () => {
    const body = await created(await register(open, machineClient()));
    expect(typeof body.client_id).toBe('string');
    expect(typeof body.registration_access_token).toBe('string');
    expect((await adminClient(open, body.client_id as string)).created_via).toBe('dcr');
  });

  it('still refuses an unknown IAT that is presented', async () => {
    await expectBadIat(await register(open, machineClient(), 'no-such-initial-access-token'));
  });

  it('still refuses a used-up IAT that is presented', async () => {
    const { token } = await mintIatRecord(open, { max_uses: 1 });
    await created(await register(open, machineClient(), token));
    await expectBadIat(await register(open, machineClient(), token));
  });

  it('still counts a use of a valid IAT that is presented', async () => {
    const { id, token } = await mintIatRecord(open, { max_uses: 2 });
    await created(await register(open, machineClient(), token));
    expect(await iatUses(open, id)).toBe(1);
  });
});

// --- §4 A use is counted only when a client is created ----------------------

describe('§4 IAT uses: a rejected registration does not burn a use', () => {
  it('lets a single-use IAT register a client after a registration with invalid metadata was refused', async () => {
    const { id, token } = await mintIatRecord(svc, { max_uses: 1 });
    const bad = await register(svc, machineClient({ grant_types: ['password'] }), token);
    await expectError(bad, 400, 'invalid_client_metadata');
    expect(await iatUses(svc, id)).toBe(0);
    await created(await register(svc, machineClient(), token));
    expect(await iatUses(svc, id)).toBe(1);
  });

  it('does not burn a use on a bad redirect URI, a non-object body or malformed JSON', async () => {
    const { id, token } = await mintIatRecord(svc, { max_uses: 1 });
    await expectError(await register(svc, webClient({ redirect_uris: ['http://app.example.com/cb'] }), token), 400, 'invalid_redirect_uri');
    await expectError(await register(svc, ['not', 'an', 'object'], token), 400, 'invalid_request');
    await expectError(await postRaw(svc, '{"client_name": ', token), 400, 'invalid_request');
    expect(await iatUses(svc, id)).toBe(0);
    await created(await register(svc, machineClient(), token));
    expect(await iatUses(svc, id)).toBe(1);
  });

  it('shows the use in the IAT list as well', async () => {
    const { id, token } = await mintIatRecord(svc, { max_uses: 1, description: `listed-${Date.now()}` });
    await created(await register(svc, machineClient(), token));
    const res = await svc.admin('/admin/initial-access-tokens?page_size=500');
    expect(res.status).toBe(200);
    const listed = ((await res.json()) as Array<{ id: string; uses: number; token?: string }>).find((t) => t.id === id);
    expect(listed).toBeDefined();
    expect(listed!.uses).toBe(1);
    expect(listed!.token).toBeUndefined();
  });
});

// --- §4 Fields a registrant may not set --------------------------------------

const FORBIDDEN: Array<[string, unknown]> = [
  ['access_token_strategy', 'jwt'],
  ['strategies', { access_token: 'jwt' }],
  ['client_id', 'registrant-chosen-id'],
  ['client_secret', 'registrant-chosen-secret'],
  ['metadata', { tier: 'gold' }],
  ['owner', 'team-a'],
  ['registration_access_token', 'registrant-chosen-rat'],
  ['registration_client_uri', 'https://evil.example.com/oauth2/register/x'],
  ['client_id_issued_at', 1700000000],
  ['client_secret_expires_at', 0],
  ['skip_consent', true],
  ['client_credentials_grant_access_token_lifespan', '1h'],
  ['token_strategy', 'jwt'],
];

describe('§1/§4 forbidden fields: a body carrying a field a registrant may not set gets 400 invalid_client_metadata naming the field', () => {
  it.each(FORBIDDEN)('refuses %s, creates no client and burns no IAT use', async (field, value) => {
    const { id, token } = await mintIatRecord(svc, { max_uses: 1 });
    const name = `forbidden-${field}-${Date.now()}`;
    const res = await register(svc, machineClient({ client_name: name, [field]: value }), token);
    const body = await expectError(res, 400, 'invalid_client_metadata');
    expect(body.error_description).toContain(field);
    expect(await clientsNamed(name)).toBe(0);
    expect(await iatUses(svc, id)).toBe(0);
  });

  it('refuses access_token_strategy even when it equals the configured strategy or is empty', async () => {
    const token = await mintIat(svc, { max_uses: 3 });
    for (const value of ['opaque', '', null]) {
      const body = await expectError(await register(svc, machineClient({ access_token_strategy: value }), token), 400, 'invalid_client_metadata');
      expect(body.error_description).toContain('access_token_strategy');
    }
  });

  it('leaves the IAT usable after a forbidden field was refused', async () => {
    const { id, token } = await mintIatRecord(svc, { max_uses: 1 });
    await expectError(await register(svc, machineClient({ access_token_strategy: 'jwt' }), token), 400, 'invalid_client_metadata');
    await created(await register(svc, machineClient(), token));
    expect(await iatUses(svc, id)).toBe(1);
  });
});

describe('§4 unknown fields are ignored (RFC 7591 §2)', () => {
  it('registers a client whose body carries an unknown field and does not echo it back', async () => {
    const token = await mintIat(svc);
    const body = await created(await register(svc, machineClient({ foo_bar: 'baz' }), token));
    expect(body).not.toHaveProperty('foo_bar');
    const { rows } = await query('SELECT fields FROM clients WHERE id = $1', [body.client_id]);
    expect(rows[0].fields).not.toHaveProperty('foo_bar');
    const read = (await (await manage(svc, 'GET', body.client_id as string, body.registration_access_token as string)).json()) as Json;
    expect(read).not.toHaveProperty('foo_bar');
  });

  // Names that exist on Object.prototype must be as unknown as any other name.
  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__'])(
    'ignores an unknown field named %s (a JavaScript built-in name): 201, not 500',
    async (field) => {
      const token = await mintIat(svc);
      // Raw JSON, so that "__proto__" is sent as an ordinary member.
      const json = JSON.stringify(machineClient()).replace(/^\{/, `{${JSON.stringify(field)}:"x",`);
      const body = await created(await postRaw(svc, json, token));
      expect(Object.hasOwn(body, field)).toBe(false);
    },
  );
});

// --- §1 Strategy --------------------------------------------------------------

describe('§1 strategy: with the DCR strategy set, a registered client stores it, and DCR responses never show it', () => {
  let jwtSvc: RunningApp;

  beforeAll(async () => {
    jwtSvc = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: 'jwt' } });
  });
  afterAll(async () => {
    await jwtSvc?.close();
  });

  it("stores access_token_strategy 'jwt' and created_via 'dcr', shown in the admin view", async () => {
    const body = await registerClient(jwtSvc, machineClient());
    const admin = await adminClient(jwtSvc, body.client_id as string);
    expect(admin.access_token_strategy).toBe('jwt');
    expect(admin.created_via).toBe('dcr');
    const { rows } = await query('SELECT access_token_strategy, created_via FROM clients WHERE id = $1', [body.client_id]);
    expect(rows[0]).toEqual({ access_token_strategy: 'jwt', created_via: 'dcr' });
  });

  it('does not show access_token_strategy or metadata in the 201 response', async () => {
    const res = await register(jwtSvc, machineClient(), await mintIat(jwtSvc));
    const body = await created(res);
    expect(body).not.toHaveProperty('access_token_strategy');
    expect(body).not.toHaveProperty('metadata');
  });

  it('does not show access_token_strategy or metadata in the RFC 7592 GET', async () => {
    const body = await registerClient(jwtSvc, machineClient());
    const res = await manage(jwtSvc, 'GET', body.client_id as string, body.registration_access_token as string);
    expect(res.status).toBe(200);
    const read = (await res.json()) as Json;
    expect(read.client_id).toBe(body.client_id);
    expect(read).not.toHaveProperty('access_token_strategy');
    expect(read).not.toHaveProperty('metadata');
  });

  it('refuses a DCR body that asks for another strategy', async () => {
    const res = await register(jwtSvc, machineClient({ access_token_strategy: 'opaque' }), await mintIat(jwtSvc));
    expect((await expectError(res, 400, 'invalid_client_metadata')).error_description).toContain('access_token_strategy');
  });
});

describe('§1 strategy: with the DCR strategy unset, a registered client has an empty strategy', () => {
  it("shows access_token_strategy '' and created_via 'dcr' in the admin view", async () => {
    const body = await registerClient(svc, machineClient());
    const admin = await adminClient(svc, body.client_id as string);
    expect(admin.access_token_strategy).toBe('');
    expect(admin.created_via).toBe('dcr');
    expect(body).not.toHaveProperty('access_token_strategy');
    const { rows } = await query('SELECT access_token_strategy FROM clients WHERE id = $1', [body.client_id]);
    expect(rows[0].access_token_strategy).toBeNull();
  });
});

// --- §4 201 response -----------------------------------------------------------

describe('§4 201 response: the registered metadata with defaults applied and the issued credentials', () => {
  it('returns client_id, a client_secret of at least 256 bits, client_id_issued_at, client_secret_expires_at 0 and the registration credentials', async () => {
    const before = nowSeconds();
    const res = await register(svc, { redirect_uris: ['https://app.example.com/cb'] }, await mintIat(svc));
    const body = await created(res);
    expect(typeof body.client_id).toBe('string');
    expect((body.client_id as string).length).toBeGreaterThan(0);
    const secret = body.client_secret as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(secret, 'base64url').length).toBeGreaterThanOrEqual(32);
    expect(typeof body.client_id_issued_at).toBe('number');
    expect(body.client_id_issued_at as number).toBeGreaterThanOrEqual(before - 2);
    expect(body.client_id_issued_at as number).toBeLessThanOrEqual(nowSeconds() + 2);
    expect(body.client_secret_expires_at).toBe(0);
    expect(typeof body.registration_access_token).toBe('string');
    expect((body.registration_access_token as string).length).toBeGreaterThanOrEqual(32);
    expect(body.registration_client_uri).toBe(`${svc.url}/oauth2/register/${body.client_id as string}`);
  });

  it('applies the RFC 7591 defaults: grant_types authorization_code, response_types code, client_secret_basic', async () => {
    const body = await created(await register(svc, { redirect_uris: ['https://app.example.com/cb'] }, await mintIat(svc)));
    expect(body.grant_types).toEqual(['authorization_code']);
    expect(body.response_types).toEqual(['code']);
    expect(body.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(body.redirect_uris).toEqual(['https://app.example.com/cb']);
  });

  it('echoes the registered metadata', async () => {
    const input = webClient({ contacts: ['ops@example.com'], client_uri: 'https://app.example.com', token_endpoint_auth_method: 'client_secret_post' });
    const body = await created(await register(svc, input, await mintIat(svc)));
    for (const [key, value] of Object.entries(input)) expect(body[key]).toEqual(value);
  });

  it('sends Cache-Control: no-store', async () => {
    const res = await register(svc, machineClient(), await mintIat(svc));
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('gives a token_endpoint_auth_method none client no client_secret', async () => {
    const input = webClient({ application_type: 'native', redirect_uris: ['com.example.app:/cb'], token_endpoint_auth_method: 'none' });
    const body = await created(await register(svc, input, await mintIat(svc)));
    expect(body).not.toHaveProperty('client_secret');
    expect(body.client_secret_expires_at).toBe(0);
    expect(typeof body.registration_access_token).toBe('string');
  });

  it('gives a private_key_jwt client no client_secret', async () => {
    const input = machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [PUBLIC_JWK] } });
    const body = await created(await register(svc, input, await mintIat(svc)));
    expect(body).not.toHaveProperty('client_secret');
    expect(body.jwks).toEqual({ keys: [PUBLIC_JWK] });
  });

  it('stores the client_secret and the registration access token only as hashes', async () => {
    const body = await registerClient(svc, machineClient());
    const secret = body.client_secret as string;
    const rat = body.registration_access_token as string;
    const { rows } = await query(
      `SELECT secret_hash, registration_access_token_hash, fields::text AS fields, to_jsonb(c)::text AS whole
         FROM clients c WHERE id = $1`,
      [body.client_id],
    );
    expect(rows).toHaveLength(1);
    const row = rows[0] as Record<string, string>;
    expect(row.secret_hash).toBeTruthy();
    expect(row.registration_access_token_hash).toBeTruthy();
    for (const column of ['secret_hash', 'registration_access_token_hash', 'fields', 'whole']) {
      expect(row[column]).not.toContain(secret);
      expect(row[column]).not.toContain(rat);
    }
  });

  it('shows the client_secret and registration access token in the 201 response only', async () => {
    const body = await registerClient(svc, machineClient());
    const read = (await (await manage(svc, 'GET', body.client_id as string, body.registration_access_token as string)).json()) as Json;
    expect(read.client_id).toBe(body.client_id);
    expect(read).not.toHaveProperty('client_secret');
    expect(read).not.toHaveProperty('registration_access_token');
    const admin = await adminClient(svc, body.client_id as string);
    expect(admin).not.toHaveProperty('client_secret');
    expect(admin).not.toHaveProperty('registration_access_token');
  });
});

describe('§4/§2 201 response: with client_secret.expires_in set, client_secret_expires_at is now + expires_in', () => {
  let expiring: RunningApp;
  const N = 3600;

  beforeAll(async () => {
    expiring = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_CLIENT_SECRET_EXPIRES_IN: String(N) } });
  });
  afterAll(async () => {
    await expiring?.close();
  });

  it('sets client_secret_expires_at to about now + N seconds', async () => {
    const before = nowSeconds();
    const body = await registerClient(expiring, machineClient());
    expect(typeof body.client_secret).toBe('string');
    expect(body.client_secret_expires_at as number).toBeGreaterThanOrEqual(before + N - 2);
    expect(body.client_secret_expires_at as number).toBeLessThanOrEqual(nowSeconds() + N + 2);
    expect(body.client_secret_expires_at as number).toBeGreaterThanOrEqual(body.client_id_issued_at as number);
  });

  it('keeps client_secret_expires_at 0 for a client that has no secret', async () => {
    const input = webClient({ application_type: 'native', redirect_uris: ['com.example.app:/cb'], token_endpoint_auth_method: 'none' });
    const body = await registerClient(expiring, input);
    expect(body).not.toHaveProperty('client_secret');
    expect(body.client_secret_expires_at).toBe(0);
  });
});

// --- §4 Validation --------------------------------------------------------------

describe('§4 validation: redirect_uris', () => {
  it('refuses an http redirect URI on a non-loopback host with invalid_redirect_uri', async () => {
    const res = await register(svc, webClient({ redirect_uris: ['http://app.example.com/cb'] }), await mintIat(svc));
    await expectError(res, 400, 'invalid_redirect_uri');
  });

  it('refuses a redirect URI with a fragment with invalid_redirect_uri', async () => {
    const res = await register(svc, webClient({ redirect_uris: ['https://app.example.com/cb#frag'] }), await mintIat(svc));
    await expectError(res, 400, 'invalid_redirect_uri');
  });

  it('requires redirect_uris for the authorization_code grant', async () => {
    const res = await register(svc, { grant_types: ['authorization_code'], response_types: ['code'] }, await mintIat(svc));
    await expectError(res, 400, 'invalid_redirect_uri');
  });

  it('accepts http on 127.0.0.1 for a web client', async () => {
    const body = await registerClient(svc, webClient({ redirect_uris: ['http://127.0.0.1:8080/cb'] }));
    expect(body.redirect_uris).toEqual(['http://127.0.0.1:8080/cb']);
  });

  it('refuses http://localhost/cb for a web client while allow_localhost_redirects is off (the default)', async () => {
    const res = await register(svc, webClient({ redirect_uris: ['http://localhost/cb'] }), await mintIat(svc));
    await expectError(res, 400, 'invalid_redirect_uri');
  });

  it('accepts a native app with the reverse-DNS private-use scheme redirect com.example.app:/cb', async () => {
    const input = webClient({ application_type: 'native', redirect_uris: ['com.example.app:/cb'], token_endpoint_auth_method: 'none' });
    const body = await registerClient(svc, input);
    expect(body.redirect_uris).toEqual(['com.example.app:/cb']);
    expect(body.application_type).toBe('native');
  });

  it('refuses a native app private-use scheme without a dot', async () => {
    const input = webClient({ application_type: 'native', redirect_uris: ['myapp:/cb'], token_endpoint_auth_method: 'none' });
    await expectError(await register(svc, input, await mintIat(svc)), 400, 'invalid_redirect_uri');
  });
});

describe('§4/§9 validation: with allow_localhost_redirects=true, web clients may use http://localhost', () => {
  let lenient: RunningApp;

  beforeAll(async () => {
    lenient = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_ALLOW_LOCALHOST_REDIRECTS: 'true' } });
  });
  afterAll(async () => {
    await lenient?.close();
  });

  it('accepts http://localhost/cb for a web client', async () => {
    const body = await registerClient(lenient, webClient({ redirect_uris: ['http://localhost/cb'] }));
    expect(body.redirect_uris).toEqual(['http://localhost/cb']);
  });

  it('still refuses http on a non-loopback host', async () => {
    const res = await register(lenient, webClient({ redirect_uris: ['http://app.example.com/cb'] }), await mintIat(lenient));
    await expectError(res, 400, 'invalid_redirect_uri');
  });
});

describe('§4 validation: token_endpoint_auth_method and jwks', () => {
  it('refuses token_endpoint_auth_method none with the client_credentials grant', async () => {
    const res = await register(svc, machineClient({ token_endpoint_auth_method: 'none' }), await mintIat(svc));
    const body = await expectError(res, 400, 'invalid_client_metadata');
    expect(body.error_description).toContain('client_credentials');
  });

  it('refuses private_key_jwt without jwks or jwks_uri', async () => {
    const res = await register(svc, machineClient({ token_endpoint_auth_method: 'private_key_jwt' }), await mintIat(svc));
    await expectError(res, 400, 'invalid_client_metadata');
  });

  it('refuses a jwks that carries a private member d', async () => {
    const jwks = { keys: [{ ...PUBLIC_JWK, d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' }] };
    const res = await register(svc, machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks }), await mintIat(svc));
    const body = await expectError(res, 400, 'invalid_client_metadata');
    expect(body.error_description).toContain('jwks');
  });

  it('refuses jwks together with jwks_uri', async () => {
    const input = machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [PUBLIC_JWK] }, jwks_uri: 'https://app.example.com/jwks.json' });
    await expectError(await register(svc, input, await mintIat(svc)), 400, 'invalid_client_metadata');
  });

  it('refuses grant_types and response_types that disagree', async () => {
    const res = await register(svc, machineClient({ response_types: ['code'] }), await mintIat(svc));
    await expectError(res, 400, 'invalid_client_metadata');
  });
});

describe('§4/§9 validation: scope against allowed_scopes, and default_scope when omitted', () => {
  let scoped: RunningApp;

  beforeAll(async () => {
    scoped = await startApp({
      env: {
        OIDC_DYNAMIC_CLIENT_REGISTRATION_ALLOWED_SCOPES: 'read,write,openid',
        OIDC_DYNAMIC_CLIENT_REGISTRATION_DEFAULT_SCOPE: 'read,write',
      },
    });
  });
  afterAll(async () => {
    await scoped?.close();
  });

  it('refuses a scope outside allowed_scopes with invalid_client_metadata', async () => {
    const res = await register(scoped, machineClient({ scope: 'read admin' }), await mintIat(scoped));
    const body = await expectError(res, 400, 'invalid_client_metadata');
    expect(body.error_description).toContain('admin');
  });

  it('accepts scopes within allowed_scopes', async () => {
    const body = await registerClient(scoped, machineClient({ scope: 'read' }));
    expect(body.scope).toBe('read');
  });

  it("gives a client that omits scope the default_scope 'read write'", async () => {
    const input = machineClient();
    delete input.scope;
    const body = await registerClient(scoped, input);
    expect(body.scope).toBe('read write');
    const admin = await adminClient(scoped, body.client_id as string);
    expect(admin.scope).toBe('read write');
  });
});

describe('§4 validation: human-readable fields and bounded sizes', () => {
  it('keeps a language-tagged client_name#fr and echoes it', async () => {
    const body = await registerClient(svc, machineClient({ client_name: 'Example', 'client_name#fr': 'Exemple' }));
    expect(body['client_name#fr']).toBe('Exemple');
    expect(body.client_name).toBe('Example');
    const read = (await (await manage(svc, 'GET', body.client_id as string, body.registration_access_token as string)).json()) as Json;
    expect(read['client_name#fr']).toBe('Exemple');
  });

  it('accepts a 2000-character client_name', async () => {
    const body = await registerClient(svc, machineClient({ client_name: 'n'.repeat(2000) }));
    expect((body.client_name as string).length).toBe(2000);
  });

  it('refuses a 2001-character client_name with 400 invalid_client_metadata', async () => {
    const res = await register(svc, machineClient({ client_name: 'n'.repeat(2001) }), await mintIat(svc));
    expect((await expectError(res, 400, 'invalid_client_metadata')).error_description).toContain('client_name');
  });

  it('refuses a list that is too long with 400, not 500', async () => {
    const contacts = Array.from({ length: 500 }, (_, i) => `c${i}@example.com`);
    const res = await register(svc, machineClient({ contacts }), await mintIat(svc));
    expect((await expectError(res, 400, 'invalid_client_metadata')).error_description).toContain('contacts');
  });

  it('answers a body over 64 KiB with 413 JSON', async () => {
    const res = await register(svc, machineClient({ client_name: 'x'.repeat(70_000) }), await mintIat(svc));
    await expectError(res, 413, 'request_entity_too_large');
  });

  it('answers a JSON array body with 400 invalid_request', async () => {
    const res = await register(svc, [machineClient()], await mintIat(svc));
    await expectError(res, 400, 'invalid_request');
  });

  it('answers malformed JSON with 400 invalid_request', async () => {
    const res = await postRaw(svc, '{"client_name": ', await mintIat(svc));
    await expectError(res, 400, 'invalid_request');
  });
});

// --- §3 Registration endpoint only while DCR is enabled -----------------------

describe('§3/§4 discovery: registration_endpoint while DCR is enabled', () => {
  it('advertises registration_endpoint in both discovery documents', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const res = await fetch(svc.url + path);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Json;
      expect(doc.registration_endpoint).toBe(`${svc.url}/oauth2/register`);
    }
  });
});

describe('§3 with oidc.dynamic_client_registration.enabled=false, the registration endpoints do not exist', () => {
  let disabled: RunningApp;

  beforeAll(async () => {
    disabled = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await disabled?.close();
  });

  it('answers POST /oauth2/register with 404 JSON, also with a valid IAT', async () => {
    await expectError(await register(disabled, machineClient()), 404, 'not_found');
    const { id, token } = await mintIatRecord(disabled);
    await expectError(await register(disabled, machineClient(), token), 404, 'not_found');
    expect(await iatUses(disabled, id)).toBe(0);
  });

  it('answers GET /oauth2/register/x with 404 JSON', async () => {
    await expectError(await fetch(`${disabled.url}/oauth2/register/x`), 404, 'not_found');
  });

  it('has no registration_endpoint in the discovery documents', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const res = await fetch(disabled.url + path);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Json;
      expect(doc.issuer).toBe(disabled.url);
      expect(doc).not.toHaveProperty('registration_endpoint');
    }
  });
});
