// Idempotent registration over real HTTP (README "Re-registration and
// recovering a registration access token"): under a policy with a
// reregistration rule, registering again with the same key returns the same
// client with a new secret and registration access token instead of a duplicate.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, mintIatRecord, register, type MintedIat } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { tokenRequest } from '../support/oauth-flow.js';
import { basicAuth } from '../support/net.js';
import { query } from '../support/postgres.js';

type Json = Record<string, unknown>;

const ISSUER = 'https://vendor.example.com';
let svc: RunningApp;
let vendorKey: CryptoKey;
let vendorJwk: JWK;
const run = randomUUID().slice(0, 8);
const policy = {
  statement: `rereg-statement-${run}`,
  instance: `rereg-instance-${run}`,
  quota: `rereg-quota-${run}`,
  grants: `rereg-grants-${run}`,
  plain: `plain-${run}`,
};

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  vendorKey = pair.privateKey;
  vendorJwk = { ...(await exportJWK(pair.publicKey)), kid: 'vendor', alg: 'ES256' };
  svc = await startApp({
    env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_SOFTWARE_STATEMENT_TRUSTED_ISSUERS: JSON.stringify([{ issuer: ISSUER, jwks: { keys: [vendorJwk] } }]) },
  });
  await createPolicy(policy.statement, { reregistration: { key: 'software_statement' } });
  await createPolicy(policy.instance, { reregistration: { key: 'software_id_and_instance' } });
  await createPolicy(policy.quota, { reregistration: { key: 'software_id_and_instance' }, max_clients: 2 });
  await createPolicy(policy.grants, { reregistration: { key: 'software_id_and_instance' }, allowed_grant_types: ['client_credentials'] });
  await createPolicy(policy.plain, {});
});
afterAll(async () => {
  await svc?.close();
});

// --- helpers ---------------------------------------------------------------

async function createPolicy(name: string, rules: Json): Promise<void> {
  const res = await svc.admin('/admin/policies', { method: 'POST', json: { name, rules } });
  if (res.status !== 201) throw new Error(`creating policy ${name} failed: ${res.status} ${await res.text()}`);
}

function iat(policies: string[], maxUses = 10): Promise<MintedIat> {
  return mintIatRecord(svc, { policies, max_uses: maxUses });
}

async function statement(claims: Json, key: CryptoKey = vendorKey): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'vendor' }).setIssuer(ISSUER).setIssuedAt().setJti(randomUUID()).sign(key);
}

async function registered(body: Json, token: string): Promise<Json> {
  const res = await register(svc, body, token);
  const text = await res.text();
  expect({ status: res.status, body: text }).toEqual({ status: 201, body: expect.stringContaining('"client_id"') });
  return JSON.parse(text) as Json;
}

async function tokenStatus(clientId: string, secret: string): Promise<number> {
  return (await tokenRequest(svc, { grant_type: 'client_credentials' }, { id: clientId, secret })).status;
}

async function clientsOf(iatId: string): Promise<string[]> {
  const { rows } = await query(`SELECT id FROM clients WHERE initial_access_token_id = $1 ORDER BY created_at`, [iatId]);
  return rows.map((r: { id: string }) => r.id);
}

async function iatUses(iatId: string): Promise<number> {
  return ((await (await svc.admin(`/admin/initial-access-tokens/${iatId}`)).json()) as { uses: number }).uses;
}

async function readStatus(clientId: string, rat: string): Promise<number> {
  const res = await manage(svc, 'GET', clientId, rat);
  await res.text();
  return res.status;
}

// --- by software statement -------------------------------------------------

