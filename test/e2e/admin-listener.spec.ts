// The private admin listener (serve.admin.port) and the docs and metrics switches (README "Operating Registrar", Admin listener).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { machineClient } from '../factories/clients.js';
import { registerClient } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { adminFetch, basicAuth, freePort } from '../support/net.js';
import { createDatabase, dropDatabase } from '../support/postgres.js';
import { startService, stopAllServices } from '../support/process.js';

function tokenRequest(base: string, client: Record<string, unknown>): Promise<Response> {
  return fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { Authorization: basicAuth(client.client_id as string, client.client_secret as string), 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
}

describe('with serve.admin.port set', () => {
  let svc: RunningApp;
  let adminUrl: string;

  beforeAll(async () => {
    svc = await startApp({ adminListener: true });
    adminUrl = svc.adminUrl!;
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('serves the admin API on the admin port and answers it with the unknown-route 404 on the public port', async () => {
    const created = await adminFetch(adminUrl, ADMIN_KEY, '/admin/clients', { method: 'POST', json: machineClient() });
    expect(created.status).toBe(201);
    const listed = await adminFetch(adminUrl, ADMIN_KEY, '/admin/clients');
    expect(listed.status).toBe(200);

    await expectOAuthError(await adminFetch(svc.url, ADMIN_KEY, '/admin/clients'), 404, 'not_found', 'no route for GET /admin/clients');
    await expectOAuthError(
      await adminFetch(svc.url, ADMIN_KEY, '/admin/clients', { method: 'POST', json: machineClient() }),
      404,
      'not_found',
    );
    await expectOAuthError(await adminFetch(svc.url, ADMIN_KEY, '/admin/initial-access-tokens', { method: 'POST', json: {} }), 404, 'not_found');
  });

  it('serves /metrics, /docs-json, /docs-yaml and Swagger UI on the admin port only', async () => {
    const metrics = await fetch(`${adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('registrar_http_requests_total');
    const doc = await fetch(`${adminUrl}/docs-json`);
    expect(doc.status).toBe(200);
    expect(((await doc.json()) as { openapi?: string }).openapi).toMatch(/^3\./);
    expect((await fetch(`${adminUrl}/docs-yaml`)).status).toBe(200);
    const ui = await fetch(`${adminUrl}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');

    for (const path of ['/metrics', '/docs-json', '/docs-yaml', '/docs', '/docs/']) {
      await expectOAuthError(await fetch(`${svc.url}${path}`), 404, 'not_found');
    }
  });

  it('serves the token endpoint, registration and discovery on the public port only', async () => {
    const client = await registerClient(svc, { grant_types: ['client_credentials'] });
    expect((await tokenRequest(svc.url, client)).status).toBe(200);
    await expectOAuthError(await tokenRequest(adminUrl, client), 404, 'not_found', 'no route for POST /oauth2/token');

    expect((await fetch(`${svc.url}/.well-known/openid-configuration`)).status).toBe(200);
    await expectOAuthError(await fetch(`${adminUrl}/.well-known/openid-configuration`), 404, 'not_found');
    await expectOAuthError(await fetch(`${adminUrl}/oauth2/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }), 404, 'not_found');
    await expectOAuthError(await fetch(`${adminUrl}/no/such/route`), 404, 'not_found');
  });

  it('gives 404s on either port a request id, as every answer has', async () => {
    const res = await fetch(`${svc.url}/metrics`, { headers: { 'X-Request-Id': 'admin-listener-404' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('admin-listener-404');
  });
});

describe('shutting down with an admin listener', () => {
  it('closes the admin listener with the app', async () => {
    const svc = await startApp({ adminListener: true });
    expect((await fetch(`${svc.adminUrl}/metrics`)).status).toBe(200);
    await svc.close();
    await expect(fetch(`${svc.adminUrl}/metrics`)).rejects.toThrow();
    await expect(fetch(`${svc.url}/.well-known/openid-configuration`)).rejects.toThrow();
  });
});

describe('the service process with SERVE_ADMIN_PORT', () => {
  let db: { name: string; dsn: string } | undefined;

  afterAll(async () => {
    await stopAllServices();
    if (db) await dropDatabase(db.name);
  });

  it('listens on both ports, and on SIGTERM closes both and exits 0', async () => {
    db = await createDatabase('registrar_admin_listener');
    const adminPort = await freePort();
    const svc = await startService({ DSN: db.dsn, SERVE_ADMIN_PORT: String(adminPort), SERVE_ADMIN_HOST: '127.0.0.1' });
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    expect((await adminFetch(adminUrl, ADMIN_KEY, '/admin/clients')).status).toBe(200);
    expect((await fetch(`${adminUrl}/metrics`)).status).toBe(200);
    await expectOAuthError(await fetch(`${svc.url}/metrics`), 404, 'not_found');
    expect((await fetch(`${svc.url}/health/ready`)).status).toBe(200);

    expect(await svc.stop()).toEqual({ code: 0, signal: null });
    await expect(fetch(`${adminUrl}/metrics`)).rejects.toThrow();
  });
});

describe('with serve.docs.enabled and metrics.enabled false', () => {
  let svc: RunningApp;

  beforeAll(async () => {
    svc = await startApp({ env: { SERVE_DOCS_ENABLED: 'false', METRICS_ENABLED: 'false' } });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('answers /docs, /docs-json, /docs-yaml and /metrics with 404 JSON, while the rest is served', async () => {
    for (const path of ['/docs', '/docs-json', '/docs-yaml', '/metrics']) {
      await expectOAuthError(await fetch(`${svc.url}${path}`), 404, 'not_found');
    }
    expect((await svc.admin('/admin/clients')).status).toBe(200);
    expect((await fetch(`${svc.url}/.well-known/openid-configuration`)).status).toBe(200);
  });
});

describe('without serve.admin.port', () => {
  let svc: RunningApp;

  beforeAll(async () => {
    svc = await startApp();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('serves the admin API, metrics, docs and the public routes on the one port', async () => {
    expect(svc.adminUrl).toBeUndefined();
    expect((await svc.admin('/admin/clients')).status).toBe(200);
    expect((await fetch(`${svc.url}/metrics`)).status).toBe(200);
    expect((await fetch(`${svc.url}/docs-json`)).status).toBe(200);
    expect((await fetch(`${svc.url}/.well-known/openid-configuration`)).status).toBe(200);
  });
});
