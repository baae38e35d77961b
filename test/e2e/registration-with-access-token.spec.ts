// Registration authorised by an access token (RFC 7591 §3; README, "Registering
// with an access token"): a portal's client_credentials token or a signed-in
// user's token with the configured scope registers clients in place of an
// initial access token, under the policies its client names, and the new
// client records who authorised it. Over real HTTP on the run's PostgreSQL.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, mintIat, register, registerClient } from '../support/dcr.js';
import { expectOAuthError as expectError } from '../support/expect.js';
import { basicAuth } from '../support/net.js';
import { adminIntrospect, Browser, runFlow, tokenRequest } from '../support/oauth-flow.js';

type Json = Record<string, unknown>;

const SCOPE = 'dcr';
const WEB_REDIRECT = 'https://portal.example.com/callback';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_ACCESS_TOKEN_SCOPE: SCOPE } });
});
afterAll(async () => {
  await svc?.close();
});

let counter = 0;
function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now()}-${process.pid}-${counter}`;
}

async function json(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

interface Portal {
  id: string;
  secret: string;
}

/** An admin-created machine client: a portal or gateway that registers clients for others. */
async function createPortal(app: RunningApp, fields: Json = {}): Promise<Portal> {
  const res = await app.admin('/admin/clients', {
    method: 'POST',
    json: { client_name: unique('portal'), grant_types: ['client_credentials'], scope: `${SCOPE} read`, ...fields },
  });
  const created = await json(res);
  if (res.status !== 201) throw new Error(`creating the portal failed: ${res.status} ${JSON.stringify(created)}`);
  return { id: created.client_id as string, secret: created.client_secret as string };
}

/** A client_credentials access token of `portal` (scope `dcr` unless told otherwise). */
async function portalToken(app: RunningApp, portal: Portal, form: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${app.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(portal.id, portal.secret), ...headers },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: SCOPE, ...form }),
  });
  const body = await json(res);
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token as string;
}

async function adminView(app: RunningApp, clientId: string): Promise<Json> {
  const res = await app.admin(`/admin/clients/${encodeURIComponent(clientId)}`);
  expect(res.status).toBe(200);
  return json(res);
}

async function createPolicy(rules: Json): Promise<string> {
  const name = unique('portal-policy');
  const res = await svc.admin('/admin/policies', { method: 'POST', json: { name, rules } });
  if (res.status !== 201) throw new Error(`creating policy ${name} failed: ${res.status} ${await res.text()}`);
  return name;
}

/** The one answer for a token that authorises no registration, whichever kind it was. */
async function expectUnauthorised(res: Response): Promise<Json> {
  const body = await expectError(res, 401, 'invalid_token');
  expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  return body;
}

/** The log lines written since `from`, joined. */
function logsSince(app: RunningApp, from: number): string {
  return app.logs.slice(from).join('\n');
}

describe('registering with a client_credentials access token that carries the registration scope', () => {
  it.each(['opaque', 'jwt'])('registers a client with a %s token; the admin view records the portal as registered_by, the registrant does not see it', async (format) => {
    const portal = await createPortal(svc, { access_token_strategy: format });
    const token = await portalToken(svc, portal);
    expect(token.split('.').length === 3).toBe(format === 'jwt');

    const res = await register(svc, machineClient({ client_name: 'Registered by the portal' }), token);
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const registered = await json(res);
    expect(typeof registered.client_secret).toBe('string');
    expect(typeof registered.registration_access_token).toBe('string');
    expect(registered).not.toHaveProperty('registered_by');

    const view = await adminView(svc, registered.client_id as string);
    expect(view.created_via).toBe('dcr');
    expect(view.registered_by).toEqual({ client_id: portal.id, subject: portal.id });
    expect(view).not.toHaveProperty('registered_client_policies');
    // The token is not an IAT and is not used up: it registers again.
    expect((await register(svc, machineClient(), token)).status).toBe(201);
  });

  it('accepts a token whose audience is the registration endpoint', async () => {
    const endpoint = `${svc.url}/oauth2/register`;
    const portal = await createPortal(svc, { audience: [endpoint] });
    const token = await portalToken(svc, portal, { audience: endpoint });
    const res = await register(svc, machineClient(), token);
    expect(res.status).toBe(201);
  });

  it('leaves admin-created clients without registered_by', async () => {
    const portal = await createPortal(svc);
    expect(await adminView(svc, portal.id)).not.toHaveProperty('registered_by');
  });
});

describe('registering with the access token of a signed-in user (authorization code flow)', () => {
  it('records the user as the subject and the app as the client', async () => {
    const app = await createPortal(svc, {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [WEB_REDIRECT],
      scope: `openid ${SCOPE}`,
    });
    const subject = `alice-${randomBytes(4).toString('hex')}`;
    const flow = await runFlow(
      svc,
      new Browser(),
      { client_id: app.id, response_type: 'code', redirect_uri: WEB_REDIRECT, scope: `openid ${SCOPE}`, state: 'state-123456' },
      { login: { subject } },
    );
    const exchanged = await tokenRequest(
      svc,
      { grant_type: 'authorization_code', code: flow.code, redirect_uri: WEB_REDIRECT },
      { id: app.id, secret: app.secret },
    );
    expect(exchanged.status).toBe(200);
    expect(exchanged.body.scope).toBe(`openid ${SCOPE}`);

    const res = await register(svc, machineClient(), exchanged.body.access_token as string);
    expect(res.status).toBe(201);
    const view = await adminView(svc, ((await json(res)).client_id as string));
    expect(view.registered_by).toEqual({ client_id: app.id, subject });
  });
});

describe('tokens that authorise no registration: the same 401 as a bad initial access token', () => {
  it('answers a bad IAT and a bad access token with the same status, body and challenge, and logs why without the token', async () => {
    const portal = await createPortal(svc);
    const withoutScope = await portalToken(svc, portal, { scope: 'read' });
    const from = svc.logs.length;
    const badIat = await register(svc, machineClient(), randomBytes(32).toString('base64url'));
    const badAccessToken = await register(svc, machineClient(), withoutScope);
    expect(badIat.status).toBe(401);
    expect(badAccessToken.status).toBe(401);
    expect(badAccessToken.headers.get('www-authenticate')).toBe(badIat.headers.get('www-authenticate'));
    const [iatBody, tokenBody] = [await badIat.text(), await badAccessToken.text()];
    expect(tokenBody).toBe(iatBody);
    expect(JSON.parse(tokenBody)).toEqual({
      error: 'invalid_token',
      error_description: 'the token is not a usable initial access token or an access token that authorises registration',
    });
    const logs = logsSince(svc, from);
    expect(logs).toContain('the access token lacks the registration scope');
    expect(logs).not.toContain(withoutScope);
  });

  it('refuses an expired token', async () => {
    const portal = await createPortal(svc, { client_credentials_grant_access_token_lifespan: '1s' });
    const token = await portalToken(svc, portal);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await expectUnauthorised(await register(svc, machineClient(), token));
  });

  it.each(['opaque', 'jwt'])('refuses a revoked %s token', async (format) => {
    const portal = await createPortal(svc, { access_token_strategy: format });
    const token = await portalToken(svc, portal);
    const revoked = await fetch(`${svc.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(portal.id, portal.secret) },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    await expectUnauthorised(await register(svc, machineClient(), token));
  });

  it("refuses a JWT signed with another issuer's key, even one naming this server's kid and claims", async () => {
    const portal = await createPortal(svc);
    const jwks = await json(await fetch(`${svc.url}/.well-known/jwks.json`));
    const kid = ((jwks.keys as Json[])[0] as { kid: string }).kid;
    const { privateKey } = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ client_id: portal.id, scope: SCOPE })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
      .setIssuer(svc.url)
      .setSubject(portal.id)
      .setAudience(svc.url)
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .setJti(randomUUID())
      .sign(privateKey);
    await expectUnauthorised(await register(svc, machineClient(), forged));
  });

  it('refuses a token addressed only to another API', async () => {
    const api = 'https://api.example.com/';
    const portal = await createPortal(svc, { audience: [api] });
    const token = await portalToken(svc, portal, { audience: api });
    const from = svc.logs.length;
    await expectUnauthorised(await register(svc, machineClient(), token));
    expect(logsSince(svc, from)).toContain('not addressed to this server');
  });

  it('refuses a token once an admin has taken the registration scope from its client', async () => {
    const portal = await createPortal(svc);
    const token = await portalToken(svc, portal);
    const patched = await svc.admin(`/admin/clients/${portal.id}`, { method: 'PATCH', json: [{ op: 'replace', path: '/scope', value: 'read' }] });
    expect(patched.status).toBe(200);
    await expectUnauthorised(await register(svc, machineClient(), token));
  });

  it('refuses a token of a client that registered itself, even when an admin gave it the scope', async () => {
    const registered = await registerClient(svc, machineClient({ scope: 'read' }));
    const id = registered.client_id as string;
    const patched = await svc.admin(`/admin/clients/${id}`, { method: 'PATCH', json: [{ op: 'replace', path: '/scope', value: `read ${SCOPE}` }] });
    expect(patched.status).toBe(200);
    const token = await portalToken(svc, { id, secret: registered.client_secret as string });
    const from = svc.logs.length;
    await expectUnauthorised(await register(svc, machineClient(), token));
    expect(logsSince(svc, from)).toContain('not issued to a client an administrator created');
  });

  it('refuses a token of a deleted client', async () => {
    const portal = await createPortal(svc, { access_token_strategy: 'jwt' });
    const token = await portalToken(svc, portal);
    expect((await svc.admin(`/admin/clients/${portal.id}`, { method: 'DELETE' })).status).toBe(204);
    await expectUnauthorised(await register(svc, machineClient(), token));
  });
});

