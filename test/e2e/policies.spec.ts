// Registration policies (README, Policies): the admin API,
// policies named by initial access tokens and by configuration, the built-in
// native-app policy and max_clients, over real HTTP on the run's PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { machineClient, webClient } from '../factories/clients.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { manage, type MintedIat, mintIatRecord, register } from '../support/dcr.js';
import { query } from '../support/postgres.js';
import { expectOAuthError as expectError } from '../support/expect.js';
import { allPages, nextLink, basicAuth } from '../support/net.js';

type Json = Record<string, unknown>;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

let counter = 0;
/** A policy name no other test (or earlier run on this database) uses. */
function uniqueName(prefix = 'policy'): string {
  counter += 1;
  return `${prefix}-${Date.now()}-${process.pid}-${counter}`;
}

async function body(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}


/** 400 invalid_client_metadata whose description names the policy and the rule (README, Policies). */
function expectPolicyViolation(res: Response, policy: string, rule: string): Promise<Json> {
  return expectError(res, 400, 'invalid_client_metadata', `policy "${policy}"`, rule);
}

async function createPolicy(name: string, rules: Json, description = `rules for ${name}`): Promise<Json> {
  const res = await svc.admin('/admin/policies', { method: 'POST', json: { name, description, rules } });
  if (res.status !== 201) throw new Error(`creating policy ${name} failed: ${res.status} ${await res.text()}`);
  return body(res);
}

async function readPolicy(name: string): Promise<Json> {
  const res = await svc.admin(`/admin/policies/${encodeURIComponent(name)}`);
  expect(res.status).toBe(200);
  return body(res);
}


function mintIat(json: Json): Promise<MintedIat> {
  return mintIatRecord(svc, json);
}

async function iatUses(id: string): Promise<number> {
  const res = await svc.admin(`/admin/initial-access-tokens/${id}`);
  expect(res.status).toBe(200);
  return (await body(res)).uses as number;
}

async function registered(res: Response): Promise<Json> {
  const text = await res.text();
  expect({ status: res.status, body: text }).toEqual({ status: 201, body: expect.any(String) });
  return JSON.parse(text) as Json;
}


