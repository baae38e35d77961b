// client_secret_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core §9)
// over real HTTP: openid-client's ClientSecretJwt at the token and introspection
// endpoints, assertions refused for every reason, registration, discovery, and
// assertions signed with a rotated secret during the overlap (README "Client authentication").
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { ClientsService } from '../../src/clients/clients.service.js';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { createAdminClient, manage, registerClient } from '../support/dcr.js';
import { basicAuth } from '../support/net.js';
import { query } from '../support/postgres.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp({ env: { STRATEGIES_ACCESS_TOKEN: 'opaque' } });
});
afterAll(async () => {
  await svc?.close();
});

type Body = Record<string, unknown>;

async function createClient(body: Body): Promise<Body> {
  return (await createAdminClient(svc, body)) as Body;
}

function secretJwtClient(overrides: Body = {}): Promise<Body> {
  return createClient(machineClient({ token_endpoint_auth_method: 'client_secret_jwt', ...overrides }));
}

function discover(clientId: string, secret: string): Promise<client.Configuration> {
  return client.discovery(new URL(svc.url), clientId, undefined, client.ClientSecretJwt(secret), { execute: [client.allowInsecureRequests] });
}

interface AssertionOptions {
  secret: string;
  clientId: string;
  alg?: string;
  aud?: string;
  jti?: string;
  exp?: number;
  iat?: number;
}

function assertion(o: AssertionOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: o.alg ?? 'HS256' })
    .setIssuer(o.clientId)
    .setSubject(o.clientId)
    .setAudience(o.aud ?? `${svc.url}/oauth2/token`)
    .setJti(o.jti ?? randomUUID())
    .setIssuedAt(o.iat ?? now)
    .setExpirationTime(o.exp ?? now + 60)
    .sign(new TextEncoder().encode(o.secret));
}

