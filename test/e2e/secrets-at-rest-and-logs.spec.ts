// Secrets at rest and in the logs, over a whole lifecycle on a database of its
// own. The IAT, the client secret and the registration access token
// are stored only as hashes (README, Client secrets); opaque tokens are stored only as a keyed
// hash; signing keys' private parts are encrypted with secrets.system;
// login and consent challenges and verifiers, codes and refresh tokens are
// stored as keyed hashes; cookies are signed, never stored;
// secrets, tokens and Authorization headers are never logged (README, HTTP API);
// audit events and their webhook outbox hold neither secrets nor hashes of them (README, Audit events).
//
// Every secret value seen on the wire is collected; then every row of every
// table and every log line is searched for each of them.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { machineClient } from '../factories/clients.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { acceptConsent, acceptLogin, authorizeUrl, Browser } from '../support/oauth-flow.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';
import { basicAuth } from '../support/net.js';

const SYSTEM_SECRET = 'test-system-secret-0123456789abcdef';
/** An audit webhook that never answers (.invalid does not resolve): its deliveries stay in the outbox, to be searched. */
const WEBHOOK_SECRET = 'audit-webhook-secret-0123456789abcdef';
const WEBHOOK_URL_TOKEN = 'webhook-url-token-0123456789abcdef';

let svc: RunningApp;
let db: { name: string; dsn: string } | undefined;

/** Every secret value seen, by what it is. */
const secrets = new Map<string, string>();
/** Every Authorization header value sent, valid or not. */
const authorizations = new Set<string>();
/** The JWT access tokens issued, whole. */
const jwts: string[] = [];

function keep(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length < 16) throw new Error(`${what} is not a secret-sized string: ${JSON.stringify(value)}`);
  secrets.set(what, value);
  return value;
}

