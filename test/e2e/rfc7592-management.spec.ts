// RFC 7592 client configuration endpoint, over real HTTP against the
// real app on the run's PostgreSQL database.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, mintIat, register, registerClient } from '../support/dcr.js';
import { query } from '../support/postgres.js';
import { expectOAuthError as expectError } from '../support/expect.js';

type Json = Record<string, unknown>;

/** Clients registered through DCR on the main instance get this stored strategy (README, Access tokens and the strategy). */
const DCR_STRATEGY = 'jwt';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: DCR_STRATEGY } });
});
afterAll(async () => {
  await svc?.close();
});

interface Registered {
  id: string;
  rat: string;
  secret: string | undefined;
  response: Json;
}

async function registered(on: RunningApp, overrides: Json = {}): Promise<Registered> {
  const response = await registerClient(on, machineClient(overrides));
  return {
    id: response.client_id as string,
    rat: response.registration_access_token as string,
    secret: response.client_secret as string | undefined,
    response,
  };
}

async function body(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

/** A PUT body that replaces the client's metadata with a machine client's. */
function replacement(id: string, overrides: Json = {}): Json {
  return { client_id: id, ...machineClient(overrides) };
}

async function adminRead(id: string): Promise<Response> {
  return svc.admin(`/admin/clients/${encodeURIComponent(id)}`);
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RFC 7592 read: GET /oauth2/register/{client_id}', () => {
  it('returns the current metadata with an absolute registration_client_uri and Cache-Control: no-store', async () => {
    const client = await registered(svc, { contacts: ['ops@example.com'], scope: 'read' });
    const res = await manage(svc, 'GET', client.id, client.rat);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const read = await body(res);
    expect(read).toMatchObject({
      client_id: client.id,
      client_name: client.response.client_name,
      grant_types: ['client_credentials'],
      scope: 'read',
      contacts: ['ops@example.com'],
      client_id_issued_at: client.response.client_id_issued_at,
      client_secret_expires_at: client.response.client_secret_expires_at,
      registration_client_uri: `${svc.url}/oauth2/register/${client.id}`,
    });
  });

  it('never shows client_secret, metadata or access_token_strategy, although the client stores a strategy', async () => {
    const client = await registered(svc);
    expect(typeof client.secret).toBe('string');
    const admin = await body(await adminRead(client.id));
    expect(admin.access_token_strategy).toBe(DCR_STRATEGY);

    const read = await body(await manage(svc, 'GET', client.id, client.rat));
    expect(read.client_id).toBe(client.id);
    expect(read).not.toHaveProperty('client_secret');
    expect(read).not.toHaveProperty('metadata');
    expect(read).not.toHaveProperty('access_token_strategy');
    expect(JSON.stringify(read)).not.toContain(client.secret!);
  });
});