async function post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Body }> {
  const res = await fetch(`${svc.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Body) };
}

function tokenWith(signed: string, extra: Record<string, string> = {}): Promise<{ status: number; body: Body }> {
  return post('/oauth2/token', { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: signed, ...extra });
}

async function expectInvalidClient(answer: Promise<{ status: number; body: Body }>): Promise<void> {
  const { status, body } = await answer;
  expect({ status, body }).toEqual({ status: 401, body: { error: 'invalid_client', error_description: 'client authentication failed' } });
}

describe('openid-client 6 with ClientSecretJwt', () => {
  it('gets a client_credentials token, introspects it active, revokes it, then sees it inactive', async () => {
    const c = await secretJwtClient();
    expect(c.token_endpoint_auth_method).toBe('client_secret_jwt');
    const config = await discover(c.client_id as string, c.client_secret as string);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('read');
    const introspected = await client.tokenIntrospection(config, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, client_id: c.client_id, scope: 'read' });
    await client.tokenRevocation(config, tokens.access_token);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });

  it('is refused with the wrong secret', async () => {
    const c = await secretJwtClient();
    const config = await discover(c.client_id as string, `${c.client_secret as string}-wrong`);
    await expect(client.clientCredentialsGrant(config)).rejects.toMatchObject({ error: 'invalid_client' });
  });
});

describe('client_secret_jwt assertions at the token endpoint', () => {
  let c: Body;
  let id: string;
  let secret: string;

  beforeAll(async () => {
    c = await secretJwtClient();
    id = c.client_id as string;
    secret = c.client_secret as string;
  });

  it.each(['HS256', 'HS384', 'HS512'])('accepts an assertion signed with %s and the issuer as audience', async (alg) => {
    const { status, body } = await tokenWith(await assertion({ clientId: id, secret, alg, aud: svc.url }));
    expect({ status, type: body.token_type }).toEqual({ status: 200, type: 'Bearer' });
  });

  it('refuses a replayed jti', async () => {
    const signed = await assertion({ clientId: id, secret });
    expect((await tokenWith(signed)).status).toBe(200);
    await expectInvalidClient(tokenWith(signed));
  });

  it('refuses an assertion signed with another secret', async () => {
    await expectInvalidClient(tokenWith(await assertion({ clientId: id, secret: `${secret}x` })));
  });

  it('refuses an assertion for another audience', async () => {
    await expectInvalidClient(tokenWith(await assertion({ clientId: id, secret, aud: 'https://other.example.com/token' })));
  });

  it('refuses an expired assertion, and one that expires more than ten minutes ahead', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidClient(tokenWith(await assertion({ clientId: id, secret, iat: now - 600, exp: now - 60 })));
    await expectInvalidClient(tokenWith(await assertion({ clientId: id, secret, exp: now + 3600 })));
  });

  it('refuses an unsigned assertion (alg none)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unsigned = `${part({ alg: 'none' })}.${part({ iss: id, sub: id, aud: `${svc.url}/oauth2/token`, jti: randomUUID(), exp: now + 60 })}.`;
    await expectInvalidClient(tokenWith(unsigned));
  });

  it('refuses an RS256 assertion for a client_secret_jwt client', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    expect((await exportJWK(publicKey)).kty).toBe('RSA');
    const now = Math.floor(Date.now() / 1000);
    const signed = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(id)
      .setSubject(id)
      .setAudience(`${svc.url}/oauth2/token`)
      .setJti(randomUUID())
      .setExpirationTime(now + 60)
      .sign(privateKey);
    await expectInvalidClient(tokenWith(signed));
  });

  it('refuses an assertion whose iss is not the client', async () => {
    const now = Math.floor(Date.now() / 1000);
    const signed = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('someone-else')
      .setSubject(id)
      .setAudience(`${svc.url}/oauth2/token`)
      .setJti(randomUUID())
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(secret));
    await expectInvalidClient(tokenWith(signed));
  });

  it('refuses the same client\'s secret sent with client_secret_basic or client_secret_post', async () => {
    const basic = await post('/oauth2/token', { grant_type: 'client_credentials' }, { Authorization: basicAuth(id, secret) });
    expect({ status: basic.status, error: basic.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    await expectInvalidClient(post('/oauth2/token', { grant_type: 'client_credentials', client_id: id, client_secret: secret }));
  });

  it('refuses a secret-signed assertion from a client registered with client_secret_basic', async () => {
    const basicClient = await createClient(machineClient());
    await expectInvalidClient(tokenWith(await assertion({ clientId: basicClient.client_id as string, secret: basicClient.client_secret as string })));
  });

  it('refuses an assertion for an unknown client exactly as a wrong secret', async () => {
    await expectInvalidClient(tokenWith(await assertion({ clientId: 'no-such-client', secret })));
  });

  it('with token_endpoint_auth_signing_alg HS512, refuses HS256 and accepts HS512', async () => {
    const pinned = await secretJwtClient({ token_endpoint_auth_signing_alg: 'HS512' });
    const clientId = pinned.client_id as string;
    await expectInvalidClient(tokenWith(await assertion({ clientId, secret: pinned.client_secret as string, alg: 'HS256' })));
    expect((await tokenWith(await assertion({ clientId, secret: pinned.client_secret as string, alg: 'HS512' }))).status).toBe(200);
  });

  it('authenticates revocation with an assertion too', async () => {
    const issued = await tokenWith(await assertion({ clientId: id, secret }));
    const token = issued.body.access_token as string;
    const revoked = await post('/oauth2/revoke', { token, client_assertion_type: JWT_BEARER, client_assertion: await assertion({ clientId: id, secret }) });
    expect(revoked.status).toBe(200);
    const introspected = await post('/oauth2/introspect', { token, client_assertion_type: JWT_BEARER, client_assertion: await assertion({ clientId: id, secret }) });
    expect(introspected).toEqual({ status: 200, body: { active: false } });
  });
});

describe('client_secret_jwt and secret rotation', () => {
  it('during the overlap an assertion signed with the previous secret still works; afterwards only the new secret does', async () => {
    const c = await secretJwtClient();
    const id = c.client_id as string;
    const old = c.client_secret as string;
    const rotated = await svc.admin(`/admin/clients/${encodeURIComponent(id)}/secrets/rotate`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    const fresh = ((await rotated.json()) as Body).client_secret as string;
    expect((await tokenWith(await assertion({ clientId: id, secret: old }))).status).toBe(200);
    expect((await tokenWith(await assertion({ clientId: id, secret: fresh }))).status).toBe(200);
    await query(
      `UPDATE clients SET rotated_secrets = (
         SELECT jsonb_agg(jsonb_set(s, '{expires_at}', to_jsonb((now() - interval '1 second')::text))) FROM jsonb_array_elements(rotated_secrets) s)
       WHERE id = $1`,
      [id],
    );
    await svc.app.get(ClientsService).invalidate(id);
    await expectInvalidClient(tokenWith(await assertion({ clientId: id, secret: old })));
    expect((await tokenWith(await assertion({ clientId: id, secret: fresh }))).status).toBe(200);
  });

  it('a client rotating its own secret through RFC 7592 signs with the new one', async () => {
    const registered = await registerClient(svc, machineClient({ token_endpoint_auth_method: 'client_secret_jwt' }));
    const id = registered.client_id as string;
    const res = await fetch(`${svc.url}/oauth2/register/${encodeURIComponent(id)}/secrets/rotate`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${registered.registration_access_token as string}` },
    });
    const fresh = ((await res.json()) as Body).client_secret as string;
    const config = await discover(id, fresh);
    expect((await client.clientCredentialsGrant(config)).access_token).toEqual(expect.any(String));
  });
});