interface Call {
  method?: string;
  authorization?: string;
  json?: unknown;
  form?: Record<string, string>;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One request; remembers its Authorization header and answers status and JSON body. */
async function call(path: string, c: Call = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (c.authorization !== undefined) {
    headers.Authorization = c.authorization;
    authorizations.add(c.authorization);
  }
  let body: string | undefined;
  if (c.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(c.json);
  } else if (c.form !== undefined) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(c.form).toString();
  }
  const res = await fetch(svc.url + path, { method: c.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const admin = `Bearer ${ADMIN_KEY}`;
const bearer = (token: string): string => `Bearer ${token}`;

async function expectStatus(answer: Promise<Answer>, status: number): Promise<Record<string, unknown>> {
  const { status: actual, body } = await answer;
  expect({ status: actual, body }).toMatchObject({ status });
  return body;
}

function signatureOf(jwt: string): string {
  const parts = jwt.split('.');
  expect(parts).toHaveLength(3);
  return parts[2];
}

async function issueJwt(clientId: string, secret: string, label: string): Promise<string> {
  const body = await expectStatus(call('/oauth2/token', { authorization: basicAuth(clientId, secret), form: { grant_type: 'client_credentials' } }), 200);
  const jwt = body.access_token as string;
  jwts.push(jwt);
  keep(`${label} signature`, signatureOf(jwt));
  return jwt;
}

async function introspect(token: string, authorization: string | undefined, form: Record<string, string> = {}, path = '/oauth2/introspect'): Promise<boolean> {
  const body = await expectStatus(call(path, { authorization, form: { token, ...form } }), 200);
  return body.active as boolean;
}

/** The lifecycle: every step from minting an IAT to revoking a token that handles a secret. */
async function lifecycle(): Promise<void> {
  keep('admin API key', ADMIN_KEY);
  keep('system secret', SYSTEM_SECRET);
  keep('audit webhook secret', WEBHOOK_SECRET);
  keep('audit webhook URL token', WEBHOOK_URL_TOKEN);

  // An operator mints an initial access token; a third party registers with it (RFC 7591).
  const iatBody = await expectStatus(call('/admin/initial-access-tokens', { authorization: admin, json: { max_uses: 2, description: 'secrets test' } }), 201);
  const iat = keep('initial access token', iatBody.token);
  const registered = await expectStatus(call('/oauth2/register', { authorization: bearer(iat), json: machineClient({ client_name: 'dcr client' }) }), 201);
  const dcrId = registered.client_id as string;
  const dcrSecret = keep('DCR client secret', registered.client_secret);
  const rat1 = keep('first registration access token', registered.registration_access_token);

  // Admin clients: one with JWT access tokens, one with opaque ones (client_secret_post), one with an operator-chosen secret.
  const jwtClient = await expectStatus(call('/admin/clients', { authorization: admin, json: machineClient({ access_token_strategy: 'jwt' }) }), 201);
  const jwtSecret = keep('JWT admin client secret', jwtClient.client_secret);
  const opaqueClient = await expectStatus(
    call('/admin/clients', { authorization: admin, json: machineClient({ access_token_strategy: 'opaque', token_endpoint_auth_method: 'client_secret_post' }) }),
    201,
  );
  const opaqueSecret = keep('opaque admin client secret', opaqueClient.client_secret);
  const chosenSecret = keep('operator-chosen client secret', `chosen-${Date.now()}-secret-value`);
  const chosenClient = await expectStatus(call('/admin/clients', { authorization: admin, json: machineClient({ client_secret: chosenSecret }) }), 201);

  // Tokens of both formats.
  const jwt1 = await issueJwt(jwtClient.client_id as string, jwtSecret, 'first JWT access token');
  const opaqueBody = await expectStatus(
    call('/oauth2/token', { form: { grant_type: 'client_credentials', client_id: opaqueClient.client_id as string, client_secret: opaqueSecret } }),
    200,
  );
  const opaque1 = keep('opaque access token of the admin client', opaqueBody.access_token);
  const dcrTokenBody = await expectStatus(call('/oauth2/token', { authorization: basicAuth(dcrId, dcrSecret), form: { grant_type: 'client_credentials' } }), 200);
  const opaque2 = keep('opaque access token of the DCR client', dcrTokenBody.access_token);
  const chosenTokenBody = await expectStatus(
    call('/oauth2/token', { authorization: basicAuth(chosenClient.client_id as string, chosenSecret), form: { grant_type: 'client_credentials' } }),
    200,
  );
  keep('opaque access token of the chosen-secret client', chosenTokenBody.access_token);
  for (const token of [opaque1, opaque2]) expect(token.split('.')).toHaveLength(1);

  // The authorization code flow: the challenges, verifiers and cookies of the browser leg, the code, refresh tokens.
  const web = await expectStatus(
    call('/admin/clients', {
      authorization: admin,
      json: {
        redirect_uris: ['https://app.example.com/cb'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: 'openid offline_access',
      },
    }),
    201,
  );
  const webId = web.client_id as string;
  const webSecret = keep('code-flow client secret', web.client_secret);
  const browser = new Browser();
  const toLogin = await browser.follow(authorizeUrl(svc, { client_id: webId, response_type: 'code', scope: 'openid offline_access', state: 'state-123' }));
  const loginChallenge = keep('login challenge', toLogin.searchParams.get('login_challenge'));
  for (const [name, value] of browser.cookies) keep(`flow cookie ${name}`, value);
  const login = await acceptLogin(svc, loginChallenge, { subject: 'alice', remember: true, remember_for: 3600 });
  keep('login verifier', new URL(login.redirectTo).searchParams.get('login_verifier'));
  const toConsent = await browser.follow(login.redirectTo);
  keep('login session cookie', browser.cookies.get('registrar_session'));
  const consent = await acceptConsent(svc, keep('consent challenge', toConsent.searchParams.get('consent_challenge')));
  keep('consent verifier', new URL(consent.redirectTo).searchParams.get('consent_verifier'));
  const code = keep('authorization code', (await browser.follow(consent.redirectTo)).searchParams.get('code'));
  const granted = await expectStatus(call('/oauth2/token', { authorization: basicAuth(webId, webSecret), form: { grant_type: 'authorization_code', code } }), 200);
  keep('code-flow access token', granted.access_token);
  keep('ID token signature', signatureOf(granted.id_token as string));
  const refreshed = await expectStatus(
    call('/oauth2/token', { authorization: basicAuth(webId, webSecret), form: { grant_type: 'refresh_token', refresh_token: keep('first refresh token', granted.refresh_token) } }),
    200,
  );
  keep('second refresh token', refreshed.refresh_token);
  keep('refreshed access token', refreshed.access_token);

  // Introspection, by the client and by the operator.
  expect(await introspect(jwt1, basicAuth(jwtClient.client_id as string, jwtSecret))).toBe(true);
  expect(await introspect(opaque1, undefined, { client_id: opaqueClient.client_id as string, client_secret: opaqueSecret })).toBe(true);
  expect(await introspect(opaque2, admin, {}, '/admin/oauth2/introspect')).toBe(true);
  expect(await introspect(jwt1, admin, {}, '/admin/oauth2/introspect')).toBe(true);

  // RFC 7592: read, then replace (sending the current secret, as RFC 7592 §2.2 allows), which rotates the token.
  const path = `/oauth2/register/${encodeURIComponent(dcrId)}`;
  await expectStatus(call(path, { authorization: bearer(rat1) }), 200);
  const replaced = await expectStatus(
    call(path, { method: 'PUT', authorization: bearer(rat1), json: { client_id: dcrId, client_secret: dcrSecret, ...machineClient({ client_name: 'renamed' }) } }),
    200,
  );
  const rat2 = keep('second registration access token', replaced.registration_access_token);
  expect(rat2).not.toBe(rat1);
  await expectStatus(call(path, { authorization: bearer(rat1) }), 401);
  await expectStatus(call(path, { authorization: bearer(rat2) }), 200);

  // Client secret rotation: by the operator, and by a client itself through RFC 7592 (README "Rotating client secrets").
  const jwtClientId = jwtClient.client_id as string;
  const rotatedJwtClient = await expectStatus(call(`/admin/clients/${encodeURIComponent(jwtClientId)}/secrets/rotate`, { authorization: admin, json: {} }), 200);
  const jwtSecretRotated = keep('JWT admin client secret after rotation', rotatedJwtClient.client_secret);
  await issueJwt(jwtClientId, jwtSecretRotated, 'JWT access token after secret rotation');
  const selfRotated = await expectStatus(
    call(`/oauth2/register/${encodeURIComponent(opaqueClient.client_id as string)}/secrets/rotate`, {
      method: 'POST',
      authorization: bearer(keep('registration access token of the opaque admin client', opaqueClient.registration_access_token)),
    }),
    200,
  );
  keep('opaque admin client secret after self-rotation', selfRotated.client_secret);

  // Re-registration (a new secret and registration access token for the same client) and recovering a registration
  // access token with a private_key_jwt assertion (README "Re-registration and recovering a registration access token").
  await expectStatus(call('/admin/policies', { authorization: admin, json: { name: 'secrets-rereg', rules: { reregistration: { key: 'software_id_and_instance' } } } }), 201);
  const reregIat = keep('re-registration initial access token', (await expectStatus(call('/admin/initial-access-tokens', { authorization: admin, json: { policies: ['secrets-rereg'] } }), 201)).token);
  const reregBody = machineClient({ software_id: 'secrets-agent', software_instance_id: 'pod-1' });
  const reregFirst = await expectStatus(call('/oauth2/register', { authorization: bearer(reregIat), json: reregBody }), 201);
  keep('re-registered client secret (first)', reregFirst.client_secret);
  keep('re-registered client registration access token (first)', reregFirst.registration_access_token);
  const reregAgain = await expectStatus(call('/oauth2/register', { authorization: bearer(reregIat), json: reregBody }), 201);
  expect(reregAgain.client_id).toBe(reregFirst.client_id);
  keep('re-registered client secret (again)', reregAgain.client_secret);
  keep('re-registered client registration access token (again)', reregAgain.registration_access_token);
  const clientKeys = await generateKeyPair('ES256');
  const keyClient = await expectStatus(
    call('/oauth2/register', {
      authorization: bearer(keep('initial access token of the key client', (await expectStatus(call('/admin/initial-access-tokens', { authorization: admin, json: {} }), 201)).token)),
      json: machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...(await exportJWK(clientKeys.publicKey)), kid: 'key-client' }] } }),
    }),
    201,
  );
  keep('registration access token of the key client (lost)', keyClient.registration_access_token);
  const keyClientId = keyClient.client_id as string;
  const recoveryAssertion = keep(
    'registration access token recovery assertion',
    await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'key-client' }).setIssuer(keyClientId).setSubject(keyClientId).setAudience(svc.url).setJti(randomUUID()).setExpirationTime('1m').sign(clientKeys.privateKey),
  );
  const recovered = await expectStatus(
    call(`/oauth2/register/${encodeURIComponent(keyClientId)}/registration-access-token`, {
      form: { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: recoveryAssertion },
    }),
    200,
  );
  keep('recovered registration access token', recovered.registration_access_token);

  // client_secret_jwt: the secret is kept encrypted (an HMAC needs it), never in clear; the assertion is a credential too.
  const hmacClient = await expectStatus(call('/admin/clients', { authorization: admin, json: machineClient({ token_endpoint_auth_method: 'client_secret_jwt' }) }), 201);
  const hmacId = hmacClient.client_id as string;
  const hmacSecret = keep('client_secret_jwt client secret', hmacClient.client_secret);
  const signAssertion = (secret: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(hmacId)
      .setSubject(hmacId)
      .setAudience(`${svc.url}/oauth2/token`)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(secret));
  const assertionForm = async (secret: string, what: string) => ({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: keep(what, await signAssertion(secret)),
  });
  keep('opaque access token of the client_secret_jwt client', (await expectStatus(call('/oauth2/token', { form: await assertionForm(hmacSecret, 'client_secret_jwt assertion') }), 200)).access_token);
  const hmacRotated = await expectStatus(call(`/admin/clients/${encodeURIComponent(hmacId)}/secrets/rotate`, { method: 'POST', authorization: admin }), 200);
  const hmacSecret2 = keep('client_secret_jwt client secret after rotation', hmacRotated.client_secret);
  await expectStatus(call('/oauth2/token', { form: await assertionForm(hmacSecret, 'client_secret_jwt assertion with the previous secret') }), 200);
  await expectStatus(call('/oauth2/token', { form: await assertionForm(hmacSecret2, 'client_secret_jwt assertion with the new secret') }), 200);

  // Token exchange (RFC 8693): the subject token and the exchanged one are credentials; the exchanged one is stored hashed like any opaque token.
  const exchanger = await expectStatus(
    call('/admin/clients', {
      authorization: admin,
      json: machineClient({ grant_types: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'], audience: ['https://downstream.example.com'], scope: 'read' }),
    }),
    201,
  );
  const exchangerAuth = basicAuth(exchanger.client_id as string, keep('token exchange client secret', exchanger.client_secret));
  const subjectToken = keep(
    'token exchange subject token',
    (await expectStatus(call('/oauth2/token', { authorization: exchangerAuth, form: { grant_type: 'client_credentials', scope: 'read' } }), 200)).access_token,
  );
  const exchanged = await expectStatus(
    call('/oauth2/token', {
      authorization: exchangerAuth,
      form: {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subjectToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        resource: 'https://downstream.example.com',
      },
    }),
    200,
  );
  keep('exchanged access token', exchanged.access_token);

  // The JWT bearer grant (RFC 7523 §2.1): the assertion is a credential; the trusted key is public and may be stored.
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const trustedIssuer = 'https://workload-idp.example.com';
  await expectStatus(
    call('/admin/trust/grants/jwt-bearer/issuers', {
      authorization: admin,
      json: { issuer: trustedIssuer, subject: 'workload-7', scope: ['read'], jwk: { ...(await exportJWK(publicKey)), kid: 'workload-key' }, expires_at: new Date(Date.now() + 3_600_000).toISOString() },
    }),
    201,
  );
  const bearerClient = await expectStatus(
    call('/admin/clients', { authorization: admin, json: machineClient({ grant_types: ['urn:ietf:params:oauth:grant-type:jwt-bearer'], scope: 'read' }) }),
    201,
  );
  const grantAssertion = keep(
    'JWT bearer grant assertion',
    await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'workload-key' })
      .setIssuer(trustedIssuer)
      .setSubject('workload-7')
      .setAudience(`${svc.url}/oauth2/token`)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey),
  );
  const bearerGranted = await expectStatus(
    call('/oauth2/token', {
      authorization: basicAuth(bearerClient.client_id as string, keep('JWT bearer grant client secret', bearerClient.client_secret)),
      form: { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: grantAssertion, scope: 'read' },
    }),
    200,
  );
  keep('JWT bearer grant access token', bearerGranted.access_token);

  // Registration with an access token (README "Registering with an access token"): the portal's token is
  // presented to the registration endpoint; the client it registers gets a secret and a registration access token.
  const portal = await expectStatus(
    call('/admin/clients', { authorization: admin, json: machineClient({ scope: 'dcr read', access_token_strategy: 'opaque' }) }),
    201,
  );
  const portalAuth = basicAuth(portal.client_id as string, keep('portal client secret', portal.client_secret));
  const portalToken = keep(
    'registration-scoped access token',
    (await expectStatus(call('/oauth2/token', { authorization: portalAuth, form: { grant_type: 'client_credentials', scope: 'dcr' } }), 200)).access_token,
  );
  const byToken = await expectStatus(call('/oauth2/register', { authorization: bearer(portalToken), json: machineClient() }), 201);
  keep('secret of the client registered with an access token', byToken.client_secret);
  keep('registration access token of the client registered with an access token', byToken.registration_access_token);
  const unscoped = keep(
    'access token without the registration scope',
    (await expectStatus(call('/oauth2/token', { authorization: portalAuth, form: { grant_type: 'client_credentials', scope: 'read' } }), 200)).access_token,
  );
  await expectStatus(call('/oauth2/register', { authorization: bearer(unscoped), json: machineClient() }), 401);

  // Signing key rotation, then a JWT signed with the new key.
  await expectStatus(call('/admin/keys/rotate', { method: 'POST', authorization: admin }), 201);
  const jwt2 = await issueJwt(jwtClient.client_id as string, jwtSecret, 'second JWT access token (after key rotation)');
  expect(await introspect(jwt2, admin, {}, '/admin/oauth2/introspect')).toBe(true);

  // Revocation (RFC 7009) of both formats.
  await expectStatus(call('/oauth2/revoke', { form: { token: opaque1, client_id: opaqueClient.client_id as string, client_secret: opaqueSecret } }), 200);
  await expectStatus(call('/oauth2/revoke', { authorization: basicAuth(jwtClient.client_id as string, jwtSecret), form: { token: jwt1 } }), 200);
  expect(await introspect(opaque1, admin, {}, '/admin/oauth2/introspect')).toBe(false);
  expect(await introspect(jwt1, admin, {}, '/admin/oauth2/introspect')).toBe(false);

  // Wrong credentials of every kind: refused, and their values must not be logged either.
  await expectStatus(call('/oauth2/token', { authorization: basicAuth(jwtClient.client_id as string, `${jwtSecret}-wrong`), form: { grant_type: 'client_credentials' } }), 401);
  await expectStatus(call('/admin/clients', { authorization: `Bearer ${ADMIN_KEY}-wrong` }), 401);
  await expectStatus(call('/oauth2/register', { authorization: bearer(`${iat}-wrong`), json: machineClient() }), 401);
  await expectStatus(call(path, { authorization: bearer(`${rat2}-wrong`) }), 401);

  // Deletion of the DCR client through RFC 7592: its tokens die with it (their rows go; the other clients' stay for the dump).
  await expectStatus(call(path, { method: 'DELETE', authorization: bearer(rat2) }), 204);
  expect(await introspect(opaque2, admin, {}, '/admin/oauth2/introspect')).toBe(false);
  await expectStatus(call(`/admin/clients/${encodeURIComponent(dcrId)}`, { authorization: admin }), 404);
}

