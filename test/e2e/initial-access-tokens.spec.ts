// Initial access tokens (RFC 7591 §3; README, Registering a client): the admin API and the
// registration gate, over real HTTP against the real app on the run's PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { type MintedIat, mintIatRecord, register } from '../support/dcr.js';
import { query } from '../support/postgres.js';
import { expectOAuthError as expectError } from '../support/expect.js';
import { allPages, nextLink } from '../support/net.js';

type Json = Record<string, unknown>;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

async function body(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

function mint(json: Json = {}): Promise<MintedIat> {
  return mintIatRecord(svc, json);
}



describe('minting an initial access token: POST /admin/initial-access-tokens', () => {
  it('answers 201 with id, token, description, policies, max_uses, uses, expires_at and created_at, and Cache-Control: no-store', async () => {
    const before = Date.now();
    const res = await svc.admin('/admin/initial-access-tokens', {
      method: 'POST',
      json: { expires_in: 3600, max_uses: 5, description: 'Partner onboarding, ACME Corp' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const iat = await body(res);
    expect(iat).toMatchObject({ description: 'Partner onboarding, ACME Corp', policies: [], max_uses: 5, uses: 0 });
    expect(typeof iat.id).toBe('string');
    expect(typeof iat.token).toBe('string');
    expect((iat.token as string).length).toBeGreaterThanOrEqual(32);
    expect(iat.expires_at).toMatch(RFC3339);
    expect(iat.created_at).toMatch(RFC3339);
    const expiresAt = Date.parse(iat.expires_at as string);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3600_000 - 5_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000 + 5_000);
    const createdAt = Date.parse(iat.created_at as string);
    expect(Math.abs(createdAt - Date.now())).toBeLessThan(60_000);
  });

  it('accepts expires_in as a duration string such as 7d', async () => {
    const iat = await mint({ expires_in: '7d' });
    const expected = Date.now() + 7 * 86400_000;
    expect(Math.abs(Date.parse(iat.expires_at as string) - expected)).toBeLessThan(60_000);
  });

  it('defaults to max_uses 1, no policies and no expiry', async () => {
    const iat = await mint({});
    expect(iat.max_uses).toBe(1);
    expect(iat.uses).toBe(0);
    expect(iat.policies).toEqual([]);
    expect(iat.expires_at).toBeNull();
    expect(typeof iat.token).toBe('string');
  });

  it('mints a token that registers a client, once for max_uses 1', async () => {
    const iat = await mint({});
    const first = await register(svc, machineClient(), iat.token as string);
    expect(first.status).toBe(201);
    const second = await register(svc, machineClient(), iat.token as string);
    await expectError(second, 401, 'invalid_token');
    expect(second.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect((await body(await svc.admin(`/admin/initial-access-tokens/${iat.id as string}`))).uses).toBe(1);
  });

  it('mints a token that stops registering once expires_in has passed', async () => {
    const iat = await mint({ expires_in: 1, max_uses: 5 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const late = await register(svc, machineClient(), iat.token as string);
    await expectError(late, 401, 'invalid_token');
    expect(late.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect((await body(await svc.admin(`/admin/initial-access-tokens/${iat.id as string}`))).uses).toBe(0);
  });

  it('does not count a use for a rejected registration', async () => {
    const iat = await mint({ max_uses: 1 });
    const rejected = await register(svc, machineClient({ grant_types: ['password'] }), iat.token as string);
    await expectError(rejected, 400, 'invalid_client_metadata');
    expect((await body(await svc.admin(`/admin/initial-access-tokens/${iat.id as string}`))).uses).toBe(0);
    expect((await register(svc, machineClient(), iat.token as string)).status).toBe(201);
  });

  it.each<[string, Json]>([
    ['max_uses 0', { max_uses: 0 }],
    ['max_uses "x"', { max_uses: 'x' }],
    ['expires_in -5', { expires_in: -5 }],
    ['expires_in "soon"', { expires_in: 'soon' }],
    ['an unknown property', { max_uses: 2, colour: 'blue' }],
    ['policies that are not an array', { policies: 'partners' }],
  ])('refuses a body with %s with 400 invalid_request', async (_case, json) => {
    const res = await svc.admin('/admin/initial-access-tokens', { method: 'POST', json });
    await expectError(res, 400, 'invalid_request');
  });

  it('refuses an unknown policy name with 400 naming it', async () => {
    const name = `no-such-policy-${Date.now()}`;
    const res = await svc.admin('/admin/initial-access-tokens', { method: 'POST', json: { policies: [name] } });
    expect(res.status).toBe(400);
    const parsed = await body(res);
    expect(typeof parsed.error).toBe('string');
    expect(String(parsed.error_description)).toContain(name);
  });

  it('stores the token only as a hash: no column of its row holds the token', async () => {
    const iat = await mint({ description: 'hash check' });
    const token = iat.token as string;
    const { rows } = await query('SELECT token_hash, row_to_json(t)::text AS whole FROM initial_access_tokens t WHERE id = $1', [iat.id]);
    expect(rows).toHaveLength(1);
    expect(typeof rows[0].token_hash).toBe('string');
    expect(rows[0].token_hash).not.toBe(token);
    expect(rows[0].token_hash).not.toContain(token);
    expect(rows[0].whole).not.toContain(token);
  });
});

describe('reading, listing and revoking initial access tokens', () => {
  it('GET /admin/initial-access-tokens/{id} shows the token without its value', async () => {
    const iat = await mint({ expires_in: 600, max_uses: 3, description: 'read me' });
    const res = await svc.admin(`/admin/initial-access-tokens/${iat.id as string}`);
    expect(res.status).toBe(200);
    const read = await body(res);
    expect(read).not.toHaveProperty('token');
    const { token: _token, ...rest } = iat;
    expect(read).toEqual(rest);
    expect(JSON.stringify(read)).not.toContain(iat.token as string);
  });

  it('GET of an unknown id answers 404 JSON', async () => {
    await expectError(await svc.admin('/admin/initial-access-tokens/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
  });

  it('lists with page_size, page_token and a Link header, every token once and never its value', async () => {
    const description = `listed-${Date.now()}`;
    const mine = new Map<string, string>();
    for (let i = 0; i < 5; i++) {
      const iat = await mint({ description });
      mine.set(iat.id as string, iat.token as string);
    }

    const first = await svc.admin('/admin/initial-access-tokens?page_size=2');
    expect(first.status).toBe(200);
    expect((await first.json()) as Json[]).toHaveLength(2);
    expect(nextLink(first)).toEqual(expect.stringContaining('page_token='));

    const pages = await allPages<Json>((path) => svc.admin(path), svc.url, '/admin/initial-access-tokens?page_size=4');
    const seen: string[] = [];
    for (const page of pages) {
      expect(page.status).toBe(200);
      expect(page.items.length).toBeLessThanOrEqual(4);
      for (const item of page.items) {
        expect(item).not.toHaveProperty('token');
        seen.push(item.id as string);
      }
    }
    // Every page but the last is full, and the last says no more follow.
    const full = pages.slice(0, -1).map((page) => page.items.length);
    expect(pages.length).toBeGreaterThan(1);
    expect(full).toEqual(full.map(() => 4));
    expect(pages[pages.length - 1].next).toBeUndefined();
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of mine.keys()) expect(seen).toContain(id);
    const listed = JSON.stringify(seen);
    for (const token of mine.values()) expect(listed).not.toContain(token);
  });

  it('refuses a page_size out of range and a forged page_token with 400 invalid_request', async () => {
    await expectError(await svc.admin('/admin/initial-access-tokens?page_size=0'), 400, 'invalid_request');
    await expectError(await svc.admin('/admin/initial-access-tokens?page_size=501'), 400, 'invalid_request');
    await expectError(await svc.admin('/admin/initial-access-tokens?page_token=%%%'), 400, 'invalid_request');
  });

  it('DELETE answers 204; then GET answers 404 and the token no longer registers (401)', async () => {
    const iat = await mint({ max_uses: 5 });
    const id = iat.id as string;
    const res = await svc.admin(`/admin/initial-access-tokens/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    await expectError(await svc.admin(`/admin/initial-access-tokens/${id}`), 404, 'not_found');
    const attempt = await register(svc, machineClient(), iat.token as string);
    await expectError(attempt, 401, 'invalid_token');
    expect(attempt.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    await expectError(await svc.admin(`/admin/initial-access-tokens/${id}`, { method: 'DELETE' }), 404, 'not_found');
  });
});

describe('initial access token admin routes need the admin key', () => {
  it.each([
    ['POST', '/admin/initial-access-tokens'],
    ['GET', '/admin/initial-access-tokens'],
    ['GET', '/admin/initial-access-tokens/{id}'],
    ['DELETE', '/admin/initial-access-tokens/{id}'],
  ])('%s %s answers 401 without the key and with a wrong key', async (method, template) => {
    const iat = await mint({});
    const path = template.replace('{id}', iat.id as string);
    const init: RequestInit = { method };
    if (method === 'POST') init.body = JSON.stringify({ max_uses: 1 });
    const none = await fetch(svc.url + path, { ...init, headers: { 'Content-Type': 'application/json' } });
    await expectError(none, 401, 'invalid_token');
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(svc.url + path, { ...init, headers: { 'Content-Type': 'application/json', Authorization: 'Bearer not-the-admin-key' } });
    await expectError(wrong, 401, 'invalid_token');
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    // An initial access token is not an admin key either.
    const iatAsKey = await fetch(svc.url + path, { ...init, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${iat.token as string}` } });
    expect(iatAsKey.status).toBe(401);
    // Nothing was revoked by the refused calls.
    expect((await svc.admin(`/admin/initial-access-tokens/${iat.id as string}`)).status).toBe(200);
  });
});

describe('the max_uses race', () => {
  it('200 concurrent registrations against an IAT with max_uses 5 create exactly 5 clients', async () => {
    const iat = await mint({ max_uses: 5, expires_in: 3600, description: 'race' });
    const id = iat.id as string;
    const token = iat.token as string;
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${svc.url}/oauth2/register`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify({ grant_types: ['client_credentials'] }),
        }).then(async (res) => ({ status: res.status, body: (await res.json()) as Json })),
      ),
    );
    const created = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 401);
    expect(created).toHaveLength(5);
    expect(refused).toHaveLength(195);
    for (const r of refused) expect(r.body.error).toBe('invalid_token');
    expect(new Set(created.map((r) => r.body.client_id)).size).toBe(5);

    const { rows } = await query('SELECT count(*)::int AS n FROM clients WHERE initial_access_token_id = $1', [id]);
    expect(rows[0].n).toBe(5);
    const read = await body(await svc.admin(`/admin/initial-access-tokens/${id}`));
    expect(read.uses).toBe(5);
    expect(read.max_uses).toBe(5);
  }, 120_000);
});