describe('the policies admin API: /admin/policies', () => {
  it('creates a policy with POST: 201 with name, description, rules and clients_created 0', async () => {
    const name = uniqueName('create');
    const rules = { allowed_grant_types: ['client_credentials'], allowed_scopes: ['invoices.read'], max_clients: 10 };
    const res = await svc.admin('/admin/policies', { method: 'POST', json: { name, description: 'Partners', rules } });
    expect(res.status).toBe(201);
    const created = await body(res);
    expect(created).toMatchObject({ name, description: 'Partners', rules, clients_created: 0 });
    expect(created.created_at).toMatch(RFC3339);
    expect(created.updated_at).toMatch(RFC3339);
  });

  it('ignores a clients_created in the POST body: every new policy starts at 0', async () => {
    const name = uniqueName('counter');
    const res = await svc.admin('/admin/policies', { method: 'POST', json: { name, rules: { max_clients: 5 }, clients_created: 5 } });
    expect(res.status).toBe(201);
    expect((await body(res)).clients_created).toBe(0);
    expect((await readPolicy(name)).clients_created).toBe(0);
  });

  it('reads a policy back with GET /admin/policies/{name} as it was created', async () => {
    const name = uniqueName('read');
    const rules = {
      allowed_redirect_uri_hosts: ['*.example.com'],
      defaults: { scope: 'a' },
      force: { token_endpoint_auth_method: 'client_secret_post' },
      forbidden_fields: ['jwks_uri'],
    };
    const created = await createPolicy(name, rules, 'read me');
    const read = await readPolicy(name);
    expect(read).toEqual(created);
    expect(read).toMatchObject({ name, description: 'read me', rules, clients_created: 0 });
  });

  it('answers GET of an unknown policy with 404 JSON', async () => {
    await expectError(await svc.admin(`/admin/policies/${uniqueName('missing')}`), 404, 'not_found');
  });

  it('lists policies page by page with page_size, page_token and a Link rel="next" header', async () => {
    const prefix = uniqueName('list');
    const mine = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`, `${prefix}-d`, `${prefix}-e`];
    for (const name of mine) await createPolicy(name, { allowed_scopes: ['x'] });

    const first = await svc.admin('/admin/policies?page_size=2');
    expect(first.status).toBe(200);
    expect(await first.json()).toHaveLength(2);
    expect(nextLink(first)).toEqual(expect.stringContaining('page_token='));

    const pages = await allPages<Json>((path) => svc.admin(path), svc.url, '/admin/policies?page_size=2');
    const seen: string[] = [];
    for (const page of pages) {
      expect(page.status).toBe(200);
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) {
        expect(item).toEqual(expect.objectContaining({ name: expect.any(String), rules: expect.any(Object), clients_created: expect.any(Number) }));
        seen.push(item.name as string);
      }
    }
    // Every page but the last is full, and the last says no more follow.
    const full = pages.slice(0, -1).map((page) => page.items.length);
    expect(pages.length).toBeGreaterThan(1);
    expect(full).toEqual(full.map(() => 2));
    expect(pages[pages.length - 1].next).toBeUndefined();
    expect(new Set(seen).size).toBe(seen.length);
    for (const name of mine) expect(seen).toContain(name);
    expect(seen).not.toContain('native-app');
  });

  it('refuses a page_size out of range and a forged page_token with 400 invalid_request', async () => {
    await expectError(await svc.admin('/admin/policies?page_size=0'), 400, 'invalid_request');
    await expectError(await svc.admin('/admin/policies?page_size=501'), 400, 'invalid_request');
    await expectError(await svc.admin('/admin/policies?page_token=not-a-token'), 400, 'invalid_request');
  });

  it('replaces a policy with PUT: the new rules and description replace the old ones in full', async () => {
    const name = uniqueName('replace');
    const created = await createPolicy(name, { allowed_scopes: ['a'], forbidden_fields: ['jwks_uri'] }, 'old');
    const res = await svc.admin(`/admin/policies/${name}`, {
      method: 'PUT',
      json: { name, description: 'new', rules: { allowed_grant_types: ['client_credentials'] } },
    });
    expect(res.status).toBe(200);
    const replaced = await body(res);
    expect(replaced).toMatchObject({ name, description: 'new', rules: { allowed_grant_types: ['client_credentials'] }, clients_created: 0 });
    expect(replaced.rules).not.toHaveProperty('allowed_scopes');
    expect(replaced.rules).not.toHaveProperty('forbidden_fields');
    expect(replaced.created_at).toBe(created.created_at);

    const read = await readPolicy(name);
    expect(read.rules).toEqual({ allowed_grant_types: ['client_credentials'] });
    expect(read.description).toBe('new');
  });

  it('accepts a PUT body without a name, taking the name from the path', async () => {
    const name = uniqueName('replace-noname');
    await createPolicy(name, { allowed_scopes: ['a'] });
    const res = await svc.admin(`/admin/policies/${name}`, { method: 'PUT', json: { rules: { allowed_scopes: ['b'] } } });
    expect(res.status).toBe(200);
    expect((await readPolicy(name)).rules).toEqual({ allowed_scopes: ['b'] });
  });

  it('refuses a PUT whose body names another policy than the path with 400, changing nothing', async () => {
    const name = uniqueName('rename');
    await createPolicy(name, { allowed_scopes: ['a'] });
    const other = uniqueName('rename-target');
    const res = await svc.admin(`/admin/policies/${name}`, { method: 'PUT', json: { name: other, rules: { allowed_scopes: ['b'] } } });
    await expectError(res, 400, 'invalid_request', 'name');
    expect((await readPolicy(name)).rules).toEqual({ allowed_scopes: ['a'] });
    expect((await svc.admin(`/admin/policies/${other}`)).status).toBe(404);
  });

  it('refuses a PUT with malformed rules with 400 naming the rule, keeping the stored rules', async () => {
    const name = uniqueName('replace-bad');
    await createPolicy(name, { allowed_scopes: ['a'] });
    const res = await svc.admin(`/admin/policies/${name}`, { method: 'PUT', json: { name, rules: { max_clients: 0 } } });
    await expectError(res, 400, 'invalid_request', 'max_clients');
    expect((await readPolicy(name)).rules).toEqual({ allowed_scopes: ['a'] });
  });

  it('answers PUT of an unknown policy with 404 and does not create it', async () => {
    const name = uniqueName('put-missing');
    await expectError(await svc.admin(`/admin/policies/${name}`, { method: 'PUT', json: { name, rules: {} } }), 404, 'not_found');
    expect((await svc.admin(`/admin/policies/${name}`)).status).toBe(404);
  });

  it('deletes a policy with DELETE: 204, then GET answers 404 and a second DELETE 404', async () => {
    const name = uniqueName('delete');
    await createPolicy(name, { allowed_scopes: ['a'] });
    const res = await svc.admin(`/admin/policies/${name}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect((await svc.admin(`/admin/policies/${name}`)).status).toBe(404);
    await expectError(await svc.admin(`/admin/policies/${name}`, { method: 'DELETE' }), 404, 'not_found');
  });

  it('refuses a duplicate name with 409, keeping the first policy', async () => {
    const name = uniqueName('dup');
    await createPolicy(name, { allowed_scopes: ['first'] });
    const res = await svc.admin('/admin/policies', { method: 'POST', json: { name, rules: { allowed_scopes: ['second'] } } });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(String((await body(res)).error_description)).toContain(name);
    expect((await readPolicy(name)).rules).toEqual({ allowed_scopes: ['first'] });
  });

  it('refuses to create a policy named after the built-in native-app policy with 409', async () => {
    const res = await svc.admin('/admin/policies', { method: 'POST', json: { name: 'native-app', rules: {} } });
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(String((await body(res)).error_description)).toContain('native-app');
  });

  it('refuses an unknown rule with 400 naming it, creating nothing', async () => {
    const name = uniqueName('unknown-rule');
    const res = await svc.admin('/admin/policies', { method: 'POST', json: { name, rules: { allowed_scopes: ['a'], allowed_colours: ['red'] } } });
    await expectError(res, 400, 'invalid_request', 'allowed_colours');
    expect((await svc.admin(`/admin/policies/${name}`)).status).toBe(404);
  });

  it.each<[string, Json, string]>([
    ['allowed_grant_types that is not a list', { allowed_grant_types: 'client_credentials' }, 'allowed_grant_types'],
    ['an unsupported grant type', { allowed_grant_types: ['password'] }, 'allowed_grant_types'],
    ['an unsupported auth method', { allowed_token_endpoint_auth_methods: ['tls_client_auth'] }, 'allowed_token_endpoint_auth_methods'],
    ['a redirect host that is a URL', { allowed_redirect_uri_hosts: ['https://a.example.com'] }, 'allowed_redirect_uri_hosts'],
    ['defaults that set metadata', { defaults: { metadata: { tier: 'gold' } } }, 'defaults'],
    ['force that sets access_token_strategy', { force: { access_token_strategy: 'jwt' } }, 'force'],
    ['a default grant_types ["password"]', { defaults: { grant_types: ['password'] } }, 'defaults'],
    ['forbidden_fields that is a string', { forbidden_fields: 'jwks_uri' }, 'forbidden_fields'],
    ['max_clients 0', { max_clients: 0 }, 'max_clients'],
    ['max_clients as a string', { max_clients: '3' }, 'max_clients'],
  ])('refuses rules with %s with 400 invalid_request naming the rule', async (_what, rules, rule) => {
    const name = uniqueName('malformed');
    const res = await svc.admin('/admin/policies', { method: 'POST', json: { name, rules } });
    await expectError(res, 400, 'invalid_request', rule);
    expect((await svc.admin(`/admin/policies/${name}`)).status).toBe(404);
  });

  it.each<[string, Json]>([
    ['no name', { rules: {} }],
    ['a name that is not a string', { name: 42, rules: {} }],
    ['a name with a space', { name: 'two words', rules: {} }],
    ['rules that are not an object', { name: 'x', rules: ['allowed_scopes'] }],
    ['a description that is not a string', { name: 'x', description: 7, rules: {} }],
  ])('refuses a policy with %s with 400 invalid_request', async (_what, json) => {
    const unique = uniqueName('malformed-body');
    const payload = typeof json.name === 'string' && json.name === 'x' ? { ...json, name: unique } : json;
    await expectError(await svc.admin('/admin/policies', { method: 'POST', json: payload }), 400, 'invalid_request');
    if (payload.name === unique) expect((await svc.admin(`/admin/policies/${unique}`)).status).toBe(404);
  });

  it('refuses a body that is not JSON with 400 invalid_request', async () => {
    const res = await svc.admin('/admin/policies', { method: 'POST', body: '{"name": ', headers: { 'Content-Type': 'application/json' } });
    await expectError(res, 400, 'invalid_request', 'not valid JSON');
  });

  it('puts every route behind the admin API key: none or a wrong one gets 401 and changes nothing', async () => {
    const name = uniqueName('guarded');
    await createPolicy(name, { allowed_scopes: ['a'] });
    const routes: Array<[string, string, Json | undefined]> = [
      ['POST', '/admin/policies', { name: uniqueName('guarded-new'), rules: {} }],
      ['GET', '/admin/policies', undefined],
      ['GET', `/admin/policies/${name}`, undefined],
      ['PUT', `/admin/policies/${name}`, { name, rules: { allowed_scopes: ['b'] } }],
      ['DELETE', `/admin/policies/${name}`, undefined],
    ];
    for (const authorization of [undefined, 'Bearer not-the-admin-key', basicAuth('admin', ADMIN_KEY)]) {
      for (const [method, path, json] of routes) {
        const headers: Record<string, string> = {};
        if (authorization) headers.Authorization = authorization;
        if (json) headers['Content-Type'] = 'application/json';
        const res = await fetch(svc.url + path, { method, headers, body: json ? JSON.stringify(json) : undefined });
        expect({ method, path, authorization, status: res.status }).toEqual({ method, path, authorization, status: 401 });
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      }
    }
    expect((await readPolicy(name)).rules).toEqual({ allowed_scopes: ['a'] });
    expect((await svc.admin(`/admin/policies/${routes[0][2]!.name as string}`)).status).toBe(404);
  });
});