describe('re-registration by software statement', () => {
  it('returns the same client with a new secret and registration access token; the old token stops working; no second row', async () => {
    const token = await iat([policy.statement]);
    const softwareId = `billing-agent-${randomUUID()}`;
    const first = await registered(machineClient({ software_statement: await statement({ software_id: softwareId, client_name: 'Billing agent' }) }), token.token);

    // The vendor re-issued its statement (a new iat and jti); the software is the same.
    const again = await registered(
      machineClient({ software_statement: await statement({ software_id: softwareId, client_name: 'Billing agent' }), scope: 'read' }),
      token.token,
    );
    expect(again.client_id).toBe(first.client_id);
    expect(again.client_id_issued_at).toBe(first.client_id_issued_at);
    expect(again.registration_access_token).toEqual(expect.any(String));
    expect(again.registration_access_token).not.toBe(first.registration_access_token);
    expect(again.client_secret).toEqual(expect.any(String));
    expect(again.client_secret).not.toBe(first.client_secret);
    expect(again.scope).toBe('read');
    expect(again.software_id).toBe(softwareId);

    const clientId = first.client_id as string;
    expect(await readStatus(clientId, first.registration_access_token as string)).toBe(401);
    expect(await readStatus(clientId, again.registration_access_token as string)).toBe(200);
    expect(await clientsOf(token.id)).toEqual([clientId]);
    expect(await iatUses(token.id)).toBe(1);
    // The new secret works, and the previous one for the rotation overlap (README "Rotating client secrets").
    expect(await tokenStatus(clientId, again.client_secret as string)).toBe(200);
    expect(await tokenStatus(clientId, first.client_secret as string)).toBe(200);
  });

  it('gives software with another software_id a client of its own', async () => {
    const token = await iat([policy.statement]);
    const a = await registered(machineClient({ software_statement: await statement({ software_id: `a-${run}` }) }), token.token);
    const b = await registered(machineClient({ software_statement: await statement({ software_id: `b-${run}` }) }), token.token);
    expect(b.client_id).not.toBe(a.client_id);
    expect((await clientsOf(token.id)).sort()).toEqual([a.client_id, b.client_id].sort());
  });

  it('matches on the statement, not on a software_id in the body', async () => {
    const token = await iat([policy.statement]);
    const a = await registered(machineClient({ software_statement: await statement({ software_id: `s-${run}` }) }), token.token);
    // A body software_id is overridden by the statement's claim (RFC 7591 §2.3), so this is the same software.
    const b = await registered(machineClient({ software_id: 'something-else', software_statement: await statement({ software_id: `s-${run}` }) }), token.token);
    expect(b.client_id).toBe(a.client_id);
    expect(b.software_id).toBe(`s-${run}`);
  });

  it('refuses a registration without a statement, or with a statement that names no software_id', async () => {
    const token = await iat([policy.statement]);
    await expectOAuthError(await register(svc, machineClient({ software_id: 'x' }), token.token), 400, 'invalid_client_metadata', policy.statement, 'reregistration', 'software_statement is required');
    await expectOAuthError(
      await register(svc, machineClient({ software_statement: await statement({ client_name: 'no id' }) }), token.token),
      400,
      'invalid_software_statement',
      'must carry software_id',
    );
    expect(await clientsOf(token.id)).toEqual([]);
    expect(await iatUses(token.id)).toBe(0);
  });
});

// --- by software_id and instance -------------------------------------------

