// Client secret rotation without downtime over real HTTP (README "Rotating
// client secrets"): the admin route (Hydra's POST /admin/clients/{id}/secrets/rotate),
// the RFC 7592 self-service route, the overlap, the admin view, concurrency and the janitor.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClientsService } from '../../src/clients/clients.service.js';
import { JanitorService } from '../../src/database/janitor.service.js';
import { machineClient, PUBLIC_JWK, webClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { createAdminClient, registerClient } from '../support/dcr.js';
import { tokenRequest } from '../support/oauth-flow.js';
import { basicAuth } from '../support/net.js';
import { query } from '../support/postgres.js';

let svc: RunningApp;

beforeAll(async () => {
  // The configured overlap is long; tests end it through the database or with the admin's per-request override.
  svc = await startApp({ env: { OAUTH2_CLIENT_SECRET_ROTATION_OVERLAP: '2h' } });
});
afterAll(async () => {
  await svc?.close();
});

type Body = Record<string, unknown>;

async function createClient(body: Body): Promise<Body> {
  return (await createAdminClient(svc, body)) as Body;
}

async function rotate(clientId: string, json?: Body): Promise<{ status: number; body: Body; cacheControl: string | null }> {
  const res = await svc.admin(`/admin/clients/${encodeURIComponent(clientId)}/secrets/rotate`, { method: 'POST', ...(json ? { json } : {}) });
  return { status: res.status, body: (await res.json()) as Body, cacheControl: res.headers.get('cache-control') };
}

async function adminView(clientId: string): Promise<Body> {
  return (await (await svc.admin(`/admin/clients/${encodeURIComponent(clientId)}`)).json()) as Body;
}

/** The status of a client_credentials request authenticated with this secret (Basic). */
async function tokenStatus(clientId: string, secret: string): Promise<number> {
  return (await tokenRequest(svc, { grant_type: 'client_credentials' }, { id: clientId, secret })).status;
}

/** Ends the client's rotated secrets now, as the passing of the overlap would. */
async function endOverlap(clientId: string): Promise<void> {
  await query(
    `UPDATE clients SET rotated_secrets = (
       SELECT jsonb_agg(jsonb_set(s, '{expires_at}', to_jsonb((now() - interval '1 second')::text))) FROM jsonb_array_elements(rotated_secrets) s)
     WHERE id = $1`,
    [clientId],
  );
  // The change bypassed the service: make every cached copy of the client go.
  await svc.app.get(ClientsService).invalidate(clientId);
}

describe('POST /admin/clients/{id}/secrets/rotate (Hydra rotateOAuth2ClientSecret)', () => {
  it('returns the client with a new client_secret, once, and both the old and the new secret authenticate during the overlap', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const old = client.client_secret as string;
    const rotated = await rotate(id);
    expect(rotated.status).toBe(200);
    expect(rotated.cacheControl).toBe('no-store');
    const fresh = rotated.body.client_secret as string;
    expect(typeof fresh).toBe('string');
    expect(fresh.length).toBeGreaterThanOrEqual(43);
    expect(fresh).not.toBe(old);
    expect(rotated.body).toMatchObject({ client_id: id, token_endpoint_auth_method: 'client_secret_basic', client_secret_expires_at: 0 });
    expect(await tokenStatus(id, old)).toBe(200);
    expect(await tokenStatus(id, fresh)).toBe(200);
    expect(await tokenStatus(id, `${fresh}x`)).toBe(401);
    // A later read never shows a secret value.
    const view = await adminView(id);
    expect(view).not.toHaveProperty('client_secret');
    expect(JSON.stringify(view)).not.toContain(fresh);
    expect(JSON.stringify(view)).not.toContain(old);
  });

  it('lists both secrets in client_secrets without values: the current one first, the previous one expiring after the configured overlap', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const before = Date.now();
    const { body } = await rotate(id);
    const secrets = body.client_secrets as Array<Record<string, unknown>>;
    expect(secrets).toHaveLength(2);
    expect(secrets.map((s) => Object.keys(s).sort())).toEqual([
      ['created_at', 'current', 'expires_at'],
      ['created_at', 'current', 'expires_at'],
    ]);
    expect(secrets[0]).toMatchObject({ current: true, expires_at: null });
    expect(secrets[1]).toMatchObject({ current: false, created_at: client.created_at });
    const expiresAt = Date.parse(secrets[1].expires_at as string);
    // 2h configured: the previous secret ends two hours after the rotation, not before, not much after.
    expect(expiresAt).toBeGreaterThanOrEqual(before + 2 * 3600_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 2 * 3600_000 + 1000);
    expect(await adminView(id)).toMatchObject({ client_secrets: secrets });
  });

  it('after the overlap only the new secret works, and the janitor removes the expired one', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const old = client.client_secret as string;
    const fresh = (await rotate(id)).body.client_secret as string;
    await endOverlap(id);
    expect(await tokenStatus(id, old)).toBe(401);
    expect(await tokenStatus(id, fresh)).toBe(200);
    expect((await adminView(id)).client_secrets).toEqual([expect.objectContaining({ current: true })]);
    const { rows: before } = await query(`SELECT jsonb_array_length(rotated_secrets) AS n FROM clients WHERE id = $1`, [id]);
    expect(before[0].n).toBe(1);
    const counts = await svc.app.get(JanitorService).runOnce();
    expect(counts!.expired_rotated_client_secrets).toBeGreaterThanOrEqual(1);
    const { rows: after } = await query(`SELECT jsonb_array_length(rotated_secrets) AS n FROM clients WHERE id = $1`, [id]);
    expect(after[0].n).toBe(0);
    expect(await tokenStatus(id, fresh)).toBe(200);
  });

  it('takes previous_secret_expires_in per request: 0 ends the old secret at once', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const { status, body } = await rotate(id, { previous_secret_expires_in: 0 });
    expect(status).toBe(200);
    expect(await tokenStatus(id, client.client_secret as string)).toBe(401);
    expect(await tokenStatus(id, body.client_secret as string)).toBe(200);
    expect(body.client_secrets).toEqual([expect.objectContaining({ current: true })]);
  });

  it('takes previous_secret_expires_in as a duration string', async () => {
    const client = await createClient(machineClient());
    const before = Date.now();
    const { body } = await rotate(client.client_id as string, { previous_secret_expires_in: '10m' });
    const previous = (body.client_secrets as Array<Record<string, unknown>>)[1];
    expect(Date.parse(previous.expires_at as string)).toBeGreaterThanOrEqual(before + 600_000 - 1000);
    expect(Date.parse(previous.expires_at as string)).toBeLessThanOrEqual(Date.now() + 600_000 + 1000);
  });

  it.each([
    [{ previous_secret_expires_in: -1 }, 'previous_secret_expires_in'],
    [{ previous_secret_expires_in: 'soon' }, 'previous_secret_expires_in'],
    [{ previous_secret_expires_in: 400 * 86400 }, 'previous_secret_expires_in'],
    [{ client_secret: 'chosen-by-the-caller' }, 'client_secret'],
    [{ overlap: '1h' }, 'overlap'],
  ])('refuses the body %j with 400 invalid_request naming %s, and changes nothing', async (json, field) => {
    const client = await createClient(machineClient());
    const { status, body } = await rotate(client.client_id as string, json);
    expect({ status, error: body.error }).toEqual({ status: 400, error: 'invalid_request' });
    expect(body.error_description).toContain(field);
    expect(await tokenStatus(client.client_id as string, client.client_secret as string)).toBe(200);
    expect((await adminView(client.client_id as string)).client_secrets).toHaveLength(1);
  });

  it.each([
    ['a JSON array', 'application/json', '[]'],
    ['a JSON string', 'application/json', '"1h"'],
    ['malformed JSON', 'application/json', '{"previous_secret_expires_in":'],
    ['a nested object', 'application/json', '{"previous_secret_expires_in":{"$gt":0}}'],
    ['an unsupported media type', 'text/plain', 'previous_secret_expires_in=0'],
  ])('answers %s as the body with a JSON 4xx, never a 5xx, and rotates nothing', async (_what, type, raw) => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const res = await svc.admin(`/admin/clients/${encodeURIComponent(id)}/secrets/rotate`, { method: 'POST', headers: { 'Content-Type': type }, body: raw });
    const body = (await res.json()) as Body;
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(typeof body.error).toBe('string');
    expect(body).not.toHaveProperty('client_secret');
    expect((await adminView(id)).client_secrets).toHaveLength(1);
    expect(await tokenStatus(id, client.client_secret as string)).toBe(200);
  });

  it('refuses a public client (token_endpoint_auth_method none) with 400 invalid_request saying it has no secret', async () => {
    const client = await createClient(webClient({ token_endpoint_auth_method: 'none' }));
    const { status, body } = await rotate(client.client_id as string);
    expect({ status, error: body.error }).toEqual({ status: 400, error: 'invalid_request' });
    expect(body.error_description).toContain('token_endpoint_auth_method none');
    expect(body.error_description).toContain('no client secret');
    expect(body).not.toHaveProperty('client_secret');
  });

  it('refuses a private_key_jwt client likewise', async () => {
    const client = await createClient(machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [PUBLIC_JWK] } }));
    const { status, body } = await rotate(client.client_id as string);
    expect({ status, error: body.error }).toEqual({ status: 400, error: 'invalid_request' });
    expect(body.error_description).toContain('private_key_jwt');
  });

  it('answers an unknown client with 404 not_found', async () => {
    const { status, body } = await rotate('no-such-client');
    expect({ status, error: body.error }).toEqual({ status: 404, error: 'not_found' });
  });

  it('keeps at most five rotated secrets: a sixth rotation ends the oldest', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const secrets = [client.client_secret as string];
    for (let i = 0; i < 6; i += 1) secrets.push((await rotate(id)).body.client_secret as string);
    expect((await adminView(id)).client_secrets).toHaveLength(6);
    expect(await tokenStatus(id, secrets[0])).toBe(401);
    for (const secret of secrets.slice(1)) expect(await tokenStatus(id, secret)).toBe(200);
  });

  it('settles concurrent rotations in the database: no secret is lost and exactly the intended ones stay valid', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const answers = await Promise.all([rotate(id), rotate(id), rotate(id)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const issued = answers.map((a) => a.body.client_secret as string);
    expect(new Set(issued).size).toBe(3);
    // Each rotation saw the one before it: the original and every issued secret authenticate, one of them is current.
    for (const secret of [client.client_secret as string, ...issued]) expect(await tokenStatus(id, secret)).toBe(200);
    const listed = (await adminView(id)).client_secrets as Array<Record<string, unknown>>;
    expect(listed).toHaveLength(4);
    expect(listed.filter((s) => s.current)).toHaveLength(1);
  });

  it('with no overlap, of concurrent rotations only the last one\'s secret stays valid', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const answers = await Promise.all([rotate(id, { previous_secret_expires_in: 0 }), rotate(id, { previous_secret_expires_in: 0 })]);
    const statuses = await Promise.all(answers.map((a) => tokenStatus(id, a.body.client_secret as string)));
    expect(statuses.sort()).toEqual([200, 401]);
    expect(await tokenStatus(id, client.client_secret as string)).toBe(401);
    expect((await adminView(id)).client_secrets).toHaveLength(1);
  });

  it('a new client_secret set through the admin PUT replaces every rotated secret, as in Hydra', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const rotated = (await rotate(id)).body.client_secret as string;
    const chosen = 'an-operator-chosen-secret-value';
    const res = await svc.admin(`/admin/clients/${encodeURIComponent(id)}`, { method: 'PUT', json: { ...machineClient(), client_secret: chosen } });
    expect(res.status).toBe(200);
    expect(await tokenStatus(id, client.client_secret as string)).toBe(401);
    expect(await tokenStatus(id, rotated)).toBe(401);
    expect(await tokenStatus(id, chosen)).toBe(200);
  });

  it('an admin PUT without client_secret keeps the current and the rotated secrets; client_secrets sent back are ignored', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const rotated = (await rotate(id)).body;
    const res = await svc.admin(`/admin/clients/${encodeURIComponent(id)}`, {
      method: 'PUT',
      json: { ...machineClient(), client_secrets: [] },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Body).client_secrets).toHaveLength(2);
    expect(await tokenStatus(id, client.client_secret as string)).toBe(200);
    expect(await tokenStatus(id, rotated.client_secret as string)).toBe(200);
  });

  it('DELETE /admin/clients/{id}/secrets/rotate ends the rotated secrets at once and keeps the current one', async () => {
    const client = await createClient(machineClient());
    const id = client.client_id as string;
    const fresh = (await rotate(id)).body.client_secret as string;
    const res = await svc.admin(`/admin/clients/${encodeURIComponent(id)}/secrets/rotate`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Body;
    expect(body).not.toHaveProperty('client_secret');
    expect(body.client_secrets).toEqual([expect.objectContaining({ current: true })]);
    expect(await tokenStatus(id, client.client_secret as string)).toBe(401);
    expect(await tokenStatus(id, fresh)).toBe(200);
  });

  it('gives the new secret of a DCR client the configured DCR secret lifetime, and the old one no later expiry than its own', async () => {
    const expiring = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_CLIENT_SECRET_EXPIRES_IN: '1h' } });
    try {
      const registered = await registerClient(expiring, machineClient());
      const id = registered.client_id as string;
      const res = await expiring.admin(`/admin/clients/${encodeURIComponent(id)}/secrets/rotate`, { method: 'POST' });
      const body = (await res.json()) as Body;
      const secrets = body.client_secrets as Array<Record<string, unknown>>;
      expect(registered.client_secret_expires_at).toBeGreaterThan(0);
      expect(body.client_secret_expires_at).toBeGreaterThanOrEqual(registered.client_secret_expires_at as number);
      // client_secret_expires_at is the current secret's expiry (RFC 7591 §3.2.1).
      expect(Math.floor(Date.parse(secrets[0].expires_at as string) / 1000)).toBe(body.client_secret_expires_at);
      // The overlap (24h by default) is cut at the old secret's own expiry.
      expect(Math.floor(Date.parse(secrets[1].expires_at as string) / 1000)).toBe(registered.client_secret_expires_at);
    } finally {
      await expiring.close();
    }
  });
});

