import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { everyHydraField, machineClient, webClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { allPages } from '../support/net.js';
import { query } from '../support/postgres.js';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

async function create(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await svc.admin('/admin/clients', { method: 'POST', json: body });
  expect(res.status).toBe(201);
  return (await res.json()) as Record<string, unknown>;
}

describe('admin API: authentication', () => {
  it('refuses a request without credentials with 401 and a Bearer challenge', async () => {
    const res = await fetch(`${svc.url}/admin/clients`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses a wrong key with error="invalid_token" in the challenge', async () => {
    const res = await fetch(`${svc.url}/admin/clients`, { headers: { Authorization: 'Bearer wrong' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('guards every admin client route, including unknown ids', async () => {
    for (const [method, path] of [
      ['GET', '/admin/clients/x'],
      ['PUT', '/admin/clients/x'],
      ['PATCH', '/admin/clients/x'],
      ['DELETE', '/admin/clients/x'],
      ['POST', '/admin/clients'],
    ]) {
      const res = await fetch(svc.url + path, { method });
      expect(res.status).toBe(401);
    }
  });
});

describe('admin API: create and read', () => {
  it('round-trips every Hydra client field', async () => {
    const input = everyHydraField();
    const created = await create(input);
    for (const [key, value] of Object.entries(input)) expect(created[key]).toEqual(value);
    const res = await svc.admin(`/admin/clients/${created.client_id as string}`);
    expect(res.status).toBe(200);
    const read = (await res.json()) as Record<string, unknown>;
    for (const [key, value] of Object.entries(input)) expect(read[key]).toEqual(value);
    expect(read.created_via).toBe('admin');
    expect(typeof read.created_at).toBe('string');
  });

  it('returns a generated secret of at least 256 bits once, and stores only its hash', async () => {
    const created = await create(machineClient());
    const secret = created.client_secret as string;
    expect(Buffer.from(secret, 'base64url').length).toBeGreaterThanOrEqual(32);
    const read = (await (await svc.admin(`/admin/clients/${created.client_id as string}`)).json()) as Record<string, unknown>;
    expect(read.client_secret).toBeUndefined();
    const { rows } = await query('SELECT secret_hash, fields::text AS fields FROM clients WHERE id = $1', [created.client_id]);
    expect(rows[0].secret_hash).toMatch(/^sha256\$/);
    expect(rows[0].secret_hash).not.toContain(secret);
    expect(rows[0].fields).not.toContain(secret);
  });

  it('sends Cache-Control: no-store with a response that carries a secret', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient() });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('accepts an operator-chosen client_id and secret, hashing the secret with scrypt', async () => {
    const id = `chosen-${Date.now()}`;
    const created = await create(machineClient({ client_id: id, client_secret: 'operator-secret' }));
    expect(created.client_id).toBe(id);
    expect(created.client_secret).toBe('operator-secret');
    const { rows } = await query('SELECT secret_hash FROM clients WHERE id = $1', [id]);
    expect(rows[0].secret_hash).toMatch(/^scrypt\$/);
  });

  it('answers 409 conflict for a client_id that is taken', async () => {
    const id = `dup-${Date.now()}`;
    await create(machineClient({ client_id: id }));
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ client_id: id }) });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'conflict' });
  });

  it('gives public clients no secret', async () => {
    const created = await create(webClient({ token_endpoint_auth_method: 'none', application_type: 'native', redirect_uris: ['com.example.app:/cb'] }));
    expect(created.client_secret).toBeUndefined();
  });

  it('answers 404 JSON for an unknown client', async () => {
    const res = await svc.admin('/admin/clients/does-not-exist');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });

  it('rejects invalid metadata with 400 invalid_client_metadata naming the field', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ grant_types: ['password'] }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, string>;
    expect(body.error).toBe('invalid_client_metadata');
    expect(body.error_description).toContain('grant_types');
  });

  it('rejects a bad redirect URI with 400 invalid_redirect_uri', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: webClient({ redirect_uris: ['https://a.example.com/cb#frag'] }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_redirect_uri' });
  });

  it('rejects an unknown access_token_strategy', async () => {
    const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ access_token_strategy: 'jwe' }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Record<string, string>).error_description).toContain('access_token_strategy');
  });
});