describe('re-registration by software_id and software_instance_id', () => {
  it('returns the same client for the same instance and a new client for another instance', async () => {
    const token = await iat([policy.instance]);
    const body = (instance: string, extra: Json = {}) => machineClient({ software_id: `agent-${run}`, software_instance_id: instance, ...extra });
    const one = await registered(body('pod-1'), token.token);
    expect(one.software_instance_id).toBe('pod-1');
    const oneAgain = await registered(body('pod-1', { client_name: 'renamed' }), token.token);
    const two = await registered(body('pod-2'), token.token);

    expect(oneAgain.client_id).toBe(one.client_id);
    expect(oneAgain.client_name).toBe('renamed');
    expect(two.client_id).not.toBe(one.client_id);
    expect(await readStatus(one.client_id as string, one.registration_access_token as string)).toBe(401);
    expect(await readStatus(one.client_id as string, oneAgain.registration_access_token as string)).toBe(200);
    expect((await clientsOf(token.id)).sort()).toEqual([one.client_id, two.client_id].sort());
    expect(await iatUses(token.id)).toBe(2);
  });

  it('never matches a client registered with another initial access token', async () => {
    const [first, second] = [await iat([policy.instance]), await iat([policy.instance])];
    const body = machineClient({ software_id: `scoped-${run}`, software_instance_id: 'pod-1' });
    const a = await registered(body, first.token);
    const b = await registered(body, second.token);
    expect(b.client_id).not.toBe(a.client_id);
    expect(await readStatus(a.client_id as string, a.registration_access_token as string)).toBe(200);
  });

  it('refuses a registration without software_id or software_instance_id, or with a malformed one, naming the field', async () => {
    const token = await iat([policy.instance]);
    await expectOAuthError(await register(svc, machineClient({ software_instance_id: 'pod-1' }), token.token), 400, 'invalid_client_metadata', 'software_id is required');
    await expectOAuthError(await register(svc, machineClient({ software_id: 'a' }), token.token), 400, 'invalid_client_metadata', 'software_instance_id is required');
    await expectOAuthError(await register(svc, machineClient({ software_id: 'a', software_instance_id: '' }), token.token), 400, 'invalid_client_metadata', 'software_instance_id is required');
    await expectOAuthError(await register(svc, machineClient({ software_id: 'a', software_instance_id: 42 }), token.token), 400, 'invalid_client_metadata', 'software_instance_id must be a string');
    await expectOAuthError(await register(svc, machineClient({ software_id: 'a', software_instance_id: ['pod'] }), token.token), 400, 'invalid_client_metadata', 'software_instance_id must be a string');
    await expectOAuthError(await register(svc, machineClient({ software_id: 'a', software_instance_id: 'x'.repeat(256) }), token.token), 400, 'invalid_client_metadata', 'software_instance_id must be at most 255 characters');
    expect(await clientsOf(token.id)).toEqual([]);
  });

  it('applies the metadata like an RFC 7592 update, under the same policies: a refused re-registration changes nothing', async () => {
    const token = await iat([policy.grants]);
    const body = machineClient({ software_id: `grants-${run}`, software_instance_id: 'pod-1' });
    const first = await registered(body, token.token);
    // An operator field stays the operator's.
    const patched = await svc.admin(`/admin/clients/${first.client_id as string}`, {
      method: 'PATCH',
      json: [{ op: 'add', path: '/owner', value: 'team-billing' }],
    });
    expect(patched.status).toBe(200);

    await expectOAuthError(
      await register(svc, { ...body, grant_types: ['authorization_code'], redirect_uris: ['https://app.example.com/cb'] }, token.token),
      400,
      'invalid_client_metadata',
      `policy "${policy.grants}" rule allowed_grant_types`,
    );
    expect(await readStatus(first.client_id as string, first.registration_access_token as string)).toBe(200);
    expect(await tokenStatus(first.client_id as string, first.client_secret as string)).toBe(200);

    const again = await registered({ ...body, client_name: 'v2' }, token.token);
    expect(again.client_id).toBe(first.client_id);
    const view = (await (await svc.admin(`/admin/clients/${first.client_id as string}`)).json()) as Json;
    expect(view).toMatchObject({ client_name: 'v2', owner: 'team-billing', created_via: 'dcr' });
    expect(again).not.toHaveProperty('owner');
  });

  it('a client that stops using a secret loses it; a public client re-registers without one', async () => {
    const token = await iat([policy.instance]);
    const body = machineClient({ software_id: `public-${run}`, software_instance_id: 'cli' });
    const first = await registered(body, token.token);
    const again = await registered({ ...body, token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: ['http://127.0.0.1/cb'], application_type: 'native' }, token.token);
    expect(again.client_id).toBe(first.client_id);
    expect(again).not.toHaveProperty('client_secret');
    expect(await tokenStatus(first.client_id as string, first.client_secret as string)).toBe(401);
  });
});

// --- without the rule, concurrency, quotas ---------------------------------

