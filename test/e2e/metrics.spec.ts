import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApp, type RunningApp } from '../support/app.js';
import { mintIat, register, registerClient } from '../support/dcr.js';
import { basicAuth } from '../support/net.js';

let svc: RunningApp;

beforeAll(async () => {
  svc = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: 'jwt' } });
});
afterAll(async () => {
  await svc?.close();
});

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('GET /metrics', () => {
  it('counts requests per route and status, registrations, rejections, IAT uses and tokens by format', async () => {
    const client = await registerClient(svc, { grant_types: ['client_credentials'] });
    expect((await register(svc, { grant_types: ['client_credentials'], metadata: {} }, await mintIat(svc))).status).toBe(400);
    expect((await register(svc, { grant_types: ['client_credentials'] }, 'unknown')).status).toBe(401);
    const token = await fetch(`${svc.url}/oauth2/token`, {
      method: 'POST',
      headers: { Authorization: basicAuth(client.client_id as string, client.client_secret as string), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(token.status).toBe(200);

    const res = await fetch(`${svc.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(value(text, 'registrar_registrations_total')).toBe(1);
    expect(value(text, 'registrar_initial_access_token_uses_total')).toBe(1);
    expect(value(text, 'registrar_registrations_rejected_total{error="invalid_client_metadata"}')).toBe(1);
    expect(value(text, 'registrar_registrations_rejected_total{error="invalid_token"}')).toBe(1);
    expect(value(text, 'registrar_tokens_issued_total{format="jwt",grant_type="client_credentials"}')).toBe(1);
    expect(value(text, 'registrar_http_requests_total{method="POST",route="/oauth2/register",status="201"}')).toBe(1);
    expect(text).toContain('registrar_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/oauth2/token",status="200"}');
    expect(text).toContain('registrar_process_resident_memory_bytes');
    // Route patterns, never concrete ids, become label values.
    expect(text).not.toContain(client.client_id as string);
  });
});
