// What a registrant holding a valid initial access token (or none, under open
// registration) can reach: no audience or scope beyond what the operator
// allows (README, "Securing open registration"), no hint of which client ids
// exist from client authentication (RFC 6749 §5.2), Secure cookies on an https
// issuer, and production refusing an http issuer.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { machineClient, webClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, mintIat, register, registerClient } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { basicAuth } from '../support/net.js';

type Json = Record<string, unknown>;

const STATEMENT_ISSUER = 'https://statements.example.com';
const PARTNER_API = 'https://partner-api.example.com';

let svc: RunningApp;
let allowing: RunningApp;
let statementKey: { privateKey: CryptoKey; publicJwk: JWK };
/** An operator's resource server: the audience an attacker would like its tokens to name. */
let resourceServer: Json;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  statementKey = { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: 'statements', alg: 'ES256' } };
  svc = await startApp({
    env: {
      OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_TRUSTED_ISSUERS: JSON.stringify([
        { issuer: STATEMENT_ISSUER, jwks: { keys: [statementKey.publicJwk] } },
      ]),
    },
  });
  allowing = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_ALLOWED_AUDIENCES: PARTNER_API } });
  const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ client_name: 'payments resource server' }) });
  expect(res.status).toBe(201);
  resourceServer = (await res.json()) as Json;
});

afterAll(async () => {
  await svc?.close();
  await allowing?.close();
});