describe('registering client_secret_jwt clients', () => {
  it('DCR registers one and returns its client_secret', async () => {
    const registered = await registerClient(svc, machineClient({ token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS384' }));
    expect(registered).toMatchObject({ token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS384' });
    expect(typeof registered.client_secret).toBe('string');
    const { status } = await tokenWith(await assertion({ clientId: registered.client_id as string, secret: registered.client_secret as string, alg: 'HS384' }));
    expect(status).toBe(200);
  });

  it.each([
    [{ token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'RS256' }, 'token_endpoint_auth_signing_alg'],
    [{ token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'HS256', jwks_uri: 'https://keys.example.com/jwks.json' }, 'token_endpoint_auth_signing_alg'],
    [{ token_endpoint_auth_method: 'client_secret_basic', token_endpoint_auth_signing_alg: 'HS256' }, 'token_endpoint_auth_signing_alg'],
    [{ token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS1024' }, 'token_endpoint_auth_signing_alg'],
  ])('refuses %j with 400 invalid_client_metadata naming %s', async (fields, name) => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient(fields) });
    const body = (await res.json()) as Body;
    expect({ status: res.status, error: body.error }).toEqual({ status: 400, error: 'invalid_client_metadata' });
    expect(body.error_description).toContain(name);
  });

  it('refuses an operator-chosen secret shorter than 32 characters for client_secret_jwt, naming client_secret', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ token_endpoint_auth_method: 'client_secret_jwt', client_secret: 'short-secret' }) });
    const body = (await res.json()) as Body;
    expect({ status: res.status, error: body.error }).toEqual({ status: 400, error: 'invalid_client_metadata' });
    expect(body.error_description).toContain('client_secret');
  });

  it('accepts an operator-chosen secret of 32 characters or more and verifies assertions signed with it', async () => {
    const chosen = 'an-operator-chosen-secret-of-40-chars!!!';
    const c = await secretJwtClient({ client_secret: chosen });
    expect((await tokenWith(await assertion({ clientId: c.client_id as string, secret: chosen }))).status).toBe(200);
  });

  it('an admin switching a client to client_secret_jwt gets a new secret in the answer, which signs', async () => {
    const c = await createClient(machineClient());
    const id = c.client_id as string;
    const res = await svc.admin(`/admin/clients/${encodeURIComponent(id)}`, {
      method: 'PUT',
      json: machineClient({ token_endpoint_auth_method: 'client_secret_jwt' }),
    });
    const body = (await res.json()) as Body;
    expect(res.status).toBe(200);
    expect(typeof body.client_secret).toBe('string');
    expect(body.client_secret).not.toBe(c.client_secret);
    expect((await tokenWith(await assertion({ clientId: id, secret: body.client_secret as string }))).status).toBe(200);
    await expectInvalidClient(tokenWith(await assertion({ clientId: id, secret: c.client_secret as string })));
  });

  it('a registrant switching to client_secret_jwt with its current client_secret in the RFC 7592 PUT keeps that secret', async () => {
    const registered = await registerClient(svc, machineClient());
    const id = registered.client_id as string;
    const secret = registered.client_secret as string;
    const res = await manage(svc, 'PUT', id, registered.registration_access_token as string, {
      ...machineClient({ token_endpoint_auth_method: 'client_secret_jwt' }),
      client_id: id,
      client_secret: secret,
    });
    const body = (await res.json()) as Body;
    expect(res.status).toBe(200);
    expect(body).not.toHaveProperty('client_secret');
    expect(body.token_endpoint_auth_method).toBe('client_secret_jwt');
    expect((await tokenWith(await assertion({ clientId: id, secret }))).status).toBe(200);
  });

  it('a registrant switching without its secret gets a new one in the answer', async () => {
    const registered = await registerClient(svc, machineClient());
    const id = registered.client_id as string;
    const res = await manage(svc, 'PUT', id, registered.registration_access_token as string, {
      ...machineClient({ token_endpoint_auth_method: 'client_secret_jwt' }),
      client_id: id,
    });
    const body = (await res.json()) as Body;
    expect(res.status).toBe(200);
    expect(typeof body.client_secret).toBe('string');
    expect((await tokenWith(await assertion({ clientId: id, secret: body.client_secret as string }))).status).toBe(200);
  });

  it('switching away from client_secret_jwt drops the encrypted secret; the hash stays and authenticates', async () => {
    const c = await secretJwtClient();
    const id = c.client_id as string;
    const res = await svc.admin(`/admin/clients/${encodeURIComponent(id)}`, { method: 'PUT', json: machineClient() });
    expect(res.status).toBe(200);
    const { rows } = await query(`SELECT secret_encrypted, secret_hash FROM clients WHERE id = $1`, [id]);
    expect(rows[0]).toMatchObject({ secret_encrypted: null, secret_hash: expect.stringMatching(/^sha256\$/) });
    const basic = await post('/oauth2/token', { grant_type: 'client_credentials' }, { Authorization: basicAuth(id, c.client_secret as string) });
    expect(basic.status).toBe(200);
  });
});

describe('discovery', () => {
  it('advertises client_secret_jwt and the HMAC algorithms for the token, introspection and revocation endpoints', async () => {
    const doc = (await (await fetch(`${svc.url}/.well-known/oauth-authorization-server`)).json()) as Body;
    for (const endpoint of ['token', 'introspection', 'revocation']) {
      expect(doc[`${endpoint}_endpoint_auth_methods_supported`]).toContain('client_secret_jwt');
      expect(doc[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).toEqual(expect.arrayContaining(['HS256', 'HS384', 'HS512', 'RS256']));
      expect(doc[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).not.toContain('none');
    }
  });
});
