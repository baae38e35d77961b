// Software statements (RFC 7591 §2.3), sector_identifier_uri and private_key_jwt
// with a jwks_uri: everything the server fetches on a registrant's behalf, over
// real HTTP against the real app on the run's PostgreSQL database, with the
// remote documents served by a local HTTPS server. Contract: README, Software statements
// and server-side fetches; RFC 7591 §2.3; RFC 7523 (client assertions).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { machineClient, webClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, mintIat, register, registerClient } from '../support/dcr.js';
import { sendJson, startHttpsServer, type TestHttpsServer } from '../support/https-server.js';
import { expectOAuthError as expectError } from '../support/expect.js';
import { basicAuth } from '../support/net.js';

type Json = Record<string, unknown>;
interface KeyPair {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

const INLINE_ISSUER = 'https://statements.example.com';
const REMOTE_ISSUER = 'https://remote-statements.example.com';
const UNTRUSTED_ISSUER = 'https://untrusted.example.com';

let remote: TestHttpsServer;
/** Allows the local HTTPS server: FETCH_CA_FILE + FETCH_ALLOW_PRIVATE_NETWORKS=true; fetch.timeout 2s, fetch.max_bytes 2048. */
let svc: RunningApp;
/** Trusts the server's certificate but keeps the default fetch.allow_private_networks=false. */
let strict: RunningApp;

let inlineKey: KeyPair;
let remoteKey: KeyPair;
let otherKey: KeyPair;
let clientKey: KeyPair;

async function keyPair(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

beforeAll(async () => {
  remote = await startHttpsServer();
  [inlineKey, remoteKey, otherKey, clientKey] = await Promise.all([keyPair('inline'), keyPair('remote'), keyPair('other'), keyPair('client')]);
  remote.route('/issuer-jwks.json', (_req, res) => sendJson(res, { keys: [remoteKey.publicJwk] }));
  remote.route('/issuer-jwks-strict.json', (_req, res) => sendJson(res, { keys: [remoteKey.publicJwk] }));
  remote.route('/client-jwks.json', (_req, res) => sendJson(res, { keys: [clientKey.publicJwk] }));
  remote.route('/client-jwks-strict.json', (_req, res) => sendJson(res, { keys: [clientKey.publicJwk] }));

  const trusted = (jwksPath: string) =>
    JSON.stringify([
      { issuer: INLINE_ISSUER, jwks: { keys: [inlineKey.publicJwk] } },
      { issuer: REMOTE_ISSUER, jwks_uri: `${remote.url}${jwksPath}` },
    ]);
  svc = await startApp({
    env: {
      OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_TRUSTED_ISSUERS: trusted('/issuer-jwks.json'),
      FETCH_CA_FILE: remote.caFile,
      FETCH_ALLOW_PRIVATE_NETWORKS: 'true',
      FETCH_TIMEOUT: '2s',
      FETCH_MAX_BYTES: '2048',
    },
  });
  strict = await startApp({
    env: {
      OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_TRUSTED_ISSUERS: trusted('/issuer-jwks-strict.json'),
      FETCH_CA_FILE: remote.caFile,
    },
  });
});

afterAll(async () => {
  await svc?.close();
  await strict?.close();
  await remote?.close();
});

// --- helpers ---------------------------------------------------------------

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A software statement: `claims` plus iss, iat and exp (1 hour unless given). */
function statement(claims: Json, options: { issuer?: string; key?: KeyPair; exp?: number; iat?: number } = {}): Promise<string> {
  const key = options.key ?? inlineKey;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: key.publicJwk.kid, typ: 'JWT' })
    .setIssuer(options.issuer ?? INLINE_ISSUER)
    .setIssuedAt(options.iat ?? nowSeconds())
    .setExpirationTime(options.exp ?? nowSeconds() + 3600)
    .sign(key.privateKey);
}

function softwareClaims(overrides: Json = {}): Json {
  return {
    client_name: 'statement',
    software_id: `sw-${randomUUID()}`,
    software_version: '1.2.3',
    grant_types: ['client_credentials'],
    scope: 'read write',
    ...overrides,
  };
}

async function registerWith(app: RunningApp, body: Json): Promise<Response> {
  return register(app, body, await mintIat(app));
}