describe('policies named by an initial access token shape registrations', () => {
  it('refuses to mint an IAT naming an unknown policy with 400 naming it', async () => {
    const known = uniqueName('known');
    await createPolicy(known, {});
    const missing = uniqueName('missing');
    const res = await svc.admin('/admin/initial-access-tokens', { method: 'POST', json: { policies: [known, missing] } });
    await expectError(res, 400, 'invalid_request', missing);
  });

  it('mints an IAT naming existing policies and shows them in order', async () => {
    const p1 = uniqueName('p1');
    const p2 = uniqueName('p2');
    await createPolicy(p1, {});
    await createPolicy(p2, {});
    const iat = await mintIat({ policies: [p2, p1] });
    const read = await body(await svc.admin(`/admin/initial-access-tokens/${iat.id}`));
    expect(read.policies).toEqual([p2, p1]);
  });

  it('applies defaults when the registrant sends no value, and keeps the registrant value when it does', async () => {
    const name = uniqueName('defaults');
    await createPolicy(name, { defaults: { scope: 'invoices.read', contacts: ['ops@partner.example.com'], client_uri: 'https://partner.example.com' } });
    const iat = await mintIat({ policies: [name], max_uses: 2 });

    const plain = await registered(await register(svc, { client_name: 'defaults', grant_types: ['client_credentials'] }, iat.token));
    expect(plain).toMatchObject({ scope: 'invoices.read', contacts: ['ops@partner.example.com'], client_uri: 'https://partner.example.com' });

    const own = await registered(await register(svc, machineClient({ scope: 'reports.read', contacts: ['me@example.com'] }), iat.token));
    expect(own).toMatchObject({ scope: 'reports.read', contacts: ['me@example.com'], client_uri: 'https://partner.example.com' });
  });

  it('forces values over what the registrant sent', async () => {
    const name = uniqueName('force');
    await createPolicy(name, { force: { token_endpoint_auth_method: 'client_secret_post', scope: 'partner.api', contacts: ['security@example.com'] } });
    const iat = await mintIat({ policies: [name] });
    const client = await registered(
      await register(svc, machineClient({ token_endpoint_auth_method: 'client_secret_basic', scope: 'admin', contacts: ['me@example.com'] }), iat.token),
    );
    expect(client).toMatchObject({ token_endpoint_auth_method: 'client_secret_post', scope: 'partner.api', contacts: ['security@example.com'] });
    expect(typeof client.client_secret).toBe('string');
  });

  it.each<[string, Json, Json]>([
    ['allowed_grant_types', { allowed_grant_types: ['client_credentials'] }, webClient()],
    ['allowed_grant_types', { allowed_grant_types: ['client_credentials'] }, { client_name: 'rfc-default', redirect_uris: ['https://app.example.com/cb'] }],
    ['allowed_response_types', { allowed_response_types: ['code'] }, webClient({ grant_types: ['authorization_code', 'implicit'], response_types: ['code', 'id_token'] })],
    ['allowed_token_endpoint_auth_methods', { allowed_token_endpoint_auth_methods: ['private_key_jwt'] }, machineClient()],
    ['allowed_scopes', { allowed_scopes: ['read'] }, machineClient({ scope: 'read write' })],
    ['allowed_redirect_uri_hosts', { allowed_redirect_uri_hosts: ['*.example.com'] }, webClient({ redirect_uris: ['https://evil-example.com/cb'] })],
    ['allowed_redirect_uri_hosts', { allowed_redirect_uri_hosts: ['*.example.com'] }, webClient({ redirect_uris: ['https://example.com/cb'] })],
    ['forbidden_fields', { forbidden_fields: ['client_uri'] }, machineClient({ client_uri: 'https://app.example.com' })],
    ['forbidden_fields', { forbidden_fields: ['client_name'] }, machineClient({ 'client_name#fr': 'Mon client' })],
  ])('refuses a registration that violates %s with 400 invalid_client_metadata naming the policy and the rule, burning no IAT use', async (rule, rules, client) => {
    const name = uniqueName('violated');
    await createPolicy(name, rules);
    const iat = await mintIat({ policies: [name], max_uses: 1 });
    await expectPolicyViolation(await register(svc, client, iat.token), name, rule);
    expect(await iatUses(iat.id)).toBe(0);
    expect((await readPolicy(name)).clients_created).toBe(0);
  });

  it('lets a registration through that satisfies every allow-list, and counts it on the IAT', async () => {
    const name = uniqueName('allowed');
    await createPolicy(name, {
      allowed_grant_types: ['authorization_code', 'refresh_token'],
      allowed_response_types: ['code'],
      allowed_token_endpoint_auth_methods: ['client_secret_basic'],
      allowed_scopes: ['openid', 'offline_access'],
      allowed_redirect_uri_hosts: ['*.example.com'],
    });
    const iat = await mintIat({ policies: [name], max_uses: 1 });
    const client = await registered(
      await register(svc, webClient({ redirect_uris: ['https://a.example.com/cb', 'https://a.b.example.com/cb'] }), iat.token),
    );
    expect(client.redirect_uris).toEqual(['https://a.example.com/cb', 'https://a.b.example.com/cb']);
    expect(await iatUses(iat.id)).toBe(1);
  });

  it('burns no use on a refused registration: the single use of the IAT still registers a client afterwards', async () => {
    const name = uniqueName('no-burn');
    await createPolicy(name, { allowed_scopes: ['read'] });
    const iat = await mintIat({ policies: [name], max_uses: 1 });
    for (let i = 0; i < 3; i += 1) {
      await expectPolicyViolation(await register(svc, machineClient({ scope: 'write' }), iat.token), name, 'allowed_scopes');
    }
    expect(await iatUses(iat.id)).toBe(0);
    await registered(await register(svc, machineClient({ scope: 'read' }), iat.token));
    expect(await iatUses(iat.id)).toBe(1);
    await expectError(await register(svc, machineClient({ scope: 'read' }), iat.token), 401, 'invalid_token');
  });

  it("runs policies in the IAT's order: the second policy judges the first's forced value", async () => {
    const forcesMachine = uniqueName('forces-cc');
    const onlyMachine = uniqueName('only-cc');
    await createPolicy(forcesMachine, { force: { grant_types: ['client_credentials'] } });
    await createPolicy(onlyMachine, { allowed_grant_types: ['client_credentials'] });
    const iat = await mintIat({ policies: [forcesMachine, onlyMachine] });
    // No grant_types: alone, onlyMachine would judge the RFC default authorization_code and refuse.
    const client = await registered(await register(svc, { client_name: 'ordered', scope: 'read' }, iat.token));
    expect(client.grant_types).toEqual(['client_credentials']);
    expect(client.response_types).toEqual([]);
  });

  it('refuses when the first policy forces a value the second policy does not allow, naming the second', async () => {
    const forcesCode = uniqueName('forces-code');
    const onlyMachine = uniqueName('only-cc');
    await createPolicy(forcesCode, { force: { grant_types: ['authorization_code'] } });
    await createPolicy(onlyMachine, { allowed_grant_types: ['client_credentials'] });
    const iat = await mintIat({ policies: [forcesCode, onlyMachine] });
    const error = await expectPolicyViolation(
      await register(svc, machineClient({ redirect_uris: ['https://app.example.com/cb'] }), iat.token),
      onlyMachine,
      'allowed_grant_types',
    );
    expect(String(error.error_description)).not.toContain(`policy "${forcesCode}"`);
    expect(await iatUses(iat.id)).toBe(0);
  });

  it('lets the later policy win in the other order: a value forced last is not judged by an earlier allow-list', async () => {
    const onlyMachine = uniqueName('only-cc');
    const forcesCode = uniqueName('forces-code');
    await createPolicy(onlyMachine, { allowed_grant_types: ['client_credentials'] });
    await createPolicy(forcesCode, { force: { grant_types: ['authorization_code'] } });
    const iat = await mintIat({ policies: [onlyMachine, forcesCode] });
    const client = await registered(await register(svc, machineClient({ redirect_uris: ['https://app.example.com/cb'] }), iat.token));
    expect(client.grant_types).toEqual(['authorization_code']);
  });

  it('applies a policy changed with PUT to the next registration, without a restart', async () => {
    const name = uniqueName('changed');
    await createPolicy(name, { allowed_scopes: ['a'] });
    const iat = await mintIat({ policies: [name], max_uses: 3 });
    await expectPolicyViolation(await register(svc, machineClient({ scope: 'b' }), iat.token), name, 'allowed_scopes');

    const put = await svc.admin(`/admin/policies/${name}`, { method: 'PUT', json: { name, rules: { allowed_scopes: ['a', 'b'], force: { contacts: ['new@example.com'] } } } });
    expect(put.status).toBe(200);
    const client = await registered(await register(svc, machineClient({ scope: 'b' }), iat.token));
    expect(client.scope).toBe('b');
    expect(client.contacts).toEqual(['new@example.com']);

    const tighten = await svc.admin(`/admin/policies/${name}`, { method: 'PUT', json: { name, rules: { allowed_scopes: ['c'] } } });
    expect(tighten.status).toBe(200);
    await expectPolicyViolation(await register(svc, machineClient({ scope: 'b' }), iat.token), name, 'allowed_scopes');
    expect(await iatUses(iat.id)).toBe(1);
  });

  it('applies policies before field validation: a forced value can make an otherwise invalid body valid', async () => {
    const name = uniqueName('before-validation');
    // response_types ["code"] needs authorization_code; the forced grant makes the body coherent.
    await createPolicy(name, { force: { grant_types: ['authorization_code'] } });
    const iat = await mintIat({ policies: [name] });
    const client = await registered(
      await register(svc, machineClient({ grant_types: ['client_credentials'], response_types: ['code'], redirect_uris: ['https://app.example.com/cb'] }), iat.token),
    );
    expect(client.grant_types).toEqual(['authorization_code']);
  });
});