describe('policies of the token’s client', () => {
  it('applies them: a scope outside the policy’s allowed_scopes is refused naming the policy', async () => {
    const policy = await createPolicy({ allowed_scopes: ['read'] });
    const portal = await createPortal(svc, { registered_client_policies: [policy] });
    const token = await portalToken(svc, portal);
    await expectError(await register(svc, machineClient({ scope: 'write' }), token), 400, 'invalid_client_metadata', `policy "${policy}"`, 'allowed_scopes');
    const ok = await register(svc, machineClient({ scope: 'read' }), token);
    expect(ok.status).toBe(201);
    const registered = await json(ok);
    // RFC 7592 updates apply the same policies again.
    const update = await manage(svc, 'PUT', registered.client_id as string, registered.registration_access_token as string, {
      client_id: registered.client_id,
      grant_types: ['client_credentials'],
      scope: 'write',
    });
    await expectError(update, 400, 'invalid_client_metadata', `policy "${policy}"`);
  });

  it('counts max_clients atomically: of 10 concurrent registrations with max_clients 3, exactly 3 succeed', async () => {
    const policy = await createPolicy({ max_clients: 3 });
    const portal = await createPortal(svc, { registered_client_policies: [policy] });
    const token = await portalToken(svc, portal);
    const answers = await Promise.all(Array.from({ length: 10 }, () => register(svc, machineClient(), token)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 201, 400, 400, 400, 400, 400, 400, 400]);
    for (const refused of answers.filter((r) => r.status === 400)) {
      await expectError(refused, 400, 'invalid_client_metadata', `policy "${policy}"`, 'max_clients');
    }
    const stored = await json(await svc.admin(`/admin/policies/${policy}`));
    expect(stored.clients_created).toBe(3);
  });
});

