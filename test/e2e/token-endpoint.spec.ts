// POST /oauth2/token over real HTTP: the client_credentials grant (RFC 6749 §4.4),
// its errors (RFC 6749 §5.2), client authentication (RFC 6749 §2.3, RFC 7523)
// and the token response (RFC 6749 §5.1, RFC 9068).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { machineClient, webClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { createAdminClient, registerClient } from '../support/dcr.js';
import { basicAuth } from '../support/net.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

interface Client {
  client_id: string;
  client_secret?: string;
  [key: string]: unknown;
}

async function createClient(app: RunningApp, body: Record<string, unknown>): Promise<Client> {
  return (await createAdminClient(app, body)) as Client;
}


function tokenRequest(app: RunningApp, params: Record<string, string> | URLSearchParams, headers: Record<string, string> = {}): Promise<Response> {
  const body = params instanceof URLSearchParams ? params.toString() : new URLSearchParams(params).toString();
  return fetch(`${app.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
}

function withBasic(app: RunningApp, client: Client, params: Record<string, string> = {}): Promise<Response> {
  return tokenRequest(app, { grant_type: 'client_credentials', ...params }, { Authorization: basicAuth(client.client_id, client.client_secret!) });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function expectError(res: Response, status: number, error: string): Promise<Record<string, unknown>> {
  const body = await json(res);
  expect({ status: res.status, error: body.error }).toEqual({ status, error });
  expect(typeof body.error_description).toBe('string');
  return body;
}

async function expectToken(res: Response): Promise<Record<string, unknown>> {
  const body = await json(res);
  expect({ status: res.status, body }).toMatchObject({ status: 200, body: { token_type: 'Bearer' } });
  expect(typeof body.access_token).toBe('string');
  return body;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('client_secret_basic (RFC 6749 §2.3.1)', () => {
  const clientId = `basic.client~${randomUUID()}`;
  const clientSecret = 'p@ss:w+rd %x';
  let client: Client;

  beforeAll(async () => {
    client = await createClient(svc, machineClient({ client_id: clientId, client_secret: clientSecret }));
  });

  it('issues a token when the form-urlencoded id and secret are sent in the Basic header', async () => {
    expect(client.client_id).toBe(clientId);
    const res = await withBasic(svc, client);
    const body = await expectToken(res);
    expect(body.expires_in).toBe(3600);
  });

  it('answers a wrong secret with 401 invalid_client and a Basic challenge', async () => {
    const res = await tokenRequest(svc, { grant_type: 'client_credentials' }, { Authorization: basicAuth(clientId, 'wrong-secret') });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate') ?? '').toMatch(/^Basic/);
    await expectError(res, 401, 'invalid_client');
  });

  it('answers an unknown client exactly as it answers a wrong secret', async () => {
    const wrong = await tokenRequest(svc, { grant_type: 'client_credentials' }, { Authorization: basicAuth(clientId, 'wrong-secret') });
    const unknown = await tokenRequest(svc, { grant_type: 'client_credentials' }, { Authorization: basicAuth(`unknown-${randomUUID()}`, clientSecret) });
    expect(unknown.status).toBe(wrong.status);
    expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
    expect(await unknown.text()).toBe(await wrong.text());
  });
});

describe('client_secret_post (RFC 6749 §2.3.1)', () => {
  let post: Client;
  let basicClient: Client;

  beforeAll(async () => {
    post = await createClient(svc, machineClient({ token_endpoint_auth_method: 'client_secret_post' }));
    basicClient = await createClient(svc, machineClient());
  });

  it('issues a token for a client registered with client_secret_post that sends its credentials in the body', async () => {
    const res = await tokenRequest(svc, { grant_type: 'client_credentials', client_id: post.client_id, client_secret: post.client_secret! });
    await expectToken(res);
  });

  it('refuses Basic for a client registered with client_secret_post with 401 invalid_client', async () => {
    const res = await withBasic(svc, post);
    await expectError(res, 401, 'invalid_client');
  });

  it('refuses credentials in the body for a client registered with client_secret_basic with 401 invalid_client', async () => {
    const res = await tokenRequest(svc, {
      grant_type: 'client_credentials',
      client_id: basicClient.client_id,
      client_secret: basicClient.client_secret!,
    });
    await expectError(res, 401, 'invalid_client');
  });

  it('refuses two authentication methods in one request with 400 invalid_request (RFC 6749 §2.3)', async () => {
    const res = await tokenRequest(
      svc,
      { grant_type: 'client_credentials', client_id: post.client_id, client_secret: post.client_secret! },
      { Authorization: basicAuth(post.client_id, post.client_secret!) },
    );
    await expectError(res, 400, 'invalid_request');
  });
});

describe('parameters sent without a value (RFC 6749 §3.2: treated as omitted)', () => {
  it('issues a token to a Basic client whose form also carries empty client_id, client_secret and assertion fields, as form tools send them', async () => {
    const client = await createClient(svc, machineClient({ scope: 'read write' }));
    const res = await tokenRequest(
      svc,
      { grant_type: 'client_credentials', client_id: '', client_secret: '', client_assertion: '', client_assertion_type: '', audience: '', scope: '' },
      { Authorization: basicAuth(client.client_id, client.client_secret!) },
    );
    const body = await expectToken(res);
    // An empty scope is no scope parameter: the client gets all of its own.
    expect(body.scope).toBe('read write');
  });

  it('still refuses a request whose only grant_type is empty with invalid_request', async () => {
    const client = await createClient(svc, machineClient());
    await expectError(await tokenRequest(svc, { grant_type: '' }, { Authorization: basicAuth(client.client_id, client.client_secret!) }), 400, 'invalid_request');
  });
});

describe('private_key_jwt (RFC 7523 §2.2, §3)', () => {
  const kid = 'client-key-1';
  let privateKey: CryptoKey;
  let client: Client;
  let tokenEndpoint: string;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' };
    client = await createClient(svc, machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] } }));
    tokenEndpoint = `${svc.url}/oauth2/token`;
  });

  interface AssertionOptions {
    iss?: string;
    sub?: string;
    aud?: string;
    exp?: number | null;
    jti?: string | null;
    key?: CryptoKey;
  }

  function assertion(o: AssertionOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {};
    const jti = o.jti === undefined ? randomUUID() : o.jti;
    if (jti !== null) claims.jti = jti;
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(o.iss ?? client.client_id)
      .setSubject(o.sub ?? client.client_id)
      .setAudience(o.aud ?? tokenEndpoint)
      .setIssuedAt(now);
    const exp = o.exp === undefined ? now + 60 : o.exp;
    if (exp !== null) jwt = jwt.setExpirationTime(exp);
    return jwt.sign(o.key ?? privateKey);
  }

  function withAssertion(jwt: string, type = JWT_BEARER): Promise<Response> {
    return tokenRequest(svc, { grant_type: 'client_credentials', client_assertion_type: type, client_assertion: jwt });
  }

  it('registers the client without a client_secret (RFC 7591 §2)', () => {
    expect(client.client_secret).toBeUndefined();
    expect(client.token_endpoint_auth_method).toBe('private_key_jwt');
  });

  it('issues a token for a valid assertion whose aud is the token endpoint URL', async () => {
    await expectToken(await withAssertion(await assertion()));
  });

  it('issues a token for a valid assertion whose aud is the issuer', async () => {
    await expectToken(await withAssertion(await assertion({ aud: svc.url })));
  });

  it('refuses a replayed assertion (same jti) with 401 invalid_client', async () => {
    const jwt = await assertion();
    await expectToken(await withAssertion(jwt));
    await expectError(await withAssertion(jwt), 401, 'invalid_client');
  });

  it('refuses an assertion whose exp is more than 10 minutes ahead with 401 invalid_client', async () => {
    const jwt = await assertion({ exp: Math.floor(Date.now() / 1000) + 11 * 60 });
    await expectError(await withAssertion(jwt), 401, 'invalid_client');
  });

  it('refuses an assertion without exp with 401 invalid_client', async () => {
    await expectError(await withAssertion(await assertion({ exp: null })), 401, 'invalid_client');
  });

  it('refuses an expired assertion with 401 invalid_client', async () => {
    const jwt = await assertion({ exp: Math.floor(Date.now() / 1000) - 120 });
    await expectError(await withAssertion(jwt), 401, 'invalid_client');
  });

  it('refuses an assertion without jti with 401 invalid_client', async () => {
    await expectError(await withAssertion(await assertion({ jti: null })), 401, 'invalid_client');
  });

  it('refuses an assertion addressed to another server with 401 invalid_client', async () => {
    await expectError(await withAssertion(await assertion({ aud: 'https://other.example.com/oauth2/token' })), 401, 'invalid_client');
  });

  it('refuses an assertion whose iss is not the client_id with 401 invalid_client', async () => {
    await expectError(await withAssertion(await assertion({ iss: 'someone-else' })), 401, 'invalid_client');
  });

  it('refuses an assertion signed by a key that is not in the client jwks with 401 invalid_client', async () => {
    const other = await generateKeyPair('ES256', { extractable: true });
    await expectError(await withAssertion(await assertion({ key: other.privateKey })), 401, 'invalid_client');
  });

  it('refuses an unsecured assertion (alg none) with 401 invalid_client', async () => {
    const now = Math.floor(Date.now() / 1000);
    const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${part({ alg: 'none', kid })}.${part({
      iss: client.client_id,
      sub: client.client_id,
      aud: tokenEndpoint,
      exp: now + 60,
      iat: now,
      jti: randomUUID(),
    })}.`;
    await expectError(await withAssertion(unsigned), 401, 'invalid_client');
  });

  it('refuses a wrong client_assertion_type with 400 invalid_request', async () => {
    const res = await withAssertion(await assertion(), 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer');
    await expectError(res, 400, 'invalid_request');
  });

  it('refuses a client_secret for a client registered with private_key_jwt with 401 invalid_client', async () => {
    const res = await tokenRequest(svc, { grant_type: 'client_credentials', client_id: client.client_id, client_secret: 'anything' });
    await expectError(res, 401, 'invalid_client');
  });

  it('works for a client registered through DCR with a jwks', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'dcr-key', alg: 'ES256' };
    const dcr = (await registerClient(svc, machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] } }))) as Client;
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'dcr-key' })
      .setIssuer(dcr.client_id)
      .setSubject(dcr.client_id)
      .setAudience(tokenEndpoint)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(pair.privateKey);
    await expectToken(await withAssertion(jwt));
  });
});