describe('policies apply again at RFC 7592 PUT', () => {
  async function registerUnder(rules: Json, client: Json): Promise<{ name: string; id: string; rat: string; response: Json }> {
    const name = uniqueName('rfc7592');
    await createPolicy(name, rules);
    const iat = await mintIat({ policies: [name] });
    const response = await registered(await register(svc, client, iat.token));
    return { name, id: response.client_id as string, rat: response.registration_access_token as string, response };
  }

  it('refuses an update to a scope outside allowed_scopes with 400 naming the policy, leaving the client unchanged', async () => {
    const c = await registerUnder({ allowed_scopes: ['a'] }, machineClient({ scope: 'a' }));
    const res = await manage(svc, 'PUT', c.id, c.rat, { client_id: c.id, ...machineClient({ scope: 'b' }) });
    await expectPolicyViolation(res, c.name, 'allowed_scopes');

    // The refused update rotated nothing and changed nothing.
    const read = await manage(svc, 'GET', c.id, c.rat);
    expect(read.status).toBe(200);
    expect((await body(read)).scope).toBe('a');
  });

  it('forces forced values again at PUT', async () => {
    const c = await registerUnder(
      { force: { contacts: ['security@example.com'], token_endpoint_auth_method: 'client_secret_post' } },
      machineClient({ scope: 'a' }),
    );
    expect(c.response).toMatchObject({ contacts: ['security@example.com'], token_endpoint_auth_method: 'client_secret_post' });
    const res = await manage(svc, 'PUT', c.id, c.rat, {
      client_id: c.id,
      ...machineClient({ scope: 'b', contacts: ['me@example.com'], token_endpoint_auth_method: 'client_secret_basic' }),
    });
    expect(res.status).toBe(200);
    const updated = await body(res);
    expect(updated).toMatchObject({ scope: 'b', contacts: ['security@example.com'], token_endpoint_auth_method: 'client_secret_post' });
  });

  it('applies defaults again at PUT when the replacement omits the field', async () => {
    const c = await registerUnder({ defaults: { client_uri: 'https://partner.example.com' } }, machineClient());
    expect(c.response.client_uri).toBe('https://partner.example.com');
    const res = await manage(svc, 'PUT', c.id, c.rat, { client_id: c.id, ...machineClient() });
    expect(res.status).toBe(200);
    expect((await body(res)).client_uri).toBe('https://partner.example.com');
  });

  it('applies the policy as it stands at the time of the update (a PUT on the policy reaches existing clients)', async () => {
    const c = await registerUnder({ allowed_scopes: ['a', 'b'] }, machineClient({ scope: 'a' }));
    const put = await svc.admin(`/admin/policies/${c.name}`, { method: 'PUT', json: { name: c.name, rules: { allowed_scopes: ['a'] } } });
    expect(put.status).toBe(200);
    await expectPolicyViolation(await manage(svc, 'PUT', c.id, c.rat, { client_id: c.id, ...machineClient({ scope: 'b' }) }), c.name, 'allowed_scopes');
  });
});

