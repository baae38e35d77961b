// DPoP (RFC 9449; README, "DPoP (RFC 9449)"): proofs at the token endpoint,
// tokens bound to the proof's key in both formats, bound refresh tokens of
// public clients, codes bound by dpop_jkt, DPoP-bound tokens at userinfo,
// server nonces across instances, and the client metadata that requires DPoP.
// The happy paths are driven by oauth4webapi's DPoP support, unchanged.
import { createHash, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { JanitorService } from '../../src/database/janitor.service.js';
import { machineClient, nativeAppClient, webClient } from '../factories/clients.js';
import { startApp, startPair, type AppPair, type RunningApp } from '../support/app.js';
import { createAdminClient, manage, mintIat, register, registerClient } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { basicAuth } from '../support/net.js';
import { adminIntrospect, Browser, pkcePair, runFlow, tokenRequest } from '../support/oauth-flow.js';
import { query } from '../support/postgres.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;

let svc: RunningApp;
let as: oauth.AuthorizationServer;

beforeAll(async () => {
  svc = await startApp();
  const issuer = new URL(svc.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
});
afterAll(async () => {
  await svc?.close();
});

/** A key pair for proofs, with its public JWK and RFC 7638 thumbprint. */
interface TestKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  jkt: string;
}

async function testKey(alg = 'ES256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

interface ProofOptions {
  htm?: string;
  htu?: string;
  iat?: number;
  jti?: string;
  nonce?: string;
  ath?: string;
  /** Claims left out of the proof. */
  omit?: string[];
  /** JOSE header members that replace the defaults (undefined removes one). */
  header?: Record<string, unknown>;
  /** Signs with this key while the header names `key`'s public JWK. */
  signWith?: CryptoKey;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** A DPoP proof as a client would make it by hand (RFC 9449 §4.2), for the cases a library would never send. */
async function proof(key: TestKey, o: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: o.jti ?? randomUUID(),
    htm: o.htm ?? 'POST',
    htu: o.htu ?? `${svc.url}/oauth2/token`,
    iat: o.iat ?? now(),
    ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
    ...(o.ath !== undefined ? { ath: o.ath } : {}),
  };
  for (const name of o.omit ?? []) delete claims[name];
  const header = { alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...o.header } as { alg: string };
  return new SignJWT(claims).setProtectedHeader(header).sign(o.signWith ?? key.privateKey);
}

async function adminClient(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const created = await createAdminClient(svc, body);
  return { id: created.client_id as string, secret: created.client_secret as string };
}

function clientCredentials(target: RunningApp, client: { id: string; secret: string }, dpop?: string): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.id, client.secret) };
  if (dpop !== undefined) headers.DPoP = dpop;
  return fetch(`${target.url}/oauth2/token`, { method: 'POST', headers, body: 'grant_type=client_credentials' });
}

/** One HTTP/1.1 request written byte by byte, for what fetch cannot send (repeated header lines, a foreign Host). */
function rawRequest(target: RunningApp, head: string[], body: string): Promise<{ status: number; text: string }> {
  const { port } = new URL(target.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text });
    });
    socket.write([...head, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', body].join('\r\n'));
  });
}

