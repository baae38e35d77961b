// Cases where two features meet: policies at RFC 7592 updates on the embedded
// database, operator fields and secret lifetimes across updates, concurrent key rotations.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApp, type RunningApp } from '../support/app.js';
import { manage, mintIat, register } from '../support/dcr.js';

describe('on the embedded database', () => {
  let svc: RunningApp;
  beforeAll(async () => {
    svc = await startApp({ env: { DATA_DIR: join(mkdtempSync(join(tmpdir(), 'registrar-consistency-')), 'data') } });
  }, 60_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('an RFC 7592 update re-applies a stored policy without waiting for a second connection', async () => {
    const name = `embedded-${Date.now()}`;
    expect((await svc.admin('/admin/policies', { method: 'POST', json: { name, rules: { allowed_scopes: ['a', 'b'] } } })).status).toBe(201);
    const res = await register(svc, { grant_types: ['client_credentials'], scope: 'a' }, await mintIat(svc, { policies: [name] }));
    expect(res.status).toBe(201);
    const client = (await res.json()) as { client_id: string; registration_access_token: string };
    const started = Date.now();
    const put = await manage(svc, 'PUT', client.client_id, client.registration_access_token, {
      client_id: client.client_id,
      grant_types: ['client_credentials'],
      scope: 'b',
    });
    expect(put.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    const refused = await manage(svc, 'PUT', client.client_id, ((await put.json()) as { registration_access_token: string }).registration_access_token, {
      client_id: client.client_id,
      grant_types: ['client_credentials'],
      scope: 'c',
    });
    expect(refused.status).toBe(400);
  }, 30_000);
});

describe('on PostgreSQL', () => {
  let svc: RunningApp;
  beforeAll(async () => {
    svc = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_CLIENT_SECRET_EXPIRES_IN: '3600' } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('a policy default or narrowing also applies when the registrant sends "scope": null', async () => {
    const name = `null-scope-${Date.now()}`;
    await svc.admin('/admin/policies', { method: 'POST', json: { name, rules: { allowed_scopes: ['read'], defaults: { scope: 'read' } } } });
    const res = await register(svc, { grant_types: ['client_credentials'], scope: null }, await mintIat(svc, { policies: [name] }));
    expect(res.status).toBe(201);
    expect(((await res.json()) as { scope: string }).scope).toBe('read');
  });

  it('an RFC 7592 update keeps the fields an operator set, and a registrant never sees them', async () => {
    const res = await register(svc, { grant_types: ['client_credentials'] }, await mintIat(svc, {}));
    const client = (await res.json()) as Record<string, string>;
    const patched = await svc.admin(`/admin/clients/${client.client_id}`, {
      method: 'PATCH',
      json: [
        { op: 'replace', path: '/owner', value: 'team-ops' },
        { op: 'add', path: '/skip_consent', value: true },
      ],
    });
    expect(patched.status).toBe(200);
    const read = (await (await manage(svc, 'GET', client.client_id, client.registration_access_token)).json()) as Record<string, unknown>;
    expect(read).not.toHaveProperty('owner');
    expect(read).not.toHaveProperty('skip_consent');
    // What the GET returned goes back in a PUT, as RFC 7592 §2.2 has clients do.
    const { registration_client_uri: _uri, client_id_issued_at: _issued, client_secret_expires_at: _expires, ...body } = read;
    const put = await manage(svc, 'PUT', client.client_id, client.registration_access_token, body);
    expect(put.status).toBe(200);
    const admin = (await (await svc.admin(`/admin/clients/${client.client_id}`)).json()) as Record<string, unknown>;
    expect(admin).toMatchObject({ owner: 'team-ops', skip_consent: true });
  });

  it('a secret first issued at an update still expires after client_secret.expires_in', async () => {
    const res = await register(
      svc,
      { grant_types: ['authorization_code'], token_endpoint_auth_method: 'none', application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'] },
      await mintIat(svc, {}),
    );
    const client = (await res.json()) as Record<string, unknown>;
    expect(client.client_secret).toBeUndefined();
    const put = await manage(svc, 'PUT', client.client_id as string, client.registration_access_token as string, {
      client_id: client.client_id,
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    expect(put.status).toBe(200);
    const updated = (await put.json()) as { client_secret?: string; client_secret_expires_at: number };
    expect(updated.client_secret).toBeTruthy();
    const expected = Math.floor(Date.now() / 1000) + 3600;
    expect(Math.abs(updated.client_secret_expires_at - expected)).toBeLessThanOrEqual(5);
  });

  it('a sector_identifier_uri that cannot be fetched is refused without telling the registrant why the network said no', async () => {
    const res = await register(
      svc,
      { redirect_uris: ['https://a.example.com/cb'], sector_identifier_uri: 'https://127.0.0.1:9/sector.json' },
      await mintIat(svc, {}),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_client_metadata');
    expect(body.error_description).toContain('sector_identifier_uri');
    expect(body.error_description).not.toMatch(/127\.0\.0\.1|private|loopback|ECONNREFUSED/);
    expect(svc.logs.some((l) => l.includes('sector_identifier_uri fetch failed'))).toBe(true);
  });

  it('concurrent key rotations leave exactly one active key per algorithm', async () => {
    const results = await Promise.all([1, 2, 3].map(() => svc.admin('/admin/keys/rotate', { method: 'POST' })));
    expect(results.map((r) => r.status)).toEqual([201, 201, 201]);
    const keys = (await (await svc.admin('/admin/keys')).json()) as Array<{ alg: string; state: string }>;
    expect(keys.filter((k) => k.state === 'active' && k.alg === 'RS256')).toHaveLength(1);
  });
});