describe('policies named in configuration apply to every DCR request (oidc.dynamic_client_registration.policies)', () => {
  const configured = uniqueName('configured');
  let open: RunningApp;

  beforeAll(async () => {
    open = await startApp({
      env: {
        OIDC_DYNAMIC_CLIENT_REGISTRATION_POLICIES: configured,
        OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false',
      },
    });
  });
  afterAll(async () => {
    await open?.close();
  });

  it('starts although the configured policy does not exist yet, and fails closed: 5xx {"error":"server_error"} until it does', async () => {
    const anonymous = await register(open, machineClient({ scope: 'x' }));
    expect(anonymous.status).toBeGreaterThanOrEqual(500);
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/json/);
    const parsed = await body(anonymous);
    expect(parsed.error).toBe('server_error');
    expect(JSON.stringify(parsed)).not.toMatch(/stack|at .*\.ts|QueryFailedError/);

    const iat = await mintIat({ max_uses: 1 });
    const withIat = await register(open, machineClient({ scope: 'x' }), iat.token);
    expect(withIat.status).toBeGreaterThanOrEqual(500);
    expect((await body(withIat)).error).toBe('server_error');
    expect(await iatUses(iat.id)).toBe(0);
  });

  it('applies the policy once it is created after start, to anonymous requests and to requests with an IAT', async () => {
    await createPolicy(configured, { allowed_scopes: ['x'], defaults: { contacts: ['ops@example.com'] } });

    await expectPolicyViolation(await register(open, machineClient({ scope: 'y' })), configured, 'allowed_scopes');
    const anonymous = await registered(await register(open, machineClient({ scope: 'x' })));
    expect(anonymous).toMatchObject({ scope: 'x', contacts: ['ops@example.com'] });

    const iat = await mintIat({ max_uses: 2 });
    await expectPolicyViolation(await register(open, machineClient({ scope: 'y' }), iat.token), configured, 'allowed_scopes');
    const withIat = await registered(await register(open, machineClient({ scope: 'x' }), iat.token));
    expect(withIat.contacts).toEqual(['ops@example.com']);
    expect(await iatUses(iat.id)).toBe(1);
  });

  it('resolves the configured name at each request: a PUT on the policy applies at once', async () => {
    const put = await svc.admin(`/admin/policies/${configured}`, { method: 'PUT', json: { name: configured, rules: { allowed_scopes: ['y'] } } });
    expect(put.status).toBe(200);
    await expectPolicyViolation(await register(open, machineClient({ scope: 'x' })), configured, 'allowed_scopes');
    expect((await registered(await register(open, machineClient({ scope: 'y' })))).scope).toBe('y');
  });

  it('does not apply to the instance whose configuration does not name it', async () => {
    const iat = await mintIat({ max_uses: 1 });
    expect((await registered(await register(svc, machineClient({ scope: 'z' }), iat.token))).scope).toBe('z');
  });

  it('applies the configured policy and then the IAT policies', async () => {
    const own = uniqueName('after-config');
    await createPolicy(own, { force: { scope: 'y' } });
    const iat = await mintIat({ policies: [own], max_uses: 1 });
    // The configured policy (allowed_scopes ["y"]) judges "q" before the IAT's policy forces "y".
    await expectPolicyViolation(await register(open, machineClient({ scope: 'q' }), iat.token), configured, 'allowed_scopes');
    expect(await iatUses(iat.id)).toBe(0);
  });
});