describe('discovery (RFC 9449 §5.1)', () => {
  it('advertises the asymmetric algorithms accepted for DPoP proofs', async () => {
    expect(as.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA']));
    expect(as.dpop_signing_alg_values_supported).not.toContain('HS256');
    expect(as.dpop_signing_alg_values_supported).not.toContain('none');
  });
});

describe('client_credentials with oauth4webapi (RFC 9449 §5, §6)', () => {
  it.each(['jwt', 'opaque'])('binds a %s access token to the key: token_type DPoP, and cnf.jkt in the token and in introspection', async (strategy) => {
    const created = await adminClient(machineClient({ access_token_strategy: strategy }));
    const client: oauth.Client = { client_id: created.id };
    const auth = oauth.ClientSecretBasic(created.secret);
    const keyPair = await oauth.generateKeyPair('ES256', { extractable: true });
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    const DPoP = oauth.DPoP(client, keyPair);

    const token = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'read' }, { ...insecure, DPoP }),
    );

    expect(token.token_type).toBe('dpop');
    if (strategy === 'jwt') expect(decodeJwt(token.access_token).cnf).toEqual({ jkt });
    const introspected = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, token.access_token, insecure));
    expect(introspected).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
    expect(await adminIntrospect(svc, token.access_token)).toMatchObject({ token_type: 'DPoP', cnf: { jkt } });
  });

  it('a JWT access token bound to the key passes oauth4webapi\'s resource-server check with the proof the client makes for it', async () => {
    const created = await adminClient(machineClient({ access_token_strategy: 'jwt' }));
    const client: oauth.Client = { client_id: created.id };
    const keyPair = await oauth.generateKeyPair('ES256', { extractable: true });
    const DPoP = oauth.DPoP(client, keyPair);
    const token = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(created.secret), {}, { ...insecure, DPoP }),
    );
    // The proof oauth4webapi attaches to a resource request, captured on its way out.
    let sent: Request | undefined;
    const capture = (url: string, init: RequestInit) => {
      sent = new Request(url, init);
      return Promise.resolve(new Response('{}', { status: 200 }));
    };
    await oauth.protectedResourceRequest(token.access_token, 'GET', new URL('https://api.example.com/invoices'), undefined, undefined, {
      DPoP,
      [oauth.customFetch]: capture,
    });

    const claims = await oauth.validateJwtAccessToken(as, sent!, svc.url, { ...insecure, requireDPoP: true });
    expect(claims.client_id).toBe(created.id);
  });

  it('without a proof the token stays a bearer token, with no cnf', async () => {
    const created = await adminClient(machineClient({ access_token_strategy: 'jwt' }));
    const res = await clientCredentials(svc, created);
    const body = (await res.json()) as Record<string, string>;
    expect(body.token_type).toBe('Bearer');
    expect(decodeJwt(body.access_token).cnf).toBeUndefined();
    expect((await adminIntrospect(svc, body.access_token)).cnf).toBeUndefined();
  });
});