describe('POST /oauth2/register/{client_id}/secrets/rotate (RFC 7592 §2.2, self-service)', () => {
  function selfRotate(clientId: string, rat: string | undefined, init: RequestInit = {}): Promise<Response> {
    return fetch(`${svc.url}/oauth2/register/${encodeURIComponent(clientId)}/secrets/rotate`, {
      method: 'POST',
      ...init,
      headers: { ...(rat ? { Authorization: `Bearer ${rat}` } : {}), ...(init.headers as Record<string, string>) },
    });
  }

  it('issues a new secret with the registration access token; the old one works for the overlap; the token stays', async () => {
    const registered = await registerClient(svc, machineClient());
    const id = registered.client_id as string;
    const rat = registered.registration_access_token as string;
    const res = await selfRotate(id, rat);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Body;
    const fresh = body.client_secret as string;
    expect(typeof fresh).toBe('string');
    expect(fresh).not.toBe(registered.client_secret);
    expect(body).toMatchObject({ client_id: id, client_secret_expires_at: 0, registration_client_uri: registered.registration_client_uri });
    // What a registrant sees carries no operator fields and no list of secrets.
    expect(body).not.toHaveProperty('client_secrets');
    expect(body).not.toHaveProperty('registration_access_token');
    expect(await tokenStatus(id, registered.client_secret as string)).toBe(200);
    expect(await tokenStatus(id, fresh)).toBe(200);
    // The registration access token still manages the client.
    const read = await fetch(`${svc.url}/oauth2/register/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${rat}` } });
    expect(read.status).toBe(200);
    await endOverlap(id);
    expect(await tokenStatus(id, registered.client_secret as string)).toBe(401);
    expect(await tokenStatus(id, fresh)).toBe(200);
  });

  it('accepts an empty JSON object as the body', async () => {
    const registered = await registerClient(svc, machineClient());
    const res = await selfRotate(registered.client_id as string, registered.registration_access_token as string, {
      body: '{}',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(res.status).toBe(200);
  });

  it('refuses a body with fields (a registrant chooses neither the secret nor the overlap) with 400 naming them', async () => {
    const registered = await registerClient(svc, machineClient());
    const res = await selfRotate(registered.client_id as string, registered.registration_access_token as string, {
      body: JSON.stringify({ previous_secret_expires_in: 99999 }),
      headers: { 'Content-Type': 'application/json' },
    });
    const body = (await res.json()) as Body;
    expect({ status: res.status, error: body.error }).toEqual({ status: 400, error: 'invalid_request' });
    expect(body.error_description).toContain('previous_secret_expires_in');
    expect(await tokenStatus(registered.client_id as string, registered.client_secret as string)).toBe(200);
  });

  it.each([
    ['a JSON array', 'application/json', '[]'],
    ['a JSON string', 'application/json', '"x"'],
    ['malformed JSON', 'application/json', '{"a":'],
    ['form data', 'application/x-www-form-urlencoded', 'client_secret=x'],
  ])('answers %s as the body with a JSON 4xx, never a 5xx, and rotates nothing', async (_what, type, raw) => {
    const registered = await registerClient(svc, machineClient());
    const res = await selfRotate(registered.client_id as string, registered.registration_access_token as string, {
      body: raw,
      headers: { 'Content-Type': type },
    });
    const body = (await res.json()) as Body;
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(typeof body.error).toBe('string');
    expect(body).not.toHaveProperty('client_secret');
    expect((await adminView(registered.client_id as string)).client_secrets).toHaveLength(1);
  });

  it('answers a missing, wrong or other client\'s registration access token with the same 401 invalid_token', async () => {
    const a = await registerClient(svc, machineClient());
    const b = await registerClient(svc, machineClient());
    for (const rat of [undefined, 'wrong-token', b.registration_access_token as string]) {
      const res = await selfRotate(a.client_id as string, rat);
      const body = (await res.json()) as Body;
      expect({ status: res.status, error: body.error }).toEqual({ status: 401, error: 'invalid_token' });
    }
    expect(await tokenStatus(a.client_id as string, a.client_secret as string)).toBe(200);
    expect(((await adminView(a.client_id as string)).client_secrets as unknown[]).length).toBe(1);
  });

  it('refuses a public client with 400 invalid_request', async () => {
    const registered = await registerClient(
      svc,
      { redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] },
    );
    const res = await selfRotate(registered.client_id as string, registered.registration_access_token as string);
    const body = (await res.json()) as Body;
    expect({ status: res.status, error: body.error }).toEqual({ status: 400, error: 'invalid_request' });
    expect(body.error_description).toContain('no client secret');
  });
});