describe('RFC 7592 authentication: one 401 invalid_token for every failure', () => {
  it('gives the same status and body for a missing, wrong, foreign or rotated-away token and for an unknown client', async () => {
    const victim = await registered(svc);
    const other = await registered(svc);
    const rotated = await registered(svc);
    const put = await manage(svc, 'PUT', rotated.id, rotated.rat, replacement(rotated.id));
    expect(put.status).toBe(200);

    const cases: Array<{ name: string; clientId: string; token: string | undefined; challenge: string }> = [
      { name: 'missing token', clientId: victim.id, token: undefined, challenge: 'plain' },
      { name: 'wrong token', clientId: victim.id, token: 'bm90LXRoZS1yaWdodC10b2tlbi1hdC1hbGwtMDEyMzQ1Njc4OQ', challenge: 'error' },
      { name: "another client's token", clientId: victim.id, token: other.rat, challenge: 'error' },
      { name: 'rotated-away token', clientId: rotated.id, token: rotated.rat, challenge: 'error' },
      { name: 'unknown client', clientId: `no-such-client-${Date.now()}`, token: victim.rat, challenge: 'error' },
    ];
    const bodies: string[] = [];
    for (const c of cases) {
      const res = await manage(svc, 'GET', c.clientId, c.token);
      expect({ case: c.name, status: res.status }).toEqual({ case: c.name, status: 401 });
      const challenge = res.headers.get('www-authenticate');
      if (c.challenge === 'plain') expect(challenge).toBe('Bearer');
      else expect(challenge).toContain('error="invalid_token"');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const parsed = await body(res);
      expect(parsed.error).toBe('invalid_token');
      bodies.push(JSON.stringify(parsed));
    }
    expect(new Set(bodies).size).toBe(1);

    // The victim's own token still works: none of the failures disturbed it.
    expect((await manage(svc, 'GET', victim.id, victim.rat)).status).toBe(200);
  });

  it('answers PUT and DELETE with a wrong token with the same 401 as GET, and leaves the client alone', async () => {
    const client = await registered(svc);
    const wrong = 'd3JvbmctdG9rZW4tZm9yLXB1dC1hbmQtZGVsZXRlLTAxMjM0NTY3';
    const get = await manage(svc, 'GET', client.id, wrong);
    const put = await manage(svc, 'PUT', client.id, wrong, replacement(client.id));
    const del = await manage(svc, 'DELETE', client.id, wrong);
    for (const res of [get, put, del]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    const texts = await Promise.all([get, put, del].map((r) => r.text()));
    expect(new Set(texts).size).toBe(1);
    expect((await adminRead(client.id)).status).toBe(200);
    expect((await manage(svc, 'GET', client.id, client.rat)).status).toBe(200);
  });
});

describe('RFC 7592 update: PUT /oauth2/register/{client_id}', () => {
  it('replaces the metadata in full: an omitted field falls back to its default (contacts -> [])', async () => {
    const client = await registered(svc, { contacts: ['a@example.com'], scope: 'read write' });
    const res = await manage(svc, 'PUT', client.id, client.rat, { client_id: client.id, grant_types: ['client_credentials'], scope: 'read' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const updated = await body(res);
    expect(updated.client_id).toBe(client.id);
    expect(updated.contacts).toEqual([]);
    expect(updated.scope).toBe('read');
    expect(updated.client_name).not.toBe(client.response.client_name);

    const read = await body(await manage(svc, 'GET', client.id, updated.registration_access_token as string));
    expect(read.contacts).toEqual([]);
    expect(read.scope).toBe('read');
  });

  it('requires client_id in the body: missing -> 400 invalid_request, and nothing changes', async () => {
    const client = await registered(svc);
    const { client_id: _omitted, ...withoutId } = replacement(client.id, { client_name: 'should-not-apply' });
    await expectError(await manage(svc, 'PUT', client.id, client.rat, withoutId), 400, 'invalid_request', 'client_id');
    const read = await body(await manage(svc, 'GET', client.id, client.rat));
    expect(read.client_name).toBe(client.response.client_name);
  });

  it('requires the body client_id to equal the path: different -> 400 invalid_request', async () => {
    const client = await registered(svc);
    const other = await registered(svc);
    const res = await manage(svc, 'PUT', client.id, client.rat, replacement(other.id));
    await expectError(res, 400, 'invalid_request', 'client_id');
    expect((await manage(svc, 'GET', client.id, client.rat)).status).toBe(200);
    expect((await manage(svc, 'GET', other.id, other.rat)).status).toBe(200);
  });

  it.each([
    ['registration_access_token', (c: Registered) => c.rat],
    ['registration_client_uri', (c: Registered) => c.response.registration_client_uri],
    ['client_secret_expires_at', (c: Registered) => c.response.client_secret_expires_at],
    ['client_id_issued_at', (c: Registered) => c.response.client_id_issued_at],
  ])('refuses %s in the body with 400 invalid_request naming the field', async (field, value) => {
    const client = await registered(svc);
    const res = await manage(svc, 'PUT', client.id, client.rat, { ...replacement(client.id), [field]: value(client) });
    await expectError(res, 400, 'invalid_request', field);
    // A refused update does not rotate the token.
    expect((await manage(svc, 'GET', client.id, client.rat)).status).toBe(200);
  });

  it('accepts a client_secret in the body that equals the current one, and returns no secret', async () => {
    const client = await registered(svc);
    const res = await manage(svc, 'PUT', client.id, client.rat, { ...replacement(client.id), client_secret: client.secret });
    expect(res.status).toBe(200);
    const updated = await body(res);
    expect(updated).not.toHaveProperty('client_secret');
  });

  it('refuses a client_secret in the body that differs from the current one with 400 invalid_request', async () => {
    const client = await registered(svc);
    const res = await manage(svc, 'PUT', client.id, client.rat, { ...replacement(client.id), client_secret: `${client.secret}-changed` });
    await expectError(res, 400, 'invalid_request', 'client_secret');
    expect((await manage(svc, 'GET', client.id, client.rat)).status).toBe(200);
  });

  it.each([
    ['access_token_strategy', 'jwt'],
    ['access_token_strategy', 'opaque'],
    ['strategies', { access_token: 'jwt' }],
  ])('refuses the strategy field %s (%j) with 400 invalid_client_metadata naming it', async (field, value) => {
    const client = await registered(svc);
    const res = await manage(svc, 'PUT', client.id, client.rat, { ...replacement(client.id), [field]: value });
    await expectError(res, 400, 'invalid_client_metadata', field);
    expect((await body(await adminRead(client.id))).access_token_strategy).toBe(DCR_STRATEGY);
  });

  it.each([
    ['metadata', { tier: 'gold' }],
    ['owner', 'team-a'],
  ])('refuses the operator-only field %s with 400 invalid_client_metadata naming it', async (field, value) => {
    const client = await registered(svc);
    const res = await manage(svc, 'PUT', client.id, client.rat, { ...replacement(client.id), [field]: value });
    await expectError(res, 400, 'invalid_client_metadata', field);
  });

  it('returns a new registration access token: the old one stops working at once and the new one works', async () => {
    const client = await registered(svc);
    const res = await manage(svc, 'PUT', client.id, client.rat, replacement(client.id));
    expect(res.status).toBe(200);
    const updated = await body(res);
    const next = updated.registration_access_token;
    expect(typeof next).toBe('string');
    expect(next).not.toBe(client.rat);
    expect(updated.registration_client_uri).toBe(`${svc.url}/oauth2/register/${client.id}`);

    await expectError(await manage(svc, 'GET', client.id, client.rat), 401, 'invalid_token');
    await expectError(await manage(svc, 'PUT', client.id, client.rat, replacement(client.id)), 401, 'invalid_token');
    const read = await manage(svc, 'GET', client.id, next as string);
    expect(read.status).toBe(200);
    expect((await body(read)).client_id).toBe(client.id);
  });

  it('keeps the stored access_token_strategy, which the registrant can neither see nor replace', async () => {
    const client = await registered(svc);
    const before = await body(await adminRead(client.id));
    expect(before.access_token_strategy).toBe(DCR_STRATEGY);
    expect(before.created_via).toBe('dcr');

    const res = await manage(svc, 'PUT', client.id, client.rat, replacement(client.id, { client_name: 'after-put' }));
    expect(res.status).toBe(200);
    expect(await body(res)).not.toHaveProperty('access_token_strategy');

    const after = await body(await adminRead(client.id));
    expect(after.client_name).toBe('after-put');
    expect(after.access_token_strategy).toBe(DCR_STRATEGY);
    expect(after.created_via).toBe('dcr');
  });

  it('keeps the client secret: no client_secret in the response and the stored hash is unchanged', async () => {
    const client = await registered(svc);
    const before = await query('SELECT secret_hash FROM clients WHERE id = $1', [client.id]);
    expect(before.rows[0].secret_hash).toEqual(expect.any(String));

    const res = await manage(svc, 'PUT', client.id, client.rat, replacement(client.id, { client_name: 'secret-kept' }));
    expect(res.status).toBe(200);
    const updated = await body(res);
    expect(updated).not.toHaveProperty('client_secret');

    const after = await query('SELECT secret_hash FROM clients WHERE id = $1', [client.id]);
    expect(after.rows[0].secret_hash).toBe(before.rows[0].secret_hash);
    // The original secret is still the current one.
    const again = await manage(svc, 'PUT', client.id, updated.registration_access_token as string, {
      ...replacement(client.id),
      client_secret: client.secret,
    });
    expect(again.status).toBe(200);
  });
});

describe('RFC 7592 update: concurrent PUTs with the same token', () => {
  it('lets exactly one of two concurrent PUTs succeed; the other gets 401', async () => {
    const client = await registered(svc);
    const results = await Promise.all([0, 1].map((i) => manage(svc, 'PUT', client.id, client.rat, replacement(client.id, { client_name: `race-${i}` }))));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 401]);
    const winner = results.find((r) => r.status === 200)!;
    const next = (await body(winner)).registration_access_token as string;
    expect((await manage(svc, 'GET', client.id, next)).status).toBe(200);
    expect((await manage(svc, 'GET', client.id, client.rat)).status).toBe(401);
  });

  it('lets exactly one of ten concurrent PUTs succeed; the other nine get 401 invalid_token', async () => {
    const client = await registered(svc);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => manage(svc, 'PUT', client.id, client.rat, replacement(client.id, { client_name: `race10-${i}` }))),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(9);
    for (const res of results.filter((r) => r.status === 401)) expect((await body(res)).error).toBe('invalid_token');
    const winner = await body(results.find((r) => r.status === 200)!);
    const read = await body(await manage(svc, 'GET', client.id, winner.registration_access_token as string));
    expect(read.client_name).toBe(winner.client_name);
  });
});