async function created(res: Response): Promise<Json> {
  const text = await res.text();
  if (res.status !== 201) throw new Error(`expected 201, got ${res.status} ${text}`);
  return JSON.parse(text) as Json;
}


/** Replaces one character in the middle of a base64url segment with a different one. */
function flipCharacter(segment: string): string {
  const i = Math.floor(segment.length / 2);
  const replacement = segment[i] === 'A' ? 'B' : 'A';
  return segment.slice(0, i) + replacement + segment.slice(i + 1);
}

function tokenRequest(app: RunningApp, params: Record<string, string>): Promise<Response> {
  return fetch(`${app.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
}

/** An RFC 7523 client assertion for the token endpoint of `app`. */
function clientAssertion(app: RunningApp, clientId: string, key: KeyPair = clientKey): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: key.publicJwk.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(`${app.url}/oauth2/token`)
    .setIssuedAt()
    .setExpirationTime(nowSeconds() + 60)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

async function tokenWithAssertion(app: RunningApp, clientId: string, key?: KeyPair): Promise<Response> {
  return tokenRequest(app, {
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await clientAssertion(app, clientId, key),
  });
}

// --- software statements ---------------------------------------------------

describe('software_statement (RFC 7591 §2.3)', () => {
  it('registers a client from a statement signed by a trusted issuer with inline jwks; the statement claims win over the body', async () => {
    const claims = softwareClaims();
    const stmt = await statement(claims);
    const res = await registerWith(svc, { client_name: 'body', scope: 'body-scope', software_statement: stmt });
    const client = await created(res);
    expect(client.client_name).toBe('statement');
    expect(client.scope).toBe('read write');
    expect(client.grant_types).toEqual(['client_credentials']);
    expect(client.software_id).toBe(claims.software_id);
    expect(client.software_version).toBe('1.2.3');
  });

  it('returns the software_statement unmodified in the 201 response (RFC 7591 §3.2.1)', async () => {
    const stmt = await statement(softwareClaims());
    const client = await created(await registerWith(svc, { software_statement: stmt }));
    expect(client.software_statement).toBe(stmt);
  });

  it('keeps the statement-derived metadata on the client, as RFC 7592 GET shows', async () => {
    const claims = softwareClaims({ client_name: 'statement-read-back' });
    const stmt = await statement(claims);
    const client = await created(await registerWith(svc, { client_name: 'body', software_statement: stmt }));
    const res = await manage(svc, 'GET', client.client_id as string, client.registration_access_token as string);
    expect(res.status).toBe(200);
    const read = (await res.json()) as Json;
    expect(read.client_name).toBe('statement-read-back');
    expect(read.software_id).toBe(claims.software_id);
    expect(read.software_version).toBe('1.2.3');
    expect(read.grant_types).toEqual(['client_credentials']);
  });

  it('gives a client registered from a statement working credentials for client_credentials', async () => {
    const client = await created(await registerWith(svc, { software_statement: await statement(softwareClaims()) }));
    // The statement sets no token_endpoint_auth_method, so the default client_secret_basic applies.
    expect(client.token_endpoint_auth_method).toBe('client_secret_basic');
    const basic = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: basicAuth(client.client_id as string, client.client_secret as string),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' }).toString(),
    });
    expect(basic.status).toBe(200);
    expect(((await basic.json()) as Json).scope).toBe('read');
  });

  it('registers a client from a statement of a trusted issuer whose keys are at a jwks_uri (fetched through the allow-listed fetcher)', async () => {
    const claims = softwareClaims({ client_name: 'remote-statement' });
    const stmt = await statement(claims, { issuer: REMOTE_ISSUER, key: remoteKey });
    const client = await created(await registerWith(svc, { client_name: 'body', software_statement: stmt }));
    expect(client.client_name).toBe('remote-statement');
    expect(client.software_id).toBe(claims.software_id);
    expect(client.software_statement).toBe(stmt);
    expect(remote.hits('/issuer-jwks.json')).toBeGreaterThanOrEqual(1);
  });

  it('refuses a statement whose signature was altered by one character with 400 invalid_software_statement', async () => {
    const [header, payload, signature] = (await statement(softwareClaims())).split('.');
    const tampered = [header, payload, flipCharacter(signature)].join('.');
    await expectError(await registerWith(svc, { software_statement: tampered }), 400, 'invalid_software_statement');
  });

  it('refuses a statement whose payload was altered (signature kept) with 400 invalid_software_statement', async () => {
    const [header, payload, signature] = (await statement(softwareClaims({ client_name: 'honest' }))).split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Json;
    const altered = Buffer.from(JSON.stringify({ ...claims, client_name: 'forged' })).toString('base64url');
    await expectError(await registerWith(svc, { software_statement: [header, altered, signature].join('.') }), 400, 'invalid_software_statement');
  });

  it('refuses a statement whose payload had one character changed with 400 invalid_software_statement', async () => {
    const [header, payload, signature] = (await statement(softwareClaims())).split('.');
    await expectError(
      await registerWith(svc, { software_statement: [header, flipCharacter(payload), signature].join('.') }),
      400,
      'invalid_software_statement',
    );
  });

  it('refuses an expired statement (exp in the past) with 400 invalid_software_statement', async () => {
    const stmt = await statement(softwareClaims(), { iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 });
    await expectError(await registerWith(svc, { software_statement: stmt }), 400, 'invalid_software_statement');
  });

  it('refuses a statement naming a trusted issuer but signed by another key with 400 invalid_software_statement', async () => {
    const stmt = await statement(softwareClaims(), { issuer: INLINE_ISSUER, key: otherKey });
    await expectError(await registerWith(svc, { software_statement: stmt }), 400, 'invalid_software_statement');
  });

  it('refuses a statement naming the jwks_uri issuer but signed by a key not in its set with 400 invalid_software_statement', async () => {
    const stmt = await statement(softwareClaims(), { issuer: REMOTE_ISSUER, key: inlineKey });
    await expectError(await registerWith(svc, { software_statement: stmt }), 400, 'invalid_software_statement');
  });

  it('refuses an unsigned statement (alg none) naming a trusted issuer with 400 invalid_software_statement', async () => {
    const enc = (v: Json) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unsigned = `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: INLINE_ISSUER, iat: nowSeconds(), exp: nowSeconds() + 600, ...softwareClaims() })}.`;
    await expectError(await registerWith(svc, { software_statement: unsigned }), 400, 'invalid_software_statement');
  });

  it('refuses a validly signed statement from an untrusted issuer with 400 unapproved_software_statement', async () => {
    const stmt = await statement(softwareClaims(), { issuer: UNTRUSTED_ISSUER, key: otherKey });
    await expectError(await registerWith(svc, { software_statement: stmt }), 400, 'unapproved_software_statement');
  });

  it.each([
    ['a plain string', 'not-a-jwt'],
    ['three dot-separated segments of garbage', 'abc.def.ghi'],
  ])('refuses a software_statement that is not a JWT (%s) with 400 invalid_software_statement', async (_what, value) => {
    await expectError(await registerWith(svc, { software_statement: value }), 400, 'invalid_software_statement');
  });

  it.each([
    ['access_token_strategy', { access_token_strategy: 'jwt' }],
    ['metadata', { metadata: { tier: 'gold' } }],
    ['owner', { owner: 'someone-else' }],
    ['client_id', { client_id: 'chosen-by-the-statement' }],
    ['skip_consent', { skip_consent: true }],
  ])('refuses a statement whose claims set %s with 400 invalid_client_metadata naming the field', async (field, extra) => {
    const stmt = await statement(softwareClaims(extra));
    const body = await expectError(await registerWith(svc, { software_statement: stmt }), 400, 'invalid_client_metadata');
    expect(body.error_description).toContain(field);
  });

  it('does not count a rejected statement as a use of the initial access token', async () => {
    const iat = await mintIat(svc, { max_uses: 1 });
    const bad = await statement(softwareClaims(), { key: otherKey });
    await expectError(await register(svc, { software_statement: bad }, iat), 400, 'invalid_software_statement');
    const good = await register(svc, { software_statement: await statement(softwareClaims()) }, iat);
    expect(good.status).toBe(201);
  });

  it('on an instance without fetch.allow_private_networks, refuses a statement whose issuer keys are at a private jwks_uri, without fetching it', async () => {
    const stmt = await statement(softwareClaims(), { issuer: REMOTE_ISSUER, key: remoteKey });
    await expectError(await registerWith(strict, { software_statement: stmt }), 400, 'invalid_software_statement');
    expect(remote.hits('/issuer-jwks-strict.json')).toBe(0);
  });
});

// --- sector_identifier_uri ---------------------------------------------------

describe('sector_identifier_uri', () => {
  const CB = 'https://app.example.com/cb';
  const CB2 = 'https://app.example.com/cb2';

  beforeAll(() => {
    remote.route('/sector-all.json', (_req, res) => sendJson(res, [CB, CB2, 'https://elsewhere.example.com/cb']));
    remote.route('/sector-missing.json', (_req, res) => sendJson(res, [CB]));
    remote.route('/sector-object.json', (_req, res) => sendJson(res, { redirect_uris: [CB, CB2] }));
    remote.route('/sector-strict.json', (_req, res) => sendJson(res, [CB, CB2]));
    remote.route('/sector-strict-name.json', (_req, res) => sendJson(res, [CB, CB2]));
    remote.route('/sector-slow.json', (_req, res) => {
      const timer = setTimeout(() => sendJson(res, [CB]), 6000);
      res.on('close', () => clearTimeout(timer));
    });
    remote.route('/sector-big.json', (_req, res) => sendJson(res, [CB, ...Array.from({ length: 100 }, (_, i) => `https://app.example.com/padding/${i}`)]));
    remote.route('/sector-bad-redirect.json', (_req, res) => {
      res.writeHead(302, { Location: 'https://[not-an-address]/sector.json' });
      res.end();
    });
    remote.route('/sector-cut.json', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 200 });
      res.write(`["${CB}", "https://app.exa`);
      setTimeout(() => res.socket?.destroy(), 50);
    });
  });

  it('registers a client whose sector document (a JSON array) lists every redirect URI', async () => {
    const uri = `${remote.url}/sector-all.json`;
    const client = await created(await registerWith(svc, webClient({ redirect_uris: [CB, CB2], sector_identifier_uri: uri })));
    expect(client.sector_identifier_uri).toBe(uri);
    expect(client.redirect_uris).toEqual([CB, CB2]);
    expect(remote.hits('/sector-all.json')).toBeGreaterThanOrEqual(1);
  });

  it('refuses a client with a redirect URI missing from the sector document with 400 invalid_redirect_uri', async () => {
    const res = await registerWith(svc, webClient({ redirect_uris: [CB, CB2], sector_identifier_uri: `${remote.url}/sector-missing.json` }));
    const body = await expectError(res, 400, 'invalid_redirect_uri');
    expect(body.error_description).toContain(CB2);
    expect(remote.hits('/sector-missing.json')).toBeGreaterThanOrEqual(1);
  });

  it('refuses a sector document that is not a JSON array with 400 invalid_client_metadata', async () => {
    const res = await registerWith(svc, webClient({ redirect_uris: [CB, CB2], sector_identifier_uri: `${remote.url}/sector-object.json` }));
    await expectError(res, 400, 'invalid_client_metadata');
    expect(remote.hits('/sector-object.json')).toBeGreaterThanOrEqual(1);
  });

  it('refuses a sector_identifier_uri that cannot be fetched (404) with 400 invalid_client_metadata', async () => {
    const res = await registerWith(svc, webClient({ redirect_uris: [CB], sector_identifier_uri: `${remote.url}/sector-nowhere.json` }));
    await expectError(res, 400, 'invalid_client_metadata');
  });

  it('refuses an http sector_identifier_uri with 400 invalid_client_metadata', async () => {
    const res = await registerWith(svc, webClient({ redirect_uris: [CB], sector_identifier_uri: `http://127.0.0.1:${remote.port}/sector-all.json` }));
    await expectError(res, 400, 'invalid_client_metadata');
  });

  it('refuses a sector document that takes longer than fetch.timeout with 400 invalid_client_metadata, in about that time', async () => {
    const started = Date.now();
    const res = await registerWith(svc, webClient({ redirect_uris: [CB], sector_identifier_uri: `${remote.url}/sector-slow.json` }));
    await expectError(res, 400, 'invalid_client_metadata');
    expect(Date.now() - started).toBeLessThan(4500);
  });

  it('refuses a sector document larger than fetch.max_bytes with 400 invalid_client_metadata', async () => {
    const res = await registerWith(svc, webClient({ redirect_uris: [CB], sector_identifier_uri: `${remote.url}/sector-big.json` }));
    await expectError(res, 400, 'invalid_client_metadata');
    expect(remote.hits('/sector-big.json')).toBe(1);
  });

  it('answers a sector_identifier_uri that redirects to a malformed Location with 400 invalid_client_metadata, not 500', async () => {
    const res = await registerWith(svc, webClient({ redirect_uris: [CB], sector_identifier_uri: `${remote.url}/sector-bad-redirect.json` }));
    await expectError(res, 400, 'invalid_client_metadata');
  });

  it('answers a sector_identifier_uri whose connection breaks mid-body with 400 invalid_client_metadata, not 500', async () => {
    const res = await registerWith(svc, webClient({ redirect_uris: [CB], sector_identifier_uri: `${remote.url}/sector-cut.json` }));
    await expectError(res, 400, 'invalid_client_metadata');
  });

  it('checks the sector document again at RFC 7592 PUT: adding an unlisted redirect URI is 400 invalid_redirect_uri', async () => {
    const uri = `${remote.url}/sector-missing.json`;
    const client = await created(await registerWith(svc, webClient({ redirect_uris: [CB], sector_identifier_uri: uri })));
    const { client_secret: _secret, registration_access_token: rat, registration_client_uri: _uri, client_id_issued_at: _a, client_secret_expires_at: _b, ...rest } =
      client;
    const res = await manage(svc, 'PUT', client.client_id as string, rat as string, { ...rest, redirect_uris: [CB, CB2] });
    const body = await expectError(res, 400, 'invalid_redirect_uri');
    expect(body.error_description).toContain(CB2);
  });

  it('on an instance without fetch.allow_private_networks, refuses a 127.0.0.1 sector_identifier_uri with 400 invalid_client_metadata and never requests it', async () => {
    const res = await registerWith(strict, webClient({ redirect_uris: [CB, CB2], sector_identifier_uri: `${remote.url}/sector-strict.json` }));
    await expectError(res, 400, 'invalid_client_metadata');
    expect(remote.hits('/sector-strict.json')).toBe(0);
  });

  it('on an instance without fetch.allow_private_networks, refuses a sector_identifier_uri whose host name resolves to loopback, and never requests it', async () => {
    const res = await registerWith(
      strict,
      webClient({ redirect_uris: [CB, CB2], sector_identifier_uri: `https://localhost:${remote.port}/sector-strict-name.json` }),
    );
    await expectError(res, 400, 'invalid_client_metadata');
    expect(remote.hits('/sector-strict-name.json')).toBe(0);
  });
});