describe('allowed_scopes and the configured default scope', () => {
  let defaulting: RunningApp;

  beforeAll(async () => {
    defaulting = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_DEFAULT_SCOPE: 'read,admin' } });
  });
  afterAll(async () => {
    await defaulting?.close();
  });

  it('gives a client that omits scope the default scope narrowed to the allowed_scopes of its policy', async () => {
    // Every scope must be allowed by the configuration and the policy; an omitted scope gets default_scope (README, Policies).
    const name = uniqueName('default-scope');
    await createPolicy(name, { allowed_scopes: ['read'] });
    const iat = await mintIat({ policies: [name] });
    const client = await registered(await register(defaulting, { client_name: 'no scope', grant_types: ['client_credentials'] }, iat.token));
    expect(client.scope).toBe('read');
  });

  it('keeps the configured default scope for a client whose policy allows it', async () => {
    const name = uniqueName('default-scope-ok');
    await createPolicy(name, { allowed_scopes: ['read', 'admin'] });
    const iat = await mintIat({ policies: [name] });
    const client = await registered(await register(defaulting, { client_name: 'no scope', grant_types: ['client_credentials'] }, iat.token));
    expect(client.scope).toBe('read admin');
  });
});

describe('the built-in native-app policy', () => {
  it('registers a public native client: token_endpoint_auth_method none, application_type native, no client_secret', async () => {
    const iat = await mintIat({ policies: ['native-app'] });
    const client = await registered(
      await register(svc, { client_name: 'My CLI', redirect_uris: ['com.example.app:/cb', 'http://127.0.0.1/cb'] }, iat.token),
    );
    expect(client).toMatchObject({
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      redirect_uris: ['com.example.app:/cb', 'http://127.0.0.1/cb'],
    });
    expect(client).not.toHaveProperty('client_secret');
    expect(typeof client.client_id).toBe('string');
    expect(typeof client.registration_access_token).toBe('string');
    expect(await iatUses(iat.id)).toBe(1);
  });

  it('forces none over a client_secret_basic the registrant asked for, and issues no secret', async () => {
    const iat = await mintIat({ policies: ['native-app'] });
    const client = await registered(
      await register(svc, { redirect_uris: ['http://127.0.0.1:8123/cb'], token_endpoint_auth_method: 'client_secret_basic', application_type: 'web' }, iat.token),
    );
    expect(client.token_endpoint_auth_method).toBe('none');
    expect(client.application_type).toBe('native');
    expect(client).not.toHaveProperty('client_secret');
  });

  it('refuses an https redirect URI on another host, naming policy "native-app"', async () => {
    const iat = await mintIat({ policies: ['native-app'] });
    await expectPolicyViolation(
      await register(svc, { redirect_uris: ['http://127.0.0.1/cb', 'https://evil.example.com/cb'] }, iat.token),
      'native-app',
      'redirect_uris',
    );
    expect(await iatUses(iat.id)).toBe(0);
  });

  it('refuses the client_credentials grant, naming policy "native-app"', async () => {
    const iat = await mintIat({ policies: ['native-app'] });
    await expectPolicyViolation(await register(svc, { grant_types: ['client_credentials'] }, iat.token), 'native-app', 'grant_types');
    expect(await iatUses(iat.id)).toBe(0);
  });

  it('cannot be deleted through the admin API while an initial access token names it: 409, and it still applies', async () => {
    const iat = await mintIat({ policies: ['native-app'] });
    await expectError(await svc.admin('/admin/policies/native-app', { method: 'DELETE' }), 409, 'conflict', 'initial access tokens', iat.id);
    await registered(await register(svc, { redirect_uris: ['com.example.app:/cb'] }, iat.token));
  });
});