/** Every row of every table in the public schema, one JSON text per row (bytea as text). */
async function dumpDatabase(): Promise<Map<string, string[]>> {
  const { rows: tables } = await query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`, [], db!.dsn);
  const dump = new Map<string, string[]>();
  for (const { table_name: table } of tables as Array<{ table_name: string }>) {
    const { rows } = await query(`SELECT * FROM "${table.replace(/"/g, '""')}"`, [], db!.dsn);
    dump.set(
      table,
      rows.map((row: Record<string, unknown>) =>
        JSON.stringify(row, (_key, value: unknown) =>
          value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)
            ? Buffer.from((value as { data: number[] }).data).toString('latin1')
            : value,
        ),
      ),
    );
  }
  return dump;
}

/** The value itself, and the same bytes in base64 and base64url: a secret stored merely re-encoded is still in clear. */
function forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  return [value, bytes.toString('base64'), bytes.toString('base64url')];
}

function leaks(haystack: string): string[] {
  return [...secrets].filter(([, value]) => forms(value).some((f) => haystack.includes(f))).map(([what]) => what);
}

beforeAll(async () => {
  db = await createDatabase('registrar_secrets');
  svc = await startApp({
    env: {
      DSN: db.dsn,
      OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '0',
      SECRETS_SYSTEM: SYSTEM_SECRET,
      OIDC_DYNAMIC_CLIENT_REGISTRATION_ACCESS_TOKEN_SCOPE: 'dcr',
      AUDIT_WEBHOOKS: JSON.stringify([{ url: `https://audit-receiver.invalid/hook?token=${WEBHOOK_URL_TOKEN}`, secret: WEBHOOK_SECRET }]),
    },
  });
  await lifecycle();
}, 60_000);