describe('an expired client secret', () => {
  let short: RunningApp;

  beforeAll(async () => {
    short = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_CLIENT_SECRET_EXPIRES_IN: '1' } });
  });
  afterAll(async () => {
    await short?.close();
  });

  it('is invalid_client once client_secret_expires_at has passed', async () => {
    const client = (await registerClient(short, machineClient())) as Client;
    expect(client.client_secret_expires_at).toBeGreaterThan(0);
    await expectToken(await withBasic(short, client));
    await sleep(1200);
    const res = await withBasic(short, client);
    await expectError(res, 401, 'invalid_client');
  });

  it('is invalid_client for client_secret_post too', async () => {
    const client = (await registerClient(short, machineClient({ token_endpoint_auth_method: 'client_secret_post' }))) as Client;
    await sleep(1200);
    const res = await tokenRequest(short, { grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret! });
    await expectError(res, 401, 'invalid_client');
  });
});

describe('scope and audience', () => {
  let client: Client;
  let jwtClient: Client;

  beforeAll(async () => {
    client = await createClient(svc, machineClient({ scope: 'read write' }));
    jwtClient = await createClient(
      svc,
      machineClient({ scope: 'read write', access_token_strategy: 'jwt', audience: ['https://api.example.com', 'https://b.example.com'] }),
    );
  });

  it('grants all of the client scopes when scope is omitted', async () => {
    const body = await expectToken(await withBasic(svc, client));
    expect((body.scope as string).split(' ').sort()).toEqual(['read', 'write']);
  });

  it('grants a requested subset and answers with exactly that scope', async () => {
    const body = await expectToken(await withBasic(svc, client, { scope: 'read' }));
    expect(body.scope).toBe('read');
    const jwt = await expectToken(await withBasic(svc, jwtClient, { scope: 'write' }));
    expect(decodeJwt(jwt.access_token as string).scope).toBe('write');
  });

  it('refuses a scope the client was not registered for with 400 invalid_scope', async () => {
    await expectError(await withBasic(svc, client, { scope: 'read admin' }), 400, 'invalid_scope');
  });

  it('issues a JWT whose aud is the one requested audience of the client', async () => {
    const body = await expectToken(await withBasic(svc, jwtClient, { audience: 'https://b.example.com' }));
    expect([decodeJwt(body.access_token as string).aud].flat()).toEqual(['https://b.example.com']);
  });

  it('refuses an audience outside the client audience with 400 invalid_request', async () => {
    await expectError(await withBasic(svc, jwtClient, { audience: 'https://evil.example.com' }), 400, 'invalid_request');
  });
});

