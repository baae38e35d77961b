// Hostile input to the JWT bearer grant, token exchange and the trust admin
// routes, over real HTTP: a table of malformed assertions, and fast-check
// properties over arbitrary parameters. Every answer is a JSON error naming
// an RFC code with a 4xx status, never a 5xx, never a token.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { expectOAuthError } from '../support/expect.js';
import { basicAuth } from '../support/net.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

let svc: RunningApp;
let client: { id: string; secret: string };
let issuer: string;
let kid: string;
let privateKey: CryptoKey;

async function signed(claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, ...header }).sign(privateKey);
}

function token(params: Record<string, string>): Promise<Response> {
  return fetch(`${svc.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.id, client.secret) },
    body: new URLSearchParams(params).toString(),
  });
}

async function expectRefused(res: Response): Promise<void> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status: expect.any(Number), text: expect.stringMatching(/^\{"error":"[a-z_]+"/) });
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(text).not.toMatch(/access_token"|\n\s+at |<html/);
}

beforeAll(async () => {
  svc = await startApp();
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  kid = `k-${randomUUID()}`;
  issuer = `https://hostile-${randomUUID()}.example.com`;
  const trust = await svc.admin('/admin/trust/grants/jwt-bearer/issuers', {
    method: 'POST',
    json: { issuer, allow_any_subject: true, scope: ['read'], jwk: { ...(await exportJWK(pair.publicKey)), kid }, expires_at: '2099-01-01T00:00:00Z' },
  });
  expect(trust.status).toBe(201);
  const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ grant_types: [JWT_BEARER, TOKEN_EXCHANGE], scope: 'read' }) });
  const body = (await res.json()) as Record<string, string>;
  client = { id: body.client_id, secret: body.client_secret };
});
afterAll(async () => {
  await svc?.close();
});

describe('malformed JWT bearer assertions answer invalid_grant (RFC 7523 §3.1)', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const good = () => ({ iss: issuer, sub: 'u', aud: `${svc.url}/oauth2/token`, exp: now() + 60, jti: randomUUID() });
  it.each<[string, () => Promise<string>]>([
    ['not a JWT', async () => 'garbage'],
    ['two parts', async () => `${b64({ alg: 'ES256' })}.${b64(good())}`],
    ['an unsigned JWT (alg none)', async () => `${b64({ alg: 'none', kid })}.${b64(good())}.`],
    ['an HMAC JWT', async () => `${b64({ alg: 'HS256', kid })}.${b64(good())}.${b64('sig')}`],
    ['a JWE-shaped token', async () => `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`],
    ['a payload that is not JSON', async () => `${b64({ alg: 'ES256', kid })}.${b64('not json')}.${b64('sig')}`],
    ['a payload that is an array', async () => `${b64({ alg: 'ES256', kid })}.${b64([1, 2])}.${b64('sig')}`],
    ['iss as a number', async () => signed({ ...good(), iss: 42 })],
    ['iss with a NUL', async () => signed({ ...good(), iss: `${issuer}\u0000` })],
    ['sub as an object', async () => signed({ ...good(), sub: { a: 1 } })],
    ['a 5000-character sub', async () => signed({ ...good(), sub: 'x'.repeat(5000) })],
    ['exp as a string', async () => signed({ ...good(), exp: 'tomorrow' })],
    ['jti as a list', async () => signed({ ...good(), jti: ['a'] })],
    ['a lone surrogate in jti', async () => signed({ ...good(), jti: '\ud800' })],
    ['kid as a number', async () => signed(good(), { kid: 7 })],
    ['an unknown crit header', async () => `${b64({ alg: 'ES256', kid, crit: ['x-unknown'], 'x-unknown': 1 })}.${b64(good())}.${b64('sig')}`],
  ])('%s', async (_name, make) => {
    await expectOAuthError(await token({ grant_type: JWT_BEARER, assertion: await make() }), 400, 'invalid_grant');
  });

  it('an assertion beyond the size limit', async () => {
    await expectOAuthError(await token({ grant_type: JWT_BEARER, assertion: 'a'.repeat(20_000) }), 400, 'invalid_grant', 'longer');
  });
});

const printable = fc.string({ maxLength: 300, unit: 'binary' });
const jwtLike = fc
  .tuple(fc.jsonValue(), fc.jsonValue(), fc.string({ maxLength: 100 }))
  .map(([h, p, s]) => `${b64(h)}.${b64(p)}.${Buffer.from(s).toString('base64url')}`);

describe('properties', () => {
  it('no jwt-bearer request with arbitrary parameters gets a 5xx or a token', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ assertion: fc.oneof(printable, jwtLike), scope: fc.option(printable, { nil: undefined }), audience: fc.option(printable, { nil: undefined }) }),
        async ({ assertion, scope, audience }) => {
          const params: Record<string, string> = { grant_type: JWT_BEARER, assertion };
          if (scope !== undefined) params.scope = scope;
          if (audience !== undefined) params.audience = audience;
          await expectRefused(await token(params));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('no token exchange request with arbitrary tokens and token types gets a 5xx or a token', async () => {
    const type = fc.oneof(fc.constant(ACCESS_TOKEN), printable);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          subject_token: fc.oneof(printable, jwtLike),
          subject_token_type: type,
          actor_token: fc.option(fc.oneof(printable, jwtLike), { nil: undefined }),
          actor_token_type: fc.option(type, { nil: undefined }),
          requested_token_type: fc.option(type, { nil: undefined }),
          resource: fc.option(printable, { nil: undefined }),
        }),
        async (record) => {
          const params: Record<string, string> = { grant_type: TOKEN_EXCHANGE };
          for (const [k, v] of Object.entries(record)) if (v !== undefined) params[k] = v;
          await expectRefused(await token(params));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('no trust body gets a 5xx, and a refused one creates nothing', async () => {
    const jwk = fc.oneof(
      fc.jsonValue(),
      fc.record({ kty: fc.constantFrom('RSA', 'EC', 'OKP', 'oct', 'x'), kid: fc.oneof(printable, fc.integer()), crv: printable, x: printable, y: printable, d: fc.option(printable) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            issuer: fc.oneof(printable, fc.jsonValue()),
            subject: fc.oneof(printable, fc.jsonValue()),
            allow_any_subject: fc.oneof(fc.boolean(), fc.jsonValue()),
            scope: fc.oneof(fc.array(printable, { maxLength: 5 }), fc.jsonValue()),
            jwk,
            expires_at: fc.oneof(printable, fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.jsonValue()),
          },
          { requiredKeys: [] },
        ),
        async (body) => {
          const res = await svc.admin('/admin/trust/grants/jwt-bearer/issuers', { method: 'POST', json: body });
          expect(res.status).toBeLessThan(500);
          if (res.status !== 201) {
            await expectRefused(res);
          } else {
            // Only a well-formed public key passes; then it is removed again.
            const created = (await res.json()) as Record<string, unknown>;
            expect((await svc.admin(`/admin/trust/grants/jwt-bearer/issuers/${String(created.id)}`, { method: 'DELETE' })).status).toBe(204);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