describe('registered_client_policies: the admin sets it, registrants cannot', () => {
  it('is shown in the admin view and refused with 400 naming a policy that does not exist', async () => {
    const policy = await createPolicy({ allowed_scopes: ['read'] });
    const portal = await createPortal(svc, { registered_client_policies: [policy] });
    expect((await adminView(svc, portal.id)).registered_client_policies).toEqual([policy]);
    const missing = unique('no-such-policy');
    const res = await svc.admin('/admin/clients', {
      method: 'POST',
      json: { grant_types: ['client_credentials'], registered_client_policies: [policy, missing] },
    });
    await expectError(res, 400, 'invalid_client_metadata', 'registered_client_policies', missing);
    const put = await svc.admin(`/admin/clients/${portal.id}`, {
      method: 'PUT',
      json: { grant_types: ['client_credentials'], scope: SCOPE, registered_client_policies: [missing] },
    });
    await expectError(put, 400, 'invalid_client_metadata', 'registered_client_policies', missing);
  });

  it.each<[string, unknown]>([
    ['a string', 'partners'],
    ['a list with a number', [42]],
    ['an object', { name: 'partners' }],
  ])('refuses registered_client_policies as %s with 400 naming it', async (_case, value) => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: { grant_types: ['client_credentials'], registered_client_policies: value } });
    await expectError(res, 400, 'invalid_client_metadata', 'registered_client_policies');
  });

  it('keeps a policy from being deleted while a client names it there', async () => {
    const policy = await createPolicy({ allowed_scopes: ['read'] });
    const portal = await createPortal(svc, { registered_client_policies: [policy] });
    await expectError(await svc.admin(`/admin/policies/${policy}`, { method: 'DELETE' }), 409, 'conflict', '1 client');
    expect((await svc.admin(`/admin/clients/${portal.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await svc.admin(`/admin/policies/${policy}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('refuses a registrant that sends registered_client_policies or registered_by, at registration and update', async () => {
    const iat = await mintIat(svc, { max_uses: 3 });
    await expectError(await register(svc, machineClient({ registered_client_policies: [] }), iat), 400, 'invalid_client_metadata', 'registered_client_policies');
    await expectError(
      await register(svc, machineClient({ registered_by: { client_id: 'x', subject: 'y' } }), iat),
      400,
      'invalid_client_metadata',
      'registered_by',
    );
    const registered = await registerClient(svc, machineClient());
    const update = await manage(svc, 'PUT', registered.client_id as string, registered.registration_access_token as string, {
      client_id: registered.client_id,
      grant_types: ['client_credentials'],
      registered_client_policies: [],
    });
    await expectError(update, 400, 'invalid_client_metadata', 'registered_client_policies');
  });

  it('refuses a registrant that asks for the registration scope, with an IAT or with an access token', async () => {
    await expectError(await register(svc, machineClient({ scope: `read ${SCOPE}` }), await mintIat(svc)), 400, 'invalid_client_metadata', `"${SCOPE}"`);
    const token = await portalToken(svc, await createPortal(svc));
    await expectError(await register(svc, machineClient({ scope: SCOPE }), token), 400, 'invalid_client_metadata', `"${SCOPE}"`);
    const registered = await registerClient(svc, machineClient({ scope: 'read' }));
    const update = await manage(svc, 'PUT', registered.client_id as string, registered.registration_access_token as string, {
      client_id: registered.client_id,
      grant_types: ['client_credentials'],
      scope: `read ${SCOPE}`,
    });
    await expectError(update, 400, 'invalid_client_metadata', `"${SCOPE}"`);
  });
});

describe('DPoP-bound access tokens (RFC 9449 §7.1)', () => {
  interface Key {
    privateKey: CryptoKey;
    publicJwk: JWK;
  }

  async function newKey(): Promise<Key> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    return { privateKey, publicJwk: await exportJWK(publicKey) };
  }

  async function proof(key: Key, htu: string, accessToken?: string): Promise<string> {
    const claims: Json = { jti: randomUUID(), htm: 'POST', htu, iat: Math.floor(Date.now() / 1000) };
    if (accessToken) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk }).sign(key.privateKey);
  }

  async function boundToken(key: Key, format: string): Promise<string> {
    const portal = await createPortal(svc, { access_token_strategy: format });
    const token = await portalToken(svc, portal, {}, { DPoP: await proof(key, `${svc.url}/oauth2/token`) });
    if (format === 'jwt') expect((decodeJwt(token).cnf as { jkt: string }).jkt).toBe(await calculateJwkThumbprint(key.publicJwk));
    return token;
  }

  function registerWith(authorization: string, dpop?: string): Promise<Response> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Authorization: authorization };
    if (dpop) headers.DPoP = dpop;
    return fetch(`${svc.url}/oauth2/register`, { method: 'POST', headers, body: JSON.stringify(machineClient()) });
  }

  it.each(['opaque', 'jwt'])('registers with a bound %s token presented as DPoP with a proof by its key', async (format) => {
    const key = await newKey();
    const token = await boundToken(key, format);
    const res = await registerWith(`DPoP ${token}`, await proof(key, `${svc.url}/oauth2/register`, token));
    expect(res.status).toBe(201);
  });

  it('refuses a bound token presented as Bearer, without a proof, or with a proof by another key or for another URL', async () => {
    const key = await newKey();
    const token = await boundToken(key, 'opaque');
    const endpoint = `${svc.url}/oauth2/register`;
    await expectError(await registerWith(`Bearer ${token}`, await proof(key, endpoint, token)), 401, 'invalid_token', 'DPoP-bound');
    await expectError(await registerWith(`DPoP ${token}`), 401, 'invalid_dpop_proof', 'required');
    await expectError(await registerWith(`DPoP ${token}`, await proof(await newKey(), endpoint, token)), 401, 'invalid_dpop_proof', 'another key');
    await expectError(await registerWith(`DPoP ${token}`, await proof(key, `${svc.url}/oauth2/token`, token)), 401, 'invalid_dpop_proof', 'htu');
  });

  it('refuses a bearer token presented with the DPoP scheme', async () => {
    const key = await newKey();
    const token = await portalToken(svc, await createPortal(svc));
    await expectError(await registerWith(`DPoP ${token}`, await proof(key, `${svc.url}/oauth2/register`, token)), 401, 'invalid_token', 'not DPoP-bound');
  });
});