describe('proofs the token endpoint refuses (RFC 9449 §4.3): 400 invalid_dpop_proof naming the problem', () => {
  let client: { id: string; secret: string };
  let key: TestKey;
  beforeAll(async () => {
    client = await adminClient(machineClient({ access_token_strategy: 'jwt' }));
    key = await testKey();
  });

  const cases: Array<[string, () => Promise<string>, string]> = [
    ['the wrong htm', () => proof(key, { htm: 'GET' }), 'htm must be POST'],
    ['the wrong htu', () => proof(key, { htu: 'https://evil.example/oauth2/token' }), `htu must be ${'http://127.0.0.1'}`],
    ['another path in htu', () => proof(key, { htu: `${svc.url}/oauth2/introspect` }), 'htu must be'],
    ['a stale iat', () => proof(key, { iat: now() - 120 }), 'iat is more than 60 s ago'],
    ['an iat in the future', () => proof(key, { iat: now() + 120 }), 'iat is in the future'],
    ['no iat', () => proof(key, { omit: ['iat'] }), 'iat is required'],
    ['no jti', () => proof(key, { omit: ['jti'] }), 'jti is required'],
    ['no typ', () => proof(key, { header: { typ: undefined } }), 'typ must be dpop+jwt'],
    ['typ JWT', () => proof(key, { header: { typ: 'JWT' } }), 'typ must be dpop+jwt'],
    ['no jwk', () => proof(key, { header: { jwk: undefined } }), 'the jwk header must carry the public key'],
    [
      'a private key in jwk',
      async () => {
        const priv = await exportJWK(key.privateKey);
        return proof(key, { header: { jwk: priv } });
      },
      'private or symmetric member "d"',
    ],
    [
      'a symmetric alg',
      () =>
        new SignJWT({ jti: randomUUID(), htm: 'POST', htu: `${svc.url}/oauth2/token`, iat: now() })
          .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.publicJwk })
          .sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-long')),
      'alg "HS256" is not supported',
    ],
    ['alg none', async () => `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk })).toString('base64url')}.${Buffer.from(JSON.stringify({ jti: 'x', htm: 'POST', htu: `${svc.url}/oauth2/token`, iat: now() })).toString('base64url')}.AA`, 'alg "none" is not supported'],
    [
      'a signature by another key',
      async () => proof(key, { signWith: (await testKey()).privateKey }),
      'the signature does not verify',
    ],
    ['a jwk that does not fit alg', async () => proof(key, { header: { jwk: (await testKey('RS256')).publicJwk } }), 'not a public key usable with ES256'],
    ['not a JWT', async () => 'not-a-jwt', 'compact serialisation'],
    ['two proofs folded into one header', async () => `${await proof(key)}, ${await proof(key)}`, 'exactly one DPoP header'],
  ];

  it.each(cases)('a proof with %s', async (_name, make, mention) => {
    const res = await clientCredentials(svc, client, await make());
    await expectOAuthError(res, 400, 'invalid_dpop_proof', mention);
  });

  it('a replayed proof: the same jti is accepted once, the second use is refused', async () => {
    const once = await proof(key);
    expect((await clientCredentials(svc, client, once)).status).toBe(200);
    await expectOAuthError(await clientCredentials(svc, client, once), 400, 'invalid_dpop_proof', 'jti was already used');
  });

  it('accepts an htu with a query or fragment and a default port written out (RFC 9449 §4.3 item 9)', async () => {
    const url = new URL(`${svc.url}/oauth2/token`);
    const res = await clientCredentials(svc, client, await proof(key, { htu: `${url.protocol}//${url.host.toUpperCase()}${url.pathname}?x=1#f` }));
    expect(res.status).toBe(200);
    expect(((await res.json()) as Record<string, string>).token_type).toBe('DPoP');
  });

  it('two DPoP header lines are refused', async () => {
    const head = [
      'POST /oauth2/token HTTP/1.1',
      `Host: 127.0.0.1:${new URL(svc.url).port}`,
      'Content-Type: application/x-www-form-urlencoded',
      `Authorization: ${basicAuth(client.id, client.secret)}`,
      `DPoP: ${await proof(key)}`,
      `DPoP: ${await proof(key)}`,
    ];
    const res = await rawRequest(svc, head, 'grant_type=client_credentials');
    expect(res.status).toBe(400);
    expect(res.text).toContain('"error":"invalid_dpop_proof"');
    expect(res.text).toContain('exactly one DPoP header');
  });

  it('htu is the issuer\'s token endpoint whatever Host the request names', async () => {
    const head = [
      'POST /oauth2/token HTTP/1.1',
      'Host: evil.example',
      'Content-Type: application/x-www-form-urlencoded',
      `Authorization: ${basicAuth(client.id, client.secret)}`,
      `DPoP: ${await proof(key, { htu: 'http://evil.example/oauth2/token' })}`,
    ];
    const res = await rawRequest(svc, head, 'grant_type=client_credentials');
    expect(res.status).toBe(400);
    expect(res.text).toContain('htu must be');
  });
});