function tokenRequest(app: RunningApp, params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${app.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
}

async function created(res: Response): Promise<Json> {
  const text = await res.text();
  expect({ status: res.status, body: text }).toEqual({ status: 201, body: expect.any(String) });
  return JSON.parse(text) as Json;
}

async function createPolicy(app: RunningApp, name: string, rules: Json): Promise<void> {
  const res = await app.admin('/admin/policies', { method: 'POST', json: { name, rules } });
  expect(res.status).toBe(201);
}

describe('audiences a registrant may name (oidc.dynamic_client_registration.allowed_audiences, unset)', () => {
  it('refuses a registration naming another client as audience with 400 invalid_client_metadata naming the value', async () => {
    const target = String(resourceServer.client_id);
    const res = await register(svc, machineClient({ audience: [target], scope: 'payments.write admin' }), await mintIat(svc));
    await expectOAuthError(res, 400, 'invalid_client_metadata', 'audience', target);
  });

  it('refuses any audience at all, and burns no use of the initial access token', async () => {
    const iat = await mintIat(svc);
    await expectOAuthError(await register(svc, machineClient({ audience: ['https://api.example.com'] }), iat), 400, 'invalid_client_metadata', 'https://api.example.com');
    await created(await register(svc, machineClient(), iat));
  });

  it('refuses an RFC 7592 update that adds an audience, and the client keeps none', async () => {
    const client = await registerClient(svc, machineClient());
    const rat = String(client.registration_access_token);
    const id = String(client.client_id);
    const { client_secret: _secret, registration_access_token: _rat, registration_client_uri: _uri, client_id_issued_at: _iat, client_secret_expires_at: _exp, ...current } = client;
    const res = await manage(svc, 'PUT', id, rat, { ...current, audience: [String(resourceServer.client_id)] });
    await expectOAuthError(res, 400, 'invalid_client_metadata', String(resourceServer.client_id));
    const read = await manage(svc, 'GET', id, rat);
    expect(((await read.json()) as Json).audience).toEqual([]);
  });

  it('refuses an audience carried by a verified software statement', async () => {
    const statement = await new SignJWT({ software_id: 'sw-aud', grant_types: ['client_credentials'], audience: [String(resourceServer.client_id)] })
      .setProtectedHeader({ alg: 'ES256', kid: 'statements' })
      .setIssuer(STATEMENT_ISSUER)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(statementKey.privateKey);
    const res = await register(svc, { software_statement: statement }, await mintIat(svc));
    await expectOAuthError(res, 400, 'invalid_client_metadata', String(resourceServer.client_id));
  });

  it('leaves the admin door alone: an admin may give any client, a DCR one too, any audience, and its registrant may keep it', async () => {
    const client = await registerClient(svc, machineClient());
    const id = String(client.client_id);
    const patch = await svc.admin(`/admin/clients/${id}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/audience', value: [String(resourceServer.client_id)] }]),
    });
    expect(patch.status).toBe(200);

    const rat = String(client.registration_access_token);
    const current = (await (await manage(svc, 'GET', id, rat)).json()) as Json;
    expect(current.audience).toEqual([resourceServer.client_id]);
    const { registration_client_uri: _uri, client_id_issued_at: _iat, client_secret_expires_at: _exp, ...replacement } = current;
    const kept = await manage(svc, 'PUT', id, rat, replacement);
    expect(kept.status).toBe(200);
    const keptBody = (await kept.json()) as Json;
    expect(keptBody.audience).toEqual([resourceServer.client_id]);
    // Keeping what the operator gave is not adding to it.
    const widened = await manage(svc, 'PUT', id, String(keptBody.registration_access_token), { ...replacement, audience: [String(resourceServer.client_id), PARTNER_API] });
    await expectOAuthError(widened, 400, 'invalid_client_metadata', PARTNER_API);
  });
});

describe('audiences allowed by configuration or by a policy', () => {
  it('accepts a configured audience, issues tokens for it, and still refuses any other', async () => {
    const client = await created(await register(allowing, machineClient({ audience: [PARTNER_API] }), await mintIat(allowing)));
    const token = await tokenRequest(allowing, { grant_type: 'client_credentials', audience: PARTNER_API }, {
      Authorization: basicAuth(String(client.client_id), String(client.client_secret)),
    });
    expect(token.status).toBe(200);
    const other = await register(allowing, machineClient({ audience: [PARTNER_API, 'https://internal.example.com'] }), await mintIat(allowing));
    await expectOAuthError(other, 400, 'invalid_client_metadata', 'https://internal.example.com');
  });

  it('lets a policy with allowed_audiences decide for the registrations made under it, naming the policy when it refuses', async () => {
    const name = `audiences-${Date.now()}`;
    await createPolicy(svc, name, { allowed_audiences: ['https://reports.example.com'] });
    const ok = await created(await register(svc, machineClient({ audience: ['https://reports.example.com'] }), await mintIat(svc, { policies: [name] })));
    expect(ok.audience).toEqual(['https://reports.example.com']);
    const refused = await register(svc, machineClient({ audience: [String(resourceServer.client_id)] }), await mintIat(svc, { policies: [name] }));
    await expectOAuthError(refused, 400, 'invalid_client_metadata', `policy "${name}"`, 'allowed_audiences');
  });

  it('refuses a malformed allowed_audiences rule when the policy is saved', async () => {
    const res = await svc.admin('/admin/policies', { method: 'POST', json: { name: `bad-${Date.now()}`, rules: { allowed_audiences: 'https://a.example.com' } } });
    await expectOAuthError(res, 400, 'invalid_request', 'allowed_audiences');
  });
});

describe('client authentication failures look the same whatever failed (no client enumeration)', () => {
  let known: Json;

  beforeAll(async () => {
    known = await registerClient(svc, machineClient());
  });

  async function answer(res: Response): Promise<{ status: number; challenge: string | null; body: string }> {
    return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.text() };
  }

  it('answers a known confidential client sending only its client_id as it answers an unknown one', async () => {
    const knownId = await answer(await tokenRequest(svc, { grant_type: 'client_credentials', client_id: String(known.client_id) }));
    const unknownId = await answer(await tokenRequest(svc, { grant_type: 'client_credentials', client_id: `unknown-${Date.now()}` }));
    expect(knownId.status).toBe(401);
    expect(knownId).toEqual(unknownId);
    expect(knownId.body).not.toContain('client_secret_basic');
  });

  it('answers the right secret sent with the wrong method as it answers an unknown client', async () => {
    const wrongMethod = await answer(
      await tokenRequest(svc, { grant_type: 'client_credentials', client_id: String(known.client_id), client_secret: String(known.client_secret) }),
    );
    const unknown = await answer(await tokenRequest(svc, { grant_type: 'client_credentials', client_id: `unknown-${Date.now()}`, client_secret: 'secret' }));
    expect(wrongMethod.status).toBe(401);
    expect(wrongMethod).toEqual(unknown);
  });

  it('answers at introspection and revocation the same way', async () => {
    for (const path of ['/oauth2/introspect', '/oauth2/revoke']) {
      const post = (params: Record<string, string>) =>
        fetch(`${svc.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() });
      const knownId = await answer(await post({ token: 'x', client_id: String(known.client_id) }));
      const unknownId = await answer(await post({ token: 'x', client_id: `unknown-${Date.now()}` }));
      expect(knownId.status).toBe(401);
      expect(knownId).toEqual(unknownId);
    }
  });

  it('answers an expired secret as it answers a wrong one', async () => {
    const expiring = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_CLIENT_SECRET_EXPIRES_IN: '1s' } });
    try {
      const client = await registerClient(expiring, machineClient());
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const expired = await answer(await tokenRequest(expiring, { grant_type: 'client_credentials' }, { Authorization: basicAuth(String(client.client_id), String(client.client_secret)) }));
      const wrong = await answer(await tokenRequest(expiring, { grant_type: 'client_credentials' }, { Authorization: basicAuth(String(client.client_id), 'not-the-secret') }));
      expect(expired.status).toBe(401);
      expect(expired).toEqual(wrong);
    } finally {
      await expiring.close();
    }
  });
});