describe('max_clients', () => {
  it('creates exactly max_clients clients under 200 concurrent registrations; the rest get 400 naming max_clients and burn no IAT use', async () => {
    const name = uniqueName('max-clients');
    await createPolicy(name, { max_clients: 3 });
    const iat = await mintIat({ policies: [name], max_uses: 200 });

    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => register(svc, machineClient({ client_name: `${name}-${i}` }), iat.token)),
    );
    const statuses = responses.map((r) => r.status);
    const bodies = await Promise.all(responses.map((r) => body(r)));
    const created = statuses.filter((s) => s === 201).length;
    const histogram = statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});
    expect({ created, histogram }).toEqual({ created: 3, histogram: { 201: 3, 400: 197 } });
    for (const [i, parsed] of bodies.entries()) {
      if (statuses[i] === 201) continue;
      expect(parsed.error).toBe('invalid_client_metadata');
      expect(String(parsed.error_description)).toContain('max_clients');
      expect(String(parsed.error_description)).toContain(`policy "${name}"`);
    }

    expect((await readPolicy(name)).clients_created).toBe(3);
    expect(await iatUses(iat.id)).toBe(3);
    const rows = await query('SELECT count(*)::int AS n FROM clients WHERE initial_access_token_id = $1', [iat.id]);
    expect(rows.rows[0].n).toBe(3);
  });

  it('counts clients per policy across IATs: a second IAT naming the same policy gets no more clients', async () => {
    const name = uniqueName('max-across');
    await createPolicy(name, { max_clients: 1 });
    const first = await mintIat({ policies: [name] });
    const second = await mintIat({ policies: [name] });
    await registered(await register(svc, machineClient(), first.token));
    await expectPolicyViolation(await register(svc, machineClient(), second.token), name, 'max_clients');
    expect(await iatUses(second.id)).toBe(0);
    expect((await readPolicy(name)).clients_created).toBe(1);
  });

  it('keeps clients_created across a PUT of the policy: raising max_clients admits exactly the new headroom', async () => {
    const name = uniqueName('max-raised');
    await createPolicy(name, { max_clients: 1 });
    const iat = await mintIat({ policies: [name], max_uses: 5 });
    await registered(await register(svc, machineClient(), iat.token));
    await expectPolicyViolation(await register(svc, machineClient(), iat.token), name, 'max_clients');

    // clients_created is the server's count: a body that carries it changes nothing.
    const put = await svc.admin(`/admin/policies/${name}`, { method: 'PUT', json: { name, rules: { max_clients: 2 }, clients_created: 0 } });
    expect(put.status).toBe(200);
    expect((await body(put)).clients_created).toBe(1);
    await registered(await register(svc, machineClient(), iat.token));
    await expectPolicyViolation(await register(svc, machineClient(), iat.token), name, 'max_clients');
    expect((await readPolicy(name)).clients_created).toBe(2);
    expect(await iatUses(iat.id)).toBe(2);
  });

  it('does not count a registration refused by validation against max_clients', async () => {
    const name = uniqueName('max-invalid');
    await createPolicy(name, { max_clients: 1 });
    const iat = await mintIat({ policies: [name] });
    const bad = await register(svc, machineClient({ client_uri: 'http://insecure.example.com' }), iat.token);
    await expectError(bad, 400, 'invalid_client_metadata', 'client_uri');
    expect((await readPolicy(name)).clients_created).toBe(0);
    await registered(await register(svc, machineClient(), iat.token));
    expect((await readPolicy(name)).clients_created).toBe(1);
  });
});