describe('RFC 7592 delete: DELETE /oauth2/register/{client_id}', () => {
  it('answers 204, after which the token is refused, the client is gone, and a second DELETE gets 401', async () => {
    const client = await registered(svc);
    const res = await manage(svc, 'DELETE', client.id, client.rat);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');

    await expectError(await manage(svc, 'GET', client.id, client.rat), 401, 'invalid_token');
    await expectError(await adminRead(client.id), 404, 'not_found');
    await expectError(await manage(svc, 'DELETE', client.id, client.rat), 401, 'invalid_token');
    const { rows } = await query('SELECT count(*)::int AS n FROM clients WHERE id = $1', [client.id]);
    expect(rows[0].n).toBe(0);
  });
});

describe('admin changes and the registration access token', () => {
  it('an admin PUT that sends back what the admin GET returned neither clears nor rotates the token', async () => {
    const client = await registered(svc, { contacts: ['a@example.com'] });
    const current = await body(await adminRead(client.id));
    const res = await svc.admin(`/admin/clients/${client.id}`, { method: 'PUT', json: { ...current, client_name: 'admin-renamed' } });
    expect(res.status).toBe(200);
    expect((await body(res)).client_name).toBe('admin-renamed');

    const read = await manage(svc, 'GET', client.id, client.rat);
    expect(read.status).toBe(200);
    expect((await body(read)).client_name).toBe('admin-renamed');
  });

  it('an admin PATCH neither clears nor rotates the token', async () => {
    const client = await registered(svc);
    const res = await svc.admin(`/admin/clients/${client.id}`, {
      method: 'PATCH',
      json: [{ op: 'replace', path: '/client_name', value: 'admin-patched' }],
    });
    expect(res.status).toBe(200);

    const read = await manage(svc, 'GET', client.id, client.rat);
    expect(read.status).toBe(200);
    expect((await body(read)).client_name).toBe('admin-patched');
  });

  it('gives clients created through POST /admin/clients a registration access token and client URI that work', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient() });
    expect(res.status).toBe(201);
    const created = await body(res);
    const id = created.client_id as string;
    expect(typeof created.registration_access_token).toBe('string');
    expect(created.registration_client_uri).toBe(`${svc.url}/oauth2/register/${id}`);

    const read = await fetch(created.registration_client_uri as string, {
      headers: { Authorization: `Bearer ${created.registration_access_token as string}` },
    });
    expect(read.status).toBe(200);
    const view = await body(read);
    expect(view.client_id).toBe(id);
    expect(view).not.toHaveProperty('client_secret');
  });
});