describe('registration without a reregistration rule', () => {
  it('creates a new client every time, as before', async () => {
    const token = await iat([policy.plain]);
    const body = machineClient({ software_id: `plain-${run}`, software_instance_id: 'pod-1' });
    const a = await registered(body, token.token);
    const b = await registered(body, token.token);
    expect(b.client_id).not.toBe(a.client_id);
    expect((await clientsOf(token.id)).length).toBe(2);
    expect(await iatUses(token.id)).toBe(2);
  });

  it('refuses a used-up initial access token with 401, as before', async () => {
    const token = await iat([policy.plain], 1);
    await registered(machineClient(), token.token);
    const res = await register(svc, machineClient(), token.token);
    await expectOAuthError(res, 401, 'invalid_token');
  });
});

describe('concurrent re-registrations', () => {
  it('eight at once with one key leave one client, one IAT use, and exactly one working registration access token', async () => {
    const token = await iat([policy.instance]);
    const body = machineClient({ software_id: `race-${run}`, software_instance_id: 'pod-1' });
    const responses = await Promise.all(Array.from({ length: 8 }, () => register(svc, body, token.token)));
    const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, body: (await r.json()) as Json })));
    expect(bodies.map((b) => b.status)).toEqual(Array(8).fill(201));
    const ids = new Set(bodies.map((b) => b.body.client_id));
    expect(ids.size).toBe(1);
    const [clientId] = [...ids] as string[];
    expect(await clientsOf(token.id)).toEqual([clientId]);
    expect(await iatUses(token.id)).toBe(1);
    const statuses = await Promise.all(bodies.map((b) => readStatus(clientId, b.body.registration_access_token as string)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(7);
  });
});

describe('quotas', () => {
  it('a re-registration takes no slot of max_clients and no use of the initial access token', async () => {
    const token = await iat([policy.quota], 2);
    const body = (instance: string) => machineClient({ software_id: `quota-${run}`, software_instance_id: instance });
    const one = await registered(body('1'), token.token);
    for (let i = 0; i < 3; i += 1) expect((await registered(body('1'), token.token)).client_id).toBe(one.client_id);
    const two = await registered(body('2'), token.token);
    expect(two.client_id).not.toBe(one.client_id);
    const policyView = (await (await svc.admin(`/admin/policies/${policy.quota}`)).json()) as Json;
    expect(policyView.clients_created).toBe(2);
    expect(await iatUses(token.id)).toBe(2);

    // The token is used up: it creates nothing more, yet re-registers what it created.
    await expectOAuthError(await register(svc, body('3'), token.token), 401, 'invalid_token');
    expect((await registered(body('2'), token.token)).client_id).toBe(two.client_id);

    // max_clients stops a third client under another token too; its re-registrations still work.
    const other = await iat([policy.quota], 5);
    await expectOAuthError(await register(svc, body('1'), other.token), 400, 'invalid_client_metadata', `policy "${policy.quota}" rule max_clients`);
    expect(await clientsOf(other.id)).toEqual([]);
    expect(await iatUses(other.id)).toBe(0);
  });

  it('a suspended client is not re-registered: no new token or secret until an administrator resumes it', async () => {
    const token = await iat([policy.instance]);
    const body = machineClient({ software_id: `suspended-${run}`, software_instance_id: 'pod-1' });
    const first = await registered(body, token.token);
    const id = first.client_id as string;
    expect((await svc.admin(`/admin/clients/${encodeURIComponent(id)}/suspend`, { method: 'POST', json: { reason: 'under review' } })).status).toBe(200);
    await expectOAuthError(await register(svc, body, token.token), 403, 'access_denied', 'suspended');
    // Its registration access token still reads it (README "Operating a fleet of dynamic clients").
    expect(await readStatus(id, first.registration_access_token as string)).toBe(200);
    expect((await svc.admin(`/admin/clients/${encodeURIComponent(id)}/resume`, { method: 'POST' })).status).toBe(200);
    const again = await registered(body, token.token);
    expect(again.client_id).toBe(id);
  });

  it('a deleted client is registered anew', async () => {
    const token = await iat([policy.instance]);
    const body = machineClient({ software_id: `deleted-${run}`, software_instance_id: 'pod-1' });
    const first = await registered(body, token.token);
    expect((await manage(svc, 'DELETE', first.client_id as string, first.registration_access_token as string)).status).toBe(204);
    const again = await registered(body, token.token);
    expect(again.client_id).not.toBe(first.client_id);
  });
});