describe('the token response (RFC 6749 §5.1, RFC 9068)', () => {
  it('is {access_token, token_type Bearer, expires_in 3600} with Cache-Control: no-store', async () => {
    const client = await createClient(svc, machineClient());
    const res = await withBasic(svc, client);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await expectToken(res);
    expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, scope: 'read write' });
  });

  it('is a JWT with typ at+jwt and the RFC 9068 claims for a jwt client', async () => {
    const client = await createClient(svc, machineClient({ access_token_strategy: 'jwt' }));
    const body = await expectToken(await withBasic(svc, client));
    const token = body.access_token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: svc.url, sub: client.client_id, client_id: client.client_id, scope: 'read write' });
    expect(claims.aud).toBeDefined();
    expect(typeof claims.jti).toBe('string');
    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it('is opaque and random for an opaque client', async () => {
    const client = await createClient(svc, machineClient({ access_token_strategy: 'opaque' }));
    const a = (await expectToken(await withBasic(svc, client))).access_token as string;
    const b = (await expectToken(await withBasic(svc, client))).access_token as string;
    expect(a).not.toBe(b);
    expect(a.split('.').length).not.toBe(3);
    expect(Buffer.from(a, 'base64url').length).toBeGreaterThanOrEqual(32);
  });

  describe('with TTL_ACCESS_TOKEN=120', () => {
    let ttl: RunningApp;

    beforeAll(async () => {
      ttl = await startApp({ env: { TTL_ACCESS_TOKEN: '120' } });
    });
    afterAll(async () => {
      await ttl?.close();
    });

    it('answers expires_in 120 and signs a JWT whose exp - iat is 120', async () => {
      const client = await createClient(ttl, machineClient({ access_token_strategy: 'jwt' }));
      const body = await expectToken(await withBasic(ttl, client));
      expect(body.expires_in).toBe(120);
      const claims = decodeJwt(body.access_token as string);
      expect(claims.exp! - claims.iat!).toBe(120);
    });
  });
});