describe('authorization code and refresh for a public client (RFC 9449 §5, §10)', () => {
  const redirectUri = 'http://127.0.0.1/callback';
  let clientId: string;
  let client: oauth.Client;
  let keyPair: Awaited<ReturnType<typeof oauth.generateKeyPair>>;
  let jkt: string;
  let DPoP: oauth.DPoPHandle;

  beforeAll(async () => {
    clientId = (await registerClient(svc, nativeAppClient({ dpop_bound_access_tokens: true }))).client_id as string;
    client = { client_id: clientId };
    keyPair = await oauth.generateKeyPair('ES256', { extractable: true });
    jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    DPoP = oauth.DPoP(client, keyPair);
  });

  async function codeFor(extra: Record<string, string> = {}): Promise<{ callback: URL; verifier: string; state: string; nonce: string }> {
    const { verifier, challenge } = pkcePair();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const { callback } = await runFlow(svc, new Browser(), {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid offline_access',
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...extra,
    });
    return { callback, verifier, state, nonce };
  }

  async function redeem(flow: Awaited<ReturnType<typeof codeFor>>, handle: oauth.DPoPHandle | undefined) {
    const params = oauth.validateAuthResponse(as, client, flow.callback, flow.state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, flow.verifier, { ...insecure, DPoP: handle });
    return oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: flow.nonce });
  }

  it('binds the access and refresh tokens to the key; refresh works with that key only; userinfo takes the token with a proof', async () => {
    const flow = await codeFor({ dpop_jkt: jkt });
    const tokens = await redeem(flow, DPoP);
    expect(tokens.token_type).toBe('dpop');
    expect(await adminIntrospect(svc, tokens.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
    expect(await adminIntrospect(svc, tokens.refresh_token!)).toMatchObject({ active: true, token_use: 'refresh_token', cnf: { jkt } });

    // RFC 9449 §7.1: userinfo with Authorization: DPoP and a proof carrying ath.
    const info = await oauth.processUserInfoResponse(as, client, 'alice', await oauth.userInfoRequest(as, client, tokens.access_token, { ...insecure, DPoP }));
    expect(info.sub).toBe('alice');

    // No proof (this client requires DPoP), or another key: refused, and the grant is not revoked by a thief's attempt.
    const bare = await tokenRequest(svc, { grant_type: 'refresh_token', client_id: clientId, refresh_token: tokens.refresh_token });
    expect(bare.status).toBe(400);
    expect(bare.body.error).toBe('invalid_dpop_proof');
    const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    await expect(
      oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, { ...insecure, DPoP: other })),
    ).rejects.toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('bound to another DPoP key') });

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, { ...insecure, DPoP }),
    );
    expect(refreshed.token_type).toBe('dpop');
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(await adminIntrospect(svc, refreshed.refresh_token!)).toMatchObject({ active: true, cnf: { jkt } });
    expect(await adminIntrospect(svc, refreshed.access_token)).toMatchObject({ active: true, cnf: { jkt } });
  });

  it('a refresh of a bound refresh token without a proof is invalid_grant (for a client that does not require DPoP)', async () => {
    const loose = (await registerClient(svc, nativeAppClient())).client_id as string;
    const { verifier, challenge } = pkcePair();
    const { code } = await runFlow(svc, new Browser(), {
      client_id: loose,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'offline_access',
      state: 'state-0123456789',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const key = await testKey();
    const exchange = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', DPoP: await proof(key) },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: loose, code, redirect_uri: redirectUri, code_verifier: verifier }),
    });
    const tokens = (await exchange.json()) as Record<string, string>;
    expect(tokens.token_type).toBe('DPoP');

    const bare = await tokenRequest(svc, { grant_type: 'refresh_token', client_id: loose, refresh_token: tokens.refresh_token });
    expect(bare.status).toBe(400);
    expect(bare.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('DPoP-bound') });
    expect(await adminIntrospect(svc, tokens.refresh_token)).toMatchObject({ active: true });
  });

  it('a code requested with dpop_jkt is refused with a proof by another key', async () => {
    const flow = await codeFor({ dpop_jkt: jkt });
    const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    await expect(redeem(flow, other)).rejects.toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('dpop_jkt') });
  });

  it('a malformed dpop_jkt is an invalid_request sent back to the client', async () => {
    const { challenge } = pkcePair();
    const browser = new Browser();
    const url = new URL('/oauth2/auth', svc.url);
    for (const [k, v] of Object.entries({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid',
      state: 'state-0123456789',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      dpop_jkt: 'not-a-thumbprint',
    })) {
      url.searchParams.set(k, v);
    }
    const back = await browser.follow(url);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toContain('dpop_jkt');
  });
});