// --- real client libraries ---------------------------------------------------

describe('client libraries that register on every start', () => {
  it('oauth4webapi gets 201 and the same client both times', async () => {
    const token = await iat([policy.instance]);
    const issuer = new URL(svc.url);
    const insecure = { [oauth.allowInsecureRequests]: true };
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
    const metadata = { grant_types: ['client_credentials'], scope: 'read', software_id: `o4w-${run}`, software_instance_id: 'host-a' };
    const start = async () =>
      oauth.processDynamicClientRegistrationResponse(await oauth.dynamicClientRegistrationRequest(as, metadata, { ...insecure, initialAccessToken: token.token }));
    const first = await start();
    const second = await start();
    expect(second.client_id).toBe(first.client_id);
    expect(second.client_secret).not.toBe(first.client_secret);
    const client: oauth.Client = { client_id: second.client_id };
    const tokens = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(second.client_secret as string), { scope: 'read' }, insecure),
    );
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  it('openid-client dynamicClientRegistration gets the same client both times', async () => {
    const token = await iat([policy.instance]);
    const metadata = {
      redirect_uris: ['http://127.0.0.1:8765/cb'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      software_id: `oidc-${run}`,
      software_instance_id: 'host-a',
    };
    const start = () => oidc.dynamicClientRegistration(new URL(svc.url), metadata, undefined, { initialAccessToken: token.token, execute: [oidc.allowInsecureRequests] });
    const first = (await start()).clientMetadata();
    const second = (await start()).clientMetadata();
    expect(second.client_id).toBe(first.client_id);
    expect(second.registration_access_token).not.toBe(first.registration_access_token);
    expect(await clientsOf(token.id)).toEqual([first.client_id]);
  });
});

// --- the rule, as an operator saves it ---------------------------------------

describe('the reregistration rule', () => {
  it.each([
    ['a string', 'software_statement', 'must be an object'],
    ['an unknown key', { key: 'statement_hash' }, 'key must be one of software_statement, software_id_and_instance'],
    ['no key', {}, 'key must be one of'],
    ['an unknown member', { key: 'software_statement', match: 'all' }, 'unknown member match'],
    ['software_id as the instance', { key: 'software_id_and_instance', instance_field: 'software_id' }, 'instance_field must name'],
    ['a list field as the instance', { key: 'software_id_and_instance', instance_field: 'redirect_uris' }, 'instance_field must name'],
    ['an operator field as the instance', { key: 'software_id_and_instance', instance_field: 'owner' }, 'instance_field must name'],
    ['a number as the instance', { key: 'software_id_and_instance', instance_field: 7 }, 'instance_field must name'],
  ])('refuses %s, naming the rule', async (_what, rule, message) => {
    const res = await svc.admin('/admin/policies', { method: 'POST', json: { name: `bad-${randomUUID()}`, rules: { reregistration: rule } } });
    await expectOAuthError(res, 400, 'invalid_request', 'rule reregistration', message);
  });

  it('is stored with its default instance field and shown as stored', async () => {
    const name = `shown-${run}`;
    await createPolicy(name, { reregistration: { key: 'software_id_and_instance' } });
    const view = (await (await svc.admin(`/admin/policies/${name}`)).json()) as Json;
    expect(view.rules).toEqual({ reregistration: { key: 'software_id_and_instance', instance_field: 'software_instance_id' } });
  });

  it('may read the instance from another field a registrant sets', async () => {
    const name = `version-${run}`;
    await createPolicy(name, { reregistration: { key: 'software_id_and_instance', instance_field: 'software_version' } });
    const token = await iat([name]);
    const a = await registered(machineClient({ software_id: `v-${run}`, software_version: '1' }), token.token);
    const b = await registered(machineClient({ software_id: `v-${run}`, software_version: '1' }), token.token);
    const c = await registered(machineClient({ software_id: `v-${run}`, software_version: '2' }), token.token);
    expect(b.client_id).toBe(a.client_id);
    expect(c.client_id).not.toBe(a.client_id);
  });
});