describe('errors (RFC 6749 §5.2)', () => {
  let client: Client;

  beforeAll(async () => {
    client = await createClient(svc, machineClient());
  });

  it('answers a missing grant_type with 400 invalid_request', async () => {
    const res = await tokenRequest(svc, {}, { Authorization: basicAuth(client.client_id, client.client_secret!) });
    expect(res.headers.get('cache-control')).toBe('no-store');
    await expectError(res, 400, 'invalid_request');
  });

  it('accepts a charset parameter on the form Content-Type', async () => {
    const res = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8', Authorization: basicAuth(client.client_id, client.client_secret!) },
      body: 'grant_type=client_credentials',
    });
    await expectToken(res);
  });

  it('answers grant_type password with 400 unsupported_grant_type', async () => {
    const res = await withBasic(svc, client, { grant_type: 'password', username: 'u', password: 'p' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    await expectError(res, 400, 'unsupported_grant_type');
  });

  it('answers a client whose grant_types lack client_credentials with 400 unauthorized_client', async () => {
    const web = await createClient(svc, webClient());
    await expectError(await withBasic(svc, web), 400, 'unauthorized_client');
  });

  it('answers a JSON body with 400 invalid_request', async () => {
    const res = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: basicAuth(client.client_id, client.client_secret!) },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    await expectError(res, 400, 'invalid_request');
  });

  it('answers a repeated parameter with 400 invalid_request (RFC 6749 §3.2)', async () => {
    const params = new URLSearchParams([
      ['grant_type', 'client_credentials'],
      ['scope', 'read'],
      ['scope', 'write'],
    ]);
    const res = await tokenRequest(svc, params, { Authorization: basicAuth(client.client_id, client.client_secret!) });
    await expectError(res, 400, 'invalid_request');
  });

  it('answers a request without any client authentication with 401 invalid_client', async () => {
    const res = await tokenRequest(svc, { grant_type: 'client_credentials' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    await expectError(res, 401, 'invalid_client');
  });

  it('refuses a public client (token_endpoint_auth_method none) with invalid_client or unauthorized_client', async () => {
    const native = await createClient(
      svc,
      webClient({ token_endpoint_auth_method: 'none', application_type: 'native', redirect_uris: ['com.example.app:/cb'], grant_types: ['authorization_code'] }),
    );
    expect(native.client_secret).toBeUndefined();
    const res = await tokenRequest(svc, { grant_type: 'client_credentials', client_id: native.client_id });
    const body = await json(res);
    expect([
      [401, 'invalid_client'],
      [400, 'unauthorized_client'],
    ]).toContainEqual([res.status, body.error]);
  });
});