describe('userinfo with a DPoP-bound access token (RFC 9449 §7)', () => {
  let token: string;
  let key: TestKey;
  const userinfoUrl = () => `${svc.url}/userinfo`;

  beforeAll(async () => {
    const clientId = (await registerClient(svc, nativeAppClient())).client_id as string;
    const { verifier, challenge } = pkcePair();
    const redirectUri = 'http://127.0.0.1/callback';
    const { code } = await runFlow(svc, new Browser(), {
      client_id: clientId,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid',
      state: 'state-0123456789',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    key = await testKey('EdDSA');
    const res = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', DPoP: await proof(key) },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: redirectUri, code_verifier: verifier }),
    });
    token = ((await res.json()) as Record<string, string>).access_token;
  });

  const ath = () => createHash('sha256').update(token).digest('base64url');

  it('answers with a proof by the bound key that names the token in ath', async () => {
    const res = await fetch(userinfoUrl(), { headers: { Authorization: `DPoP ${token}`, DPoP: await proof(key, { htm: 'GET', htu: userinfoUrl(), ath: ath() }) } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Record<string, string>).sub).toBe('alice');
  });

  it('refuses the token presented as Bearer, with a DPoP challenge', async () => {
    const res = await fetch(userinfoUrl(), { headers: { Authorization: `Bearer ${token}` } });
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
    await expectOAuthError(res, 401, 'invalid_token', 'DPoP-bound');
  });

  it.each<[string, () => Promise<Record<string, string>>, string]>([
    ['no proof', async () => ({}), 'a DPoP proof is required'],
    ['a proof without ath', async () => ({ DPoP: await proof(key, { htm: 'GET', htu: userinfoUrl() }) }), 'ath'],
    ['a proof whose ath names another token', async () => ({ DPoP: await proof(key, { htm: 'GET', htu: userinfoUrl(), ath: 'x'.repeat(43) }) }), 'ath does not match'],
    ['a proof for the token endpoint', async () => ({ DPoP: await proof(key, { htm: 'GET', ath: ath() }) }), 'htu must be'],
    ['a proof by another key', async () => ({ DPoP: await proof(await testKey(), { htm: 'GET', htu: userinfoUrl(), ath: ath() }) }), 'another key'],
  ])('refuses %s: 401 invalid_dpop_proof', async (_name, headers, mention) => {
    const res = await fetch(userinfoUrl(), { headers: { Authorization: `DPoP ${token}`, ...(await headers()) } });
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof", algs="/);
    await expectOAuthError(res, 401, 'invalid_dpop_proof', mention);
  });

  it('refuses the token in a form body (RFC 6750 §2.2), which cannot carry the DPoP scheme', async () => {
    const res = await fetch(userinfoUrl(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', DPoP: await proof(key, { htu: userinfoUrl(), ath: ath() }) },
      body: new URLSearchParams({ access_token: token }),
    });
    await expectOAuthError(res, 401, 'invalid_token', 'DPoP-bound');
  });

  it('refuses a DPoP proof sent with a bearer token', async () => {
    const created = await adminClient(machineClient({ access_token_strategy: 'jwt' }));
    const bearer = ((await (await clientCredentials(svc, created)).json()) as Record<string, string>).access_token;
    const res = await fetch(userinfoUrl(), { headers: { Authorization: `Bearer ${bearer}`, DPoP: await proof(key, { htm: 'GET', htu: userinfoUrl() }) } });
    await expectOAuthError(res, 400, 'invalid_request', 'DPoP proofs go with DPoP-bound tokens only');
  });

  it('refuses a bearer token presented with the DPoP scheme', async () => {
    const created = await adminClient(machineClient({ access_token_strategy: 'opaque' }));
    const bearer = ((await (await clientCredentials(svc, created)).json()) as Record<string, string>).access_token;
    const res = await fetch(userinfoUrl(), { headers: { Authorization: `DPoP ${bearer}`, DPoP: await proof(key, { htm: 'GET', htu: userinfoUrl() }) } });
    await expectOAuthError(res, 401, 'invalid_token', 'not DPoP-bound');
  });
});