// --- private_key_jwt with a jwks_uri -----------------------------------------

describe('private_key_jwt client authentication with keys at a jwks_uri (RFC 7523)', () => {
  it('issues a token to a private_key_jwt client whose jwks_uri is allow-listed, for a signed client assertion', async () => {
    const client = await registerClient(
      svc,
      machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${remote.url}/client-jwks.json` }),
    );
    expect(client.client_secret).toBeUndefined();
    expect(client.jwks_uri).toBe(`${remote.url}/client-jwks.json`);
    const res = await tokenWithAssertion(svc, client.client_id as string);
    const text = await res.text();
    expect({ status: res.status, body: text }).toEqual({ status: 200, body: expect.stringContaining('access_token') });
    const token = JSON.parse(text) as Json;
    expect(typeof token.access_token).toBe('string');
    expect(String(token.token_type).toLowerCase()).toBe('bearer');
    expect(remote.hits('/client-jwks.json')).toBeGreaterThanOrEqual(1);
  });

  it('refuses a client assertion signed by a key that is not at the client jwks_uri with 401 invalid_client', async () => {
    const client = await registerClient(
      svc,
      machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${remote.url}/client-jwks.json` }),
    );
    await expectError(await tokenWithAssertion(svc, client.client_id as string, otherKey), 401, 'invalid_client');
  });

  it('on an instance without fetch.allow_private_networks, refuses the token request of a client whose jwks_uri is on 127.0.0.1 with 401 invalid_client, without fetching it', async () => {
    const client = await registerClient(
      strict,
      machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${remote.url}/client-jwks-strict.json` }),
    );
    await expectError(await tokenWithAssertion(strict, client.client_id as string), 401, 'invalid_client');
    expect(remote.hits('/client-jwks-strict.json')).toBe(0);
  });
});
