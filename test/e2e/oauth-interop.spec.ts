// Interoperability: unchanged third-party OAuth clients (openid-client v6 and
// the oauth4webapi it is built on) discover the server, get access tokens in
// both formats (README, Access tokens and the strategy), introspect them (RFC 7662) and revoke them (RFC 7009).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { registerClient } from '../support/dcr.js';

let svc: RunningApp;

// Global strategy opaque, DCR strategy unset: DCR clients get opaque tokens, and
// an admin-set access_token_strategy jwt gives a client JWTs.
beforeAll(async () => {
  svc = await startApp({ env: { STRATEGIES_ACCESS_TOKEN: 'opaque' } });
});
afterAll(async () => {
  await svc?.close();
});

interface Credentials {
  clientId: string;
  secret: string;
}

async function opaqueClient(overrides: Record<string, unknown> = {}): Promise<Credentials> {
  const body = await registerClient(svc, machineClient({ scope: 'read write', ...overrides }));
  return { clientId: body.client_id as string, secret: body.client_secret as string };
}

async function jwtClient(): Promise<Credentials> {
  const res = await svc.admin('/admin/clients', {
    method: 'POST',
    json: machineClient({ scope: 'read write', access_token_strategy: 'jwt' }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body.access_token_strategy).toBe('jwt');
  return { clientId: body.client_id as string, secret: body.client_secret as string };
}

function discover(creds: Credentials, auth: client.ClientAuth = client.ClientSecretBasic(creds.secret)): Promise<client.Configuration> {
  return client.discovery(new URL(svc.url), creds.clientId, creds.secret, auth, { execute: [client.allowInsecureRequests] });
}

function isJwt(token: string): boolean {
  return (token.match(/\./g) ?? []).length >= 2;
}

describe('openid-client v6 with client_secret_basic', () => {
  it('discovers the server: issuer, token, introspection and revocation endpoints and the JWKS', async () => {
    const config = await discover(await opaqueClient());
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(svc.url);
    expect(meta.token_endpoint).toBe(`${svc.url}/oauth2/token`);
    expect(meta.introspection_endpoint).toBe(`${svc.url}/oauth2/introspect`);
    expect(meta.revocation_endpoint).toBe(`${svc.url}/oauth2/revoke`);
    expect(meta.jwks_uri).toBe(`${svc.url}/.well-known/jwks.json`);
    expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post']));
  });

  it('gets an opaque token with the client_credentials grant, introspects it active, revokes it, and then introspection shows active false', async () => {
    const creds = await opaqueClient();
    const config = await discover(creds);

    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.scope).toBe('read');
    expect(tokens.expiresIn()).toBeGreaterThan(0);
    expect(isJwt(tokens.access_token)).toBe(false);
    expect(tokens.access_token).toMatch(/^[A-Za-z0-9_-]{43,}$/);

    const before = await client.tokenIntrospection(config, tokens.access_token);
    expect(before).toMatchObject({ active: true, client_id: creds.clientId, scope: 'read' });
    expect(before.exp).toBeGreaterThan(Math.floor(Date.now() / 1000));

    await client.tokenRevocation(config, tokens.access_token);
    const after = await client.tokenIntrospection(config, tokens.access_token);
    expect(after).toEqual({ active: false });
  });

  it('gets a JWT for a client whose admin-set access_token_strategy is jwt, introspects it active, revokes it, and then introspection shows active false', async () => {
    const creds = await jwtClient();
    const config = await discover(creds);

    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.scope).toBe('read');
    expect(isJwt(tokens.access_token)).toBe(true);

    const before = await client.tokenIntrospection(config, tokens.access_token);
    expect(before).toMatchObject({ active: true, client_id: creds.clientId, scope: 'read' });

    await client.tokenRevocation(config, tokens.access_token);
    const after = await client.tokenIntrospection(config, tokens.access_token);
    expect(after).toEqual({ active: false });
  });

  it('the JWT verifies with jose against the discovered JWKS and carries the RFC 9068 header and claims', async () => {
    const creds = await jwtClient();
    const config = await discover(creds);
    const { access_token } = await client.clientCredentialsGrant(config, { scope: 'read' });

    const meta = config.serverMetadata();
    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(access_token, jwks, { issuer: meta.issuer, typ: 'at+jwt' });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ iss: meta.issuer, sub: creds.clientId, client_id: creds.clientId, scope: 'read' });
    expect(payload.aud).toBeDefined();
    expect(payload.exp!).toBeGreaterThan(payload.iat!);
    expect(typeof payload.jti).toBe('string');
  });

  it('a client registered for client_secret_basic is refused with invalid_client when it authenticates with client_secret_post, openid-client\'s default', async () => {
    const creds = await opaqueClient();
    const config = await client.discovery(new URL(svc.url), creds.clientId, creds.secret, undefined, {
      execute: [client.allowInsecureRequests],
    });
    await expect(client.clientCredentialsGrant(config, { scope: 'read' })).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
  });
});

describe('openid-client v6 with client_secret_post', () => {
  it('a client registered with token_endpoint_auth_method client_secret_post gets, introspects and revokes tokens', async () => {
    const creds = await opaqueClient({ token_endpoint_auth_method: 'client_secret_post' });
    const config = await discover(creds, client.ClientSecretPost(creds.secret));

    const tokens = await client.clientCredentialsGrant(config, { scope: 'read' });
    expect(tokens.scope).toBe('read');
    expect(isJwt(tokens.access_token)).toBe(false);

    expect(await client.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true, client_id: creds.clientId });
    await client.tokenRevocation(config, tokens.access_token);
    expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
  });

  it('a client registered for client_secret_post is refused with invalid_client when it uses client_secret_basic', async () => {
    const creds = await opaqueClient({ token_endpoint_auth_method: 'client_secret_post' });
    const config = await discover(creds, client.ClientSecretBasic(creds.secret));
    // RFC 6749 §5.2: a failed Basic authentication is a 401 with a Basic challenge, which
    // openid-client reports as a WWW-Authenticate challenge error; the body still names invalid_client.
    const err = await client.clientCredentialsGrant(config, { scope: 'read' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challenge = err as client.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    expect(challenge.cause[0]?.scheme).toBe('basic');
    expect(await challenge.response.json()).toMatchObject({ error: 'invalid_client' });
  });
});

describe('oauth4webapi', () => {
  it.each(['oidc', 'oauth2'] as const)('processes the discovery document (%s well-known location)', async (algorithm) => {
    const issuer = new URL(svc.url);
    const response = await oauth.discoveryRequest(issuer, { algorithm, [oauth.allowInsecureRequests]: true });
    const as = await oauth.processDiscoveryResponse(issuer, response);
    expect(as.issuer).toBe(svc.url);
    expect(as.token_endpoint).toBe(`${svc.url}/oauth2/token`);
    expect(as.jwks_uri).toBe(`${svc.url}/.well-known/jwks.json`);
    expect(as.grant_types_supported).toContain('client_credentials');
  });
});