describe('confidential clients (RFC 9449 §5)', () => {
  it('their refresh tokens are not bound, but a refresh with a proof yields a bound access token', async () => {
    const created = await adminClient(webClient({ redirect_uris: ['https://app.example.com/callback'], scope: 'offline_access' }));
    const { code } = await runFlow(svc, new Browser(), {
      client_id: created.id,
      response_type: 'code',
      redirect_uri: 'https://app.example.com/callback',
      scope: 'offline_access',
      state: 'state-0123456789',
    });
    const key = await testKey();
    const exchange = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(created.id, created.secret), DPoP: await proof(key) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'https://app.example.com/callback' }),
    });
    const first = (await exchange.json()) as Record<string, string>;
    expect(first.token_type).toBe('DPoP');
    expect((await adminIntrospect(svc, first.refresh_token)).cnf).toBeUndefined();

    const bare = await tokenRequest(svc, { grant_type: 'refresh_token', refresh_token: first.refresh_token }, created);
    expect(bare.status).toBe(200);
    expect(bare.body.token_type).toBe('Bearer');

    const other = await testKey();
    const res = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(created.id, created.secret), DPoP: await proof(other) },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: bare.body.refresh_token as string }),
    });
    const bound = (await res.json()) as Record<string, string>;
    expect(bound.token_type).toBe('DPoP');
    expect(await adminIntrospect(svc, bound.access_token)).toMatchObject({ cnf: { jkt: other.jkt } });
  });
});

describe('dpop_bound_access_tokens (RFC 9449 §5.2)', () => {
  it('a registrant sets it through DCR: stored, returned, and a token request without a proof is refused', async () => {
    const res = await register(svc, machineClient({ dpop_bound_access_tokens: true }), await mintIat(svc));
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.dpop_bound_access_tokens).toBe(true);
    const read = (await (await manage(svc, 'GET', body.client_id as string, body.registration_access_token as string)).json()) as Record<string, unknown>;
    expect(read.dpop_bound_access_tokens).toBe(true);
    const adminRead = (await (await svc.admin(`/admin/clients/${body.client_id as string}`)).json()) as Record<string, unknown>;
    expect(adminRead.dpop_bound_access_tokens).toBe(true);

    const client = { id: body.client_id as string, secret: body.client_secret as string };
    await expectOAuthError(await clientCredentials(svc, client), 400, 'invalid_dpop_proof', 'dpop_bound_access_tokens');
    const ok = await clientCredentials(svc, client, await proof(await testKey()));
    expect(((await ok.json()) as Record<string, string>).token_type).toBe('DPoP');
  });

  it('a value that is not a boolean is refused naming the field', async () => {
    const res = await register(svc, machineClient({ dpop_bound_access_tokens: 'yes' }), await mintIat(svc));
    await expectOAuthError(res, 400, 'invalid_client_metadata', 'dpop_bound_access_tokens must be a boolean');
  });

  it('an admin sets and clears it', async () => {
    const created = await adminClient(machineClient({ dpop_bound_access_tokens: true }));
    await expectOAuthError(await clientCredentials(svc, created), 400, 'invalid_dpop_proof');
    const patched = await svc.admin(`/admin/clients/${created.id}`, {
      method: 'PATCH',
      json: [{ op: 'replace', path: '/dpop_bound_access_tokens', value: false }],
    });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as Record<string, unknown>).dpop_bound_access_tokens).toBe(false);
    expect((await clientCredentials(svc, created)).status).toBe(200);
  });

  it('a policy can force it on registrants', async () => {
    const name = `dpop-${randomUUID().slice(0, 8)}`;
    const saved = await svc.admin('/admin/policies', { method: 'POST', json: { name, rules: { force: { dpop_bound_access_tokens: true } } } });
    expect(saved.status).toBe(201);
    const res = await register(svc, machineClient({ dpop_bound_access_tokens: false }), await mintIat(svc, { policies: [name] }));
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(201);
    expect(body.dpop_bound_access_tokens).toBe(true);
    await expectOAuthError(await clientCredentials(svc, { id: body.client_id as string, secret: body.client_secret as string }), 400, 'invalid_dpop_proof');
  });
});