describe('admin API: replace, patch, delete', () => {
  it('PUT replaces the metadata and keeps the secret when none is given', async () => {
    const created = await create(machineClient({ access_token_strategy: 'jwt' }));
    const id = created.client_id as string;
    const res = await svc.admin(`/admin/clients/${id}`, { method: 'PUT', json: { client_id: id, ...machineClient({ client_name: 'renamed' }) } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.client_name).toBe('renamed');
    expect(body.client_secret).toBeUndefined();
    // Full replacement: a strategy that is not in the body is cleared.
    expect(body.access_token_strategy).toBe('');
    const { rows } = await query('SELECT secret_hash FROM clients WHERE id = $1', [id]);
    expect(rows[0].secret_hash).toMatch(/^sha256\$/);
  });

  it('PUT refuses a body whose client_id differs from the path', async () => {
    const created = await create(machineClient());
    const res = await svc.admin(`/admin/clients/${created.client_id as string}`, { method: 'PUT', json: { ...machineClient(), client_id: 'other' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('PATCH applies an RFC 6902 JSON Patch and lets an admin set and clear the strategy', async () => {
    const created = await create(machineClient({ contacts: ['a@example.com'] }));
    const id = created.client_id as string;
    let res = await svc.admin(`/admin/clients/${id}`, {
      method: 'PATCH',
      json: [
        { op: 'replace', path: '/client_name', value: 'patched' },
        { op: 'add', path: '/contacts/-', value: 'b@example.com' },
        { op: 'add', path: '/access_token_strategy', value: 'jwt' },
        { op: 'test', path: '/scope', value: 'read write' },
      ],
    });
    expect(res.status).toBe(200);
    let body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ client_name: 'patched', contacts: ['a@example.com', 'b@example.com'], access_token_strategy: 'jwt' });
    res = await svc.admin(`/admin/clients/${id}`, { method: 'PATCH', json: [{ op: 'replace', path: '/access_token_strategy', value: '' }] });
    body = (await res.json()) as Record<string, unknown>;
    expect(body.access_token_strategy).toBe('');
  });

  it('PATCH with a failing test operation changes nothing', async () => {
    const created = await create(machineClient({ client_name: 'unchanged' }));
    const id = created.client_id as string;
    const res = await svc.admin(`/admin/clients/${id}`, {
      method: 'PATCH',
      json: [
        { op: 'replace', path: '/client_name', value: 'changed' },
        { op: 'test', path: '/scope', value: 'nope' },
      ],
    });
    expect(res.status).toBe(400);
    const read = (await (await svc.admin(`/admin/clients/${id}`)).json()) as Record<string, unknown>;
    expect(read.client_name).toBe('unchanged');
  });

  it('PATCH cannot change client_id', async () => {
    const created = await create(machineClient());
    const res = await svc.admin(`/admin/clients/${created.client_id as string}`, { method: 'PATCH', json: [{ op: 'replace', path: '/client_id', value: 'x' }] });
    expect(res.status).toBe(400);
  });

  it('DELETE answers 204, then the client is gone', async () => {
    const created = await create(machineClient());
    const id = created.client_id as string;
    expect((await svc.admin(`/admin/clients/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await svc.admin(`/admin/clients/${id}`)).status).toBe(404);
    expect((await svc.admin(`/admin/clients/${id}`, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('admin API: listing', () => {
  it('paginates with page_size, page_token and a Link header until every client is seen once', async () => {
    const owner = `pager-${Date.now()}`;
    const ids = new Set<string>();
    for (let i = 0; i < 7; i++) ids.add((await create(machineClient({ owner }))).client_id as string);
    const pages = await allPages<Record<string, unknown>>((path) => svc.admin(path), svc.url, `/admin/clients?page_size=3&owner=${owner}`);
    const seen: string[] = [];
    for (const page of pages) {
      expect(page.status).toBe(200);
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((c) => c.client_id as string));
    }
    expect(pages).toHaveLength(3);
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('filters by client_name', async () => {
    const name = `named-${Date.now()}`;
    const created = await create(machineClient({ client_name: name }));
    const items = (await (await svc.admin(`/admin/clients?client_name=${name}`)).json()) as Array<Record<string, unknown>>;
    expect(items.map((c) => c.client_id)).toEqual([created.client_id]);
  });

  it('rejects a page_size out of range and a forged page_token with 400', async () => {
    expect((await svc.admin('/admin/clients?page_size=501')).status).toBe(400);
    expect((await svc.admin('/admin/clients?page_size=0')).status).toBe(400);
    expect((await svc.admin('/admin/clients?page_token=%%%')).status).toBe(400);
  });
});