describe('with the feature off (no registration scope configured)', () => {
  let off: RunningApp;
  beforeAll(async () => {
    // The same database and issuer as the app with the feature on: its tokens are valid here too.
    off = await startApp({ env: { URLS_SELF_ISSUER: svc.url } });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('treats an access token with the scope as an invalid initial access token: 401', async () => {
    const token = await portalToken(svc, await createPortal(svc));
    expect((await adminIntrospect(off, token)).active).toBe(true);
    const res = await register(off, machineClient(), token);
    const body = await expectError(res, 401, 'invalid_token');
    expect(body.error_description).toBe('the initial access token is unknown, expired, revoked or used up');
    // The same token registers where the feature is on.
    expect((await register(svc, machineClient(), token)).status).toBe(201);
  });

  it('lets a registrant ask for any well-formed scope, dcr included', async () => {
    const res = await register(off, machineClient({ scope: `read ${SCOPE}` }), await mintIat(off));
    expect(res.status).toBe(201);
  });
});

describe('with open registration (no initial access token required)', () => {
  let open: RunningApp;
  beforeAll(async () => {
    open = await startApp({
      env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_ACCESS_TOKEN_SCOPE: SCOPE, OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false' },
    });
  });
  afterAll(async () => {
    await open?.close();
  });

  it('registers without a token as before, records a token’s registrar, and refuses a bad token', async () => {
    const anonymous = await register(open, machineClient());
    expect(anonymous.status).toBe(201);
    expect(await adminView(open, (await json(anonymous)).client_id as string)).not.toHaveProperty('registered_by');

    const portal = await createPortal(open);
    const withToken = await register(open, machineClient(), await portalToken(open, portal));
    expect(withToken.status).toBe(201);
    expect((await adminView(open, (await json(withToken)).client_id as string)).registered_by).toEqual({ client_id: portal.id, subject: portal.id });

    await expectUnauthorised(await register(open, machineClient(), 'not-a-token-of-this-server'));
  });
});