describe('replay records and the janitor', () => {
  it('stores the jti of accepted proofs and deletes expired ones', async () => {
    const key = await testKey();
    const client = await adminClient(machineClient());
    const jti = randomUUID();
    expect((await clientCredentials(svc, client, await proof(key, { jti }))).status).toBe(200);
    const { rows } = await query(`SELECT jkt FROM dpop_proof_jtis WHERE jti = $1`, [jti]);
    expect(rows).toEqual([{ jkt: key.jkt }]);

    await query(`INSERT INTO dpop_proof_jtis (jkt, jti, expires_at) VALUES ('some-key', 'old-jti', now() - interval '1 minute')`);
    const counts = await svc.app.get(JanitorService).runOnce();
    expect(counts?.expired_dpop_proof_jtis).toBeGreaterThanOrEqual(1);
    expect((await query(`SELECT 1 FROM dpop_proof_jtis WHERE jti = 'old-jti'`)).rows).toEqual([]);
    expect((await query(`SELECT 1 FROM dpop_proof_jtis WHERE jti = $1`, [jti])).rows).toHaveLength(1);
  });
});

describe('server nonces (RFC 9449 §8) across two instances', () => {
  let pair: AppPair;
  let client: { id: string; secret: string };

  beforeAll(async () => {
    pair = await startPair('registrar_dpop', { OAUTH2_DPOP_REQUIRE_NONCE: 'true' });
    const res = await pair.a.admin('/admin/clients', { method: 'POST', json: machineClient() });
    const body = (await res.json()) as Record<string, string>;
    client = { id: body.client_id, secret: body.client_secret };
  });
  afterAll(async () => {
    await pair?.close();
  });

  const htu = (target: RunningApp) => `${target.url}/oauth2/token`;

  it('a proof without a nonce gets use_dpop_nonce with a DPoP-Nonce header; a nonce from one instance works at the other', async () => {
    const key = await testKey();
    const first = await clientCredentials(pair.a, client, await proof(key, { htu: htu(pair.a) }));
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expectOAuthError(first, 400, 'use_dpop_nonce', 'requires a nonce');

    const second = await clientCredentials(pair.b, client, await proof(key, { htu: htu(pair.b), nonce: nonce! }));
    expect(second.status).toBe(200);
    expect(second.headers.get('dpop-nonce')).toBe(nonce);
  });

  it('a nonce this server did not issue gets use_dpop_nonce', async () => {
    const res = await clientCredentials(pair.a, client, await proof(await testKey(), { htu: htu(pair.a), nonce: 'made-up-nonce' }));
    expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expectOAuthError(res, 400, 'use_dpop_nonce', 'not a current one');
  });

  it('a proof used at one instance is refused at the other', async () => {
    const key = await testKey();
    const nonce = (await clientCredentials(pair.a, client, await proof(key, { htu: htu(pair.a) }))).headers.get('dpop-nonce')!;
    const jti = randomUUID();
    expect((await clientCredentials(pair.a, client, await proof(key, { htu: htu(pair.a), nonce, jti }))).status).toBe(200);
    // Same key and jti, at the other instance (whose htu differs only by port).
    const replay = await clientCredentials(pair.b, client, await proof(key, { htu: htu(pair.b), nonce, jti }));
    await expectOAuthError(replay, 400, 'invalid_dpop_proof', 'jti was already used');
  });

  it('oauth4webapi retries with the nonce it was given', async () => {
    const issuer = new URL(pair.b.url);
    const server = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
    const oc: oauth.Client = { client_id: client.id };
    const DPoP = oauth.DPoP(oc, await oauth.generateKeyPair('ES256'));
    const request = () => oauth.clientCredentialsGrantRequest(server, oc, oauth.ClientSecretBasic(client.secret), {}, { ...insecure, DPoP });
    let firstError: unknown;
    try {
      await oauth.processClientCredentialsResponse(server, oc, await request());
    } catch (err) {
      firstError = err;
    }
    expect(oauth.isDPoPNonceError(firstError)).toBe(true);
    const token = await oauth.processClientCredentialsResponse(server, oc, await request());
    expect(token.token_type).toBe('dpop');
  });
});