describe('deleting a policy that an initial access token still names', () => {
  it('refuses DELETE with 409 naming the unexpired, not used-up IAT; after the IAT is revoked the policy deletes with 204', async () => {
    const name = uniqueName('in-use');
    await createPolicy(name, {});
    const iat = await mintIat({ policies: [name], expires_in: 3600, max_uses: 5 });

    const refused = await svc.admin(`/admin/policies/${name}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(String((await body(refused)).error_description)).toContain(iat.id);
    expect((await readPolicy(name)).name).toBe(name);

    expect((await svc.admin(`/admin/initial-access-tokens/${iat.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await svc.admin(`/admin/policies/${name}`, { method: 'DELETE' })).status).toBe(204);
    expect((await svc.admin(`/admin/policies/${name}`)).status).toBe(404);
  });

  it('refuses DELETE while a used-up but unexpired IAT or a client names the policy, naming both; 204 once neither does', async () => {
    const name = uniqueName('used-up');
    await createPolicy(name, {});
    const iat = await mintIat({ policies: [name], max_uses: 1 });
    const client = await registered(await register(svc, machineClient(), iat.token));
    expect(await iatUses(iat.id)).toBe(1);

    const refused = await svc.admin(`/admin/policies/${name}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    const description = String((await body(refused)).error_description);
    expect(description).toContain(iat.id);
    expect(description).toContain('1 client');
    expect((await readPolicy(name)).name).toBe(name);

    // Without the IAT, the client alone still holds the policy.
    expect((await svc.admin(`/admin/initial-access-tokens/${iat.id}`, { method: 'DELETE' })).status).toBe(204);
    const held = await svc.admin(`/admin/policies/${name}`, { method: 'DELETE' });
    expect(held.status).toBe(409);
    const heldBy = String((await body(held)).error_description);
    expect(heldBy).toContain('1 client');
    expect(heldBy).not.toContain(iat.id);

    expect((await svc.admin(`/admin/clients/${String(client.client_id)}`, { method: 'DELETE' })).status).toBe(204);
    expect((await svc.admin(`/admin/policies/${name}`, { method: 'DELETE' })).status).toBe(204);
    expect((await svc.admin(`/admin/policies/${name}`)).status).toBe(404);
  });

  it('lets an expired IAT go: a policy named only by expired tokens deletes with 204', async () => {
    const name = uniqueName('expired-only');
    await createPolicy(name, {});
    const iat = await mintIat({ policies: [name], expires_in: 3600 });
    await query(`UPDATE initial_access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [iat.id]);
    expect((await svc.admin(`/admin/policies/${name}`, { method: 'DELETE' })).status).toBe(204);
  });
});

describe('an RFC 7592 update of a client whose policy is missing (fail closed)', () => {
  it('is refused with 400 invalid_client_metadata naming the policy, and the stored client is unchanged', async () => {
    const name = uniqueName('vanished');
    await createPolicy(name, { allowed_scopes: ['read'] });
    const iat = await mintIat({ policies: [name] });
    const client = await registered(await register(svc, machineClient({ scope: 'read' }), iat.token));
    // A policy can no longer be deleted while a client names it; one removed behind the API's back must not open the door.
    await query('DELETE FROM policies WHERE name = $1', [name]);

    const rat = String(client.registration_access_token);
    const res = await manage(svc, 'PUT', String(client.client_id), rat, { ...machineClient({ scope: 'read write admin' }), client_id: client.client_id });
    await expectError(res, 400, 'invalid_client_metadata', `policy "${name}"`);
    const stored = await manage(svc, 'GET', String(client.client_id), rat);
    expect(stored.status).toBe(200);
    expect((await body(stored)).scope).toBe('read');
  });
});