describe('with registration_access_token.rotate = false', () => {
  let norotate: RunningApp;
  beforeAll(async () => {
    norotate = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_REGISTRATION_ACCESS_TOKEN_ROTATE: 'false' } });
  });
  afterAll(async () => {
    await norotate?.close();
  });

  it('a PUT returns no new registration access token and the old one keeps working', async () => {
    const client = await registered(norotate);
    const res = await manage(norotate, 'PUT', client.id, client.rat, replacement(client.id, { client_name: 'no-rotation' }));
    expect(res.status).toBe(200);
    const updated = await body(res);
    expect(updated).not.toHaveProperty('registration_access_token');
    expect(updated.registration_client_uri).toBe(`${norotate.url}/oauth2/register/${client.id}`);

    const read = await manage(norotate, 'GET', client.id, client.rat);
    expect(read.status).toBe(200);
    expect((await body(read)).client_name).toBe('no-rotation');
    expect((await manage(norotate, 'PUT', client.id, client.rat, replacement(client.id))).status).toBe(200);
  });
});

describe('with registration_access_token.ttl = 5 (seconds)', () => {
  let shortlived: RunningApp;
  beforeAll(async () => {
    shortlived = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_REGISTRATION_ACCESS_TOKEN_TTL: '5' } });
  });
  afterAll(async () => {
    await shortlived?.close();
  });

  it('the registration access token works at first and is refused with 401 invalid_token after it expires', async () => {
    const client = await registered(shortlived);
    const started = Date.now();
    const fresh = await manage(shortlived, 'GET', client.id, client.rat);
    // Only meaningful while still inside the token's five-second life.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(fresh.status).toBe(200);

    await sleep(Math.max(0, 5100 - (Date.now() - started)));
    const stale = await manage(shortlived, 'GET', client.id, client.rat);
    expect(stale.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const expiredBody = await expectError(stale, 401, 'invalid_token');
    // Expiry is told apart from nothing else: the answer equals the one for a wrong token.
    const wrong = await manage(shortlived, 'GET', client.id, 'd3JvbmctdG9rZW4tY29tcGFyZWQtdG8tYW4tZXhwaXJlZC1vbmU');
    expect(wrong.status).toBe(401);
    expect(await body(wrong)).toEqual(expiredBody);
  });
});

describe('with registration_access_token.enabled = false', () => {
  let disabled: RunningApp;
  beforeAll(async () => {
    disabled = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_REGISTRATION_ACCESS_TOKEN_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await disabled?.close();
  });

  it('the 201 registration response has no registration_access_token and no registration_client_uri', async () => {
    const res = await register(disabled, machineClient(), await mintIat(disabled));
    expect(res.status).toBe(201);
    const created = await body(res);
    expect(typeof created.client_id).toBe('string');
    expect(created).not.toHaveProperty('registration_access_token');
    expect(created).not.toHaveProperty('registration_client_uri');
  });

  it('GET /oauth2/register/{client_id} answers 404 JSON, with or without a token', async () => {
    const created = await registerClient(disabled, machineClient());
    const id = created.client_id as string;
    await expectError(await manage(disabled, 'GET', id, undefined), 404, 'not_found');
    await expectError(await manage(disabled, 'GET', id, 'c29tZS10b2tlbi10aGF0LWlzLW5vdC1hLXJhdA'), 404, 'not_found');
    await expectError(await manage(disabled, 'DELETE', id, undefined), 404, 'not_found');
    expect((await disabled.admin(`/admin/clients/${id}`)).status).toBe(200);
  });
});