afterAll(async () => {
  await svc?.close();
  if (db) await dropDatabase(db.name);
});

describe('secrets at rest and in the logs, after a full lifecycle', () => {
  it('saw every kind of secret on the wire: IAT, client secrets, registration access tokens, opaque tokens (a registration-scoped one among them), JWT signatures, the admin key, and the code flow\'s challenges, verifiers, cookies, code and refresh tokens', () => {
    const cookies = [...secrets.keys()].filter((k) => k.startsWith('flow cookie registrar_csrf_'));
    expect(cookies).toHaveLength(1);
    expect([...secrets.keys()].filter((k) => !cookies.includes(k)).sort()).toEqual(
      [
        'DCR client secret',
        'JWT admin client secret',
        'admin API key',
        'first JWT access token signature',
        'first registration access token',
        'initial access token',
        'opaque access token of the DCR client',
        'opaque access token of the admin client',
        'opaque access token of the chosen-secret client',
        'opaque admin client secret',
        'operator-chosen client secret',
        'second JWT access token (after key rotation) signature',
        'second registration access token',
        'system secret',
        'audit webhook secret',
        'audit webhook URL token',
        'code-flow client secret',
        'JWT admin client secret after rotation',
        'JWT access token after secret rotation signature',
        'registration access token of the opaque admin client',
        'opaque admin client secret after self-rotation',
        're-registration initial access token',
        're-registered client secret (first)',
        're-registered client registration access token (first)',
        're-registered client secret (again)',
        're-registered client registration access token (again)',
        'initial access token of the key client',
        'registration access token of the key client (lost)',
        'registration access token recovery assertion',
        'recovered registration access token',
        'client_secret_jwt client secret',
        'client_secret_jwt assertion',
        'opaque access token of the client_secret_jwt client',
        'client_secret_jwt client secret after rotation',
        'client_secret_jwt assertion with the previous secret',
        'client_secret_jwt assertion with the new secret',
        'token exchange client secret',
        'token exchange subject token',
        'exchanged access token',
        'JWT bearer grant assertion',
        'JWT bearer grant client secret',
        'JWT bearer grant access token',
        'portal client secret',
        'registration-scoped access token',
        'secret of the client registered with an access token',
        'registration access token of the client registered with an access token',
        'access token without the registration scope',
        'login challenge',
        'login verifier',
        'login session cookie',
        'consent challenge',
        'consent verifier',
        'authorization code',
        'code-flow access token',
        'ID token signature',
        'first refresh token',
        'second refresh token',
        'refreshed access token',
      ].sort(),
    );
    // The two JWTs were signed by different keys (the second after rotation).
    const kids = jwts.map((jwt) => (JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()) as { kid: string }).kid);
    expect(new Set(kids).size).toBe(2);
  });

  it('stores none of them in clear in any column of any table (they are kept only as hashes or not at all)', async () => {
    const dump = await dumpDatabase();
    // The dump is the real thing: the lifecycle's rows are there.
    expect([...dump.keys()]).toEqual(expect.arrayContaining(['clients', 'initial_access_tokens', 'access_tokens', 'signing_keys', 'revoked_jwts']));
    expect(dump.get('clients')!.length).toBeGreaterThanOrEqual(2);
    expect(dump.get('access_tokens')!.length).toBeGreaterThanOrEqual(2);
    expect(dump.get('signing_keys')!.length).toBeGreaterThanOrEqual(2);
    const found: string[] = [];
    for (const [table, rows] of dump) {
      rows.forEach((row, i) => {
        for (const what of leaks(row)) found.push(`${what} in ${table} row ${i}: ${row.slice(0, 300)}`);
      });
    }
    expect(found).toEqual([]);
    const all = [...dump.values()].flat().join('\n');
    for (const jwt of jwts) expect(all).not.toContain(jwt);
  });

  it('records the lifecycle as audit events and queues them for the webhook, with no secret and no hash of one', async () => {
    const dump = await dumpDatabase();
    const events = dump.get('audit_events')!;
    const outbox = dump.get('audit_outbox')!;
    // The lifecycle made events (registration, RFC 7592 steps, admin changes, revocations) and one delivery each.
    expect(events.length).toBeGreaterThanOrEqual(20);
    expect(outbox.length).toBe(events.length);
    const types = events.map((row) => (JSON.parse(row) as { type: string }).type);
    expect(types).toEqual(expect.arrayContaining(['client.registered', 'client.read', 'client.updated', 'client.rat_rotated', 'client.deleted', 'token.revoked', 'admin.key.rotated']));
    const auditLines = svc.logs.filter((line) => (JSON.parse(line) as { msg?: string }).msg === 'audit');
    expect(auditLines).toHaveLength(events.length);
    // SHA-256 (hex, base64, base64url) and the keyed hash under the system secret, as tokens are stored elsewhere.
    const hashes = (value: string): string[] => {
      const sha = createHash('sha256').update(value).digest();
      return [sha.toString('hex'), sha.toString('base64'), sha.toString('base64url'), createHmac('sha256', SYSTEM_SECRET).update(value).digest('base64url')];
    };
    const found: string[] = [];
    for (const [where, rows] of [['audit_events', events], ['audit_outbox', outbox], ['audit log', auditLines]] as const) {
      rows.forEach((row, i) => {
        for (const what of leaks(row)) found.push(`${what} in ${where} ${i}`);
        for (const [what, value] of secrets) if (hashes(value).some((h) => row.includes(h))) found.push(`a hash of ${what} in ${where} ${i}`);
        for (const jwt of jwts) if (row.includes(signatureOf(jwt))) found.push(`a JWT signature in ${where} ${i}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('keeps rotated secrets only as hashes and a client_secret_jwt secret only encrypted (the rows are there to search)', async () => {
    const { rows } = await query(
      `SELECT id, secret_hash, secret_encrypted, rotated_secrets, fields->>'token_endpoint_auth_method' AS method FROM clients WHERE jsonb_array_length(rotated_secrets) > 0`,
      [],
      db!.dsn,
    );
    // The operator's two rotations, the client's own one and a re-registration each left the previous secret behind.
    expect(rows).toHaveLength(4);
    for (const row of rows as Array<{ secret_hash: string; secret_encrypted: string | null; rotated_secrets: Array<Record<string, string>>; method: string }>) {
      expect(row.secret_hash).toMatch(/^sha256\$/);
      for (const rotated of row.rotated_secrets) {
        expect(Object.keys(rotated).sort()).toEqual(row.method === 'client_secret_jwt' ? ['created_at', 'encrypted', 'expires_at', 'hash'] : ['created_at', 'expires_at', 'hash']);
        expect(rotated.hash).toMatch(/^(sha256|scrypt)\$/);
      }
      // Only the client_secret_jwt client keeps its secret encrypted, and it decrypts to nothing readable without the system secret.
      if (row.method === 'client_secret_jwt') {
        expect(row.secret_encrypted).toEqual(expect.any(String));
        expect(row.secret_encrypted!.length).toBeGreaterThan(43);
      } else {
        expect(row.secret_encrypted).toBeNull();
      }
    }
  });

  it('encrypts the private signing keys: private_jwk_encrypted is not JSON, carries no "d", and the public JWK has no private member', async () => {
    const { rows } = await query(`SELECT kid, public_jwk, private_jwk_encrypted FROM signing_keys`, [], db!.dsn);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const row of rows as Array<{ kid: string; public_jwk: Record<string, unknown>; private_jwk_encrypted: string }>) {
      expect(() => JSON.parse(row.private_jwk_encrypted)).toThrow();
      expect(row.private_jwk_encrypted).not.toContain('"d"');
      // Not JSON merely re-encoded in base64 either.
      for (const encoding of ['base64url', 'base64'] as const) {
        expect(Buffer.from(row.private_jwk_encrypted, encoding).toString('latin1')).not.toContain('"d"');
      }
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(row.public_jwk).not.toHaveProperty(member);
    }
  });

  it('publishes only public key members at /.well-known/jwks.json and /admin/keys', async () => {
    const jwks = await expectStatus(call('/.well-known/jwks.json'), 200);
    const keys = jwks.keys as Array<Record<string, unknown>>;
    expect(keys.length).toBeGreaterThanOrEqual(2);
    const listed = (await (await fetch(`${svc.url}/admin/keys`, { headers: { Authorization: admin } })).json()) as Array<{ public_jwk: Record<string, unknown> }>;
    expect(listed.length).toBeGreaterThanOrEqual(2);
    for (const key of [...keys, ...listed.map((k) => k.public_jwk)]) {
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(member);
    }
  });

  it('logs none of the secrets, tokens or keys', () => {
    // The log is the real thing: one line per request, the token endpoint among them.
    expect(svc.logs.length).toBeGreaterThan(20);
    expect(svc.logs.some((line) => line.includes('/oauth2/token'))).toBe(true);
    const found = svc.logs.flatMap((line, i) => leaks(line).map((what) => `${what} in log line ${i}: ${line.slice(0, 300)}`));
    expect(found).toEqual([]);
    for (const jwt of jwts) expect(svc.logs.join('\n')).not.toContain(jwt);
  });

  it('logs no Authorization header value, and no line contains "Bearer " or "Basic "', () => {
    expect(authorizations.size).toBeGreaterThanOrEqual(10);
    const logged = svc.logs.join('\n');
    for (const value of authorizations) {
      expect(logged).not.toContain(value);
      // The credential part alone (after the scheme) is not logged either.
      expect(logged).not.toContain(value.replace(/^\S+ /, ''));
    }
    const offending = svc.logs.filter((line) => line.includes('Bearer ') || line.includes('Basic '));
    expect(offending).toEqual([]);
  });
});