describe('production defaults', () => {
  const production = {
    NODE_ENV: 'production',
    ADMIN_API_KEYS: 'production-admin-key-0123456789abcdef',
    URLS_SELF_ISSUER: 'https://auth.example.com',
    URLS_LOGIN: 'https://login.example.com/login',
    URLS_CONSENT: 'https://login.example.com/consent',
  };
  const warning = (app: RunningApp) => app.logs.filter((l) => l.includes('accepts any scope'));

  it('warns once at start, naming the key, when registration is on and nothing limits scopes', async () => {
    const app = await startApp({ env: production });
    try {
      const lines = warning(app);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toMatchObject({ level: 'warn', key: 'oidc.dynamic_client_registration.allowed_scopes' });
    } finally {
      await app.close();
    }
  });

  it('does not warn when allowed_scopes is set, or when a configured policy limits scopes', async () => {
    const scoped = await startApp({ env: { ...production, OIDC_DYNAMIC_CLIENT_REGISTRATION_ALLOWED_SCOPES: 'read' } });
    await scoped.close();
    expect(warning(scoped)).toEqual([]);

    const name = `scopes-${Date.now()}`;
    await createPolicy(svc, name, { allowed_scopes: ['read'] });
    const limited = await startApp({ env: { ...production, OIDC_DYNAMIC_CLIENT_REGISTRATION_POLICIES: name } });
    await limited.close();
    expect(warning(limited)).toEqual([]);

    // A configured policy that does not limit scopes leaves the warning.
    const loose = `loose-${Date.now()}`;
    await createPolicy(svc, loose, { allowed_grant_types: ['client_credentials'] });
    const open = await startApp({ env: { ...production, OIDC_DYNAMIC_CLIENT_REGISTRATION_POLICIES: loose } });
    await open.close();
    expect(warning(open)).toHaveLength(1);
  });

  it('sets every cookie Secure when the issuer is https', async () => {
    const app = await startApp({ env: { URLS_SELF_ISSUER: 'https://auth.example.com' } });
    try {
      const res = await app.admin('/admin/clients', { method: 'POST', json: webClient() });
      const client = (await res.json()) as Json;
      const query = new URLSearchParams({
        client_id: String(client.client_id),
        response_type: 'code',
        redirect_uri: 'https://app.example.com/callback',
        scope: 'openid',
        state: 'state-0123456789',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      });
      const auth = await fetch(`${app.url}/oauth2/auth?${query}`, { redirect: 'manual' });
      expect(auth.status).toBe(302);
      const cookies = auth.headers.getSetCookie();
      expect(cookies.length).toBeGreaterThan(0);
      for (const cookie of cookies) expect(cookie).toMatch(/; Secure(;|$)/);
    } finally {
      await app.close();
    }
  });
});
