// Introspection (RFC 7662) of opaque access tokens answered from each
// instance's token cache (README "Performance"): two instances on one
// PostgreSQL database, over real HTTP. Whatever ends a token early, on either
// instance and by any path, ends it in the other's answers once the database's
// notification arrives, and at once in the instance that ended it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DatabaseEvents } from '../../src/database/database-events.js';
import { JanitorService } from '../../src/database/janitor.service.js';
import { machineClient, webClient } from '../factories/clients.js';
import { startPair, type AppPair, type RunningApp } from '../support/app.js';
import { createAdminClient, type CreatedClient } from '../support/dcr.js';
import { eventually } from '../support/eventually.js';
import { basicAuth } from '../support/net.js';
import { adminIntrospect, codeFlowTokens as codeFlow, tokenRequest } from '../support/oauth-flow.js';
import { query } from '../support/postgres.js';

const REDIRECT = 'https://app.example.com/callback';
const FLOW_ENV = { URLS_LOGIN: 'https://login.example.com/login', URLS_CONSENT: 'https://login.example.com/consent' };
let pair: AppPair;
let a: RunningApp;
let b: RunningApp;

beforeAll(async () => {
  pair = await startPair('registrar_introspect_cache', FLOW_ENV);
  ({ a, b } = pair);
});
afterAll(async () => {
  await pair?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sql = async (text: string, params: unknown[] = []) => (await query(text, params, pair.db.dsn)).rows;

function post(app: RunningApp, path: string, client: CreatedClient, params: Record<string, string>): Promise<Response> {
  return fetch(app.url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.client_id, client.client_secret) },
    body: new URLSearchParams(params).toString(),
  });
}

async function opaqueClient(overrides: Record<string, unknown> = {}): Promise<CreatedClient> {
  return createAdminClient(a, machineClient({ access_token_strategy: 'opaque', ...overrides }));
}

async function issue(app: RunningApp, client: CreatedClient): Promise<string> {
  const res = await post(app, '/oauth2/token', client, { grant_type: 'client_credentials' });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token as string;
}

async function introspect(app: RunningApp, client: CreatedClient, token: string): Promise<Record<string, unknown>> {
  const res = await post(app, '/oauth2/introspect', client, { token });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`introspection at ${app.url} answered ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function active(app: RunningApp, client: CreatedClient, token: string): Promise<boolean> {
  return (await introspect(app, client, token)).active === true;
}

/** A token of `client` issued at A and introspected (so cached) at B. */
async function cachedAtB(client: CreatedClient): Promise<string> {
  const token = await issue(a, client);
  expect(await introspect(b, client, token)).toMatchObject({ active: true, client_id: client.client_id, token_use: 'access_token' });
  return token;
}

/** One statement with no ordinary trigger fired (replica mode): no signal, and no rows deleted along. */
async function withoutTriggers(text: string, params: unknown[]): Promise<void> {
  const db = new pg.Client({ connectionString: pair.db.dsn });
  await db.connect();
  try {
    await db.query('BEGIN');
    await db.query('SET LOCAL session_replication_role = replica');
    await db.query(text, params);
    await db.query('COMMIT');
  } finally {
    await db.end();
  }
}

/** Ends the token's row without the trigger's signal, as if the notification were lost. */
async function revokeSilently(token: string, client: CreatedClient): Promise<void> {
  // Asked at B, which has the token cached already: A has not seen it since it issued it.
  const { jti } = await introspect(b, client, token);
  await withoutTriggers('UPDATE access_tokens SET revoked_at = now() WHERE id = $1', [jti]);
}

/** Runs `work` while listening on the service's channel; the payloads received. */
async function notificationsDuring(work: (received: string[]) => Promise<void>): Promise<string[]> {
  const listener = new pg.Client({ connectionString: pair.db.dsn });
  const received: string[] = [];
  listener.on('notification', (msg) => received.push(msg.payload ?? ''));
  await listener.connect();
  try {
    await listener.query('LISTEN registrar_events');
    await work(received);
  } finally {
    await listener.end();
  }
  return received;
}

/** A code flow with PKCE at A for a confidential web client (the test login and consent apps accept): the token answer. */
async function codeFlowTokens(client: CreatedClient): Promise<Record<string, unknown>> {
  const tokens = await codeFlow(a, client, REDIRECT);
  if (tokens.status !== 200) throw new Error(`code redemption failed: ${tokens.status} ${JSON.stringify(tokens.body)}`);
  return tokens.body;
}

const listening = async () => (await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`))[0].n as number;

describe('introspection answers active opaque tokens from each instance\'s cache', () => {
  beforeAll(async () => {
    // Both instances listen for the database's signals (the cache is used only while they do).
    expect(await eventually(async () => (await listening()) >= 2)).toBe(true);
  });

  it('serves a token it has introspected from memory: a revocation that sends no signal goes unseen there, not at the other instance', async () => {
    const client = await opaqueClient();
    const token = await cachedAtB(client);
    await revokeSilently(token, client);
    // B answers from its cache; this test is what shows the signal below is what ends such an answer.
    expect(await active(b, client, token)).toBe(true);
    expect(await active(a, client, token)).toBe(false);
  });

  it('never caches an unknown token: one issued at A after B was asked about it is active at B at once', async () => {
    const client = await opaqueClient();
    expect(await active(b, client, `unknown-${randomBytes(16).toString('hex')}`)).toBe(false);
    const token = await issue(a, client);
    expect(await active(b, client, token)).toBe(true);
  });

  it('reports a token revoked at A (RFC 7009) inactive at B once the signal arrives, and at A at once', async () => {
    const client = await opaqueClient();
    const token = await cachedAtB(client);
    expect(await active(a, client, token)).toBe(true); // cached at A too
    expect((await post(a, '/oauth2/revoke', client, { token })).status).toBe(200);
    expect(await active(a, client, token)).toBe(false);
    expect(await eventually(async () => !(await active(b, client, token)))).toBe(true);
  });

  it('reports a token revoked at the instance that cached it inactive there at once', async () => {
    const client = await opaqueClient();
    const token = await cachedAtB(client);
    expect((await post(b, '/oauth2/revoke', client, { token })).status).toBe(200);
    expect(await active(b, client, token)).toBe(false);
  });

  it('never caches a refresh token: one spent at A (rotation, RFC 6749 §6) is inactive at B at once', async () => {
    const client = await createAdminClient(a, webClient({ access_token_strategy: 'opaque', redirect_uris: [REDIRECT] }));
    const tokens = await codeFlowTokens(client);
    const refresh = tokens.refresh_token as string;
    expect(await introspect(b, client, refresh)).toMatchObject({ active: true, token_use: 'refresh_token', client_id: client.client_id });
    const rotated = await tokenRequest(a, { grant_type: 'refresh_token', refresh_token: refresh }, { id: client.client_id, secret: client.client_secret });
    expect(rotated.status).toBe(200);
    expect(await introspect(b, client, refresh)).toEqual({ active: false });
    expect(await introspect(b, client, rotated.body.refresh_token as string)).toMatchObject({ active: true, token_use: 'refresh_token' });
  });

  it('reports the access token of a grant revoked at A (its refresh token revoked, RFC 7009 §2.1) inactive at B', async () => {
    const client = await createAdminClient(a, webClient({ access_token_strategy: 'opaque', redirect_uris: [REDIRECT] }));
    const tokens = await codeFlowTokens(client);
    const access = tokens.access_token as string;
    expect(await introspect(b, client, access)).toMatchObject({ active: true, sub: 'alice' });
    expect((await post(a, '/oauth2/revoke', client, { token: tokens.refresh_token as string })).status).toBe(200);
    expect(await active(a, client, access)).toBe(false);
    expect(await eventually(async () => !(await active(b, client, access)))).toBe(true);
  });

  it("reports a client's tokens inactive at B after a bulk revoke_tokens at A, and another client's still active", async () => {
    const owner = `cache-owner-${randomBytes(4).toString('hex')}`;
    const client = await opaqueClient({ owner });
    const bystander = await opaqueClient();
    const token = await cachedAtB(client);
    const untouched = await cachedAtB(bystander);
    const res = await a.admin('/admin/bulk/clients', { method: 'POST', json: { filter: { owner }, action: 'revoke_tokens' } });
    expect(await res.json()).toEqual({ matched: 1, applied: 1 });
    expect(await active(a, client, token)).toBe(false);
    expect(await eventually(async () => !(await active(b, client, token)))).toBe(true);
    expect(await active(b, bystander, untouched)).toBe(true);
  });

  it('reports the tokens of a client suspended at A inactive at B, and active again once it is resumed', async () => {
    const client = await opaqueClient();
    const token = await cachedAtB(client);
    expect((await a.admin(`/admin/clients/${client.client_id}/suspend`, { method: 'POST', json: {} })).status).toBe(200);
    // The caller is the suspended client itself: the admin door reports its tokens.
    const adminActive = async (app: RunningApp) => (await adminIntrospect(app, token)).active === true;
    expect(await adminActive(a)).toBe(false);
    expect(await eventually(async () => !(await adminActive(b)))).toBe(true);
    expect((await a.admin(`/admin/clients/${client.client_id}/resume`, { method: 'POST' })).status).toBe(200);
    expect(await eventually(() => adminActive(b))).toBe(true);
  });

  it('reports the tokens of a client deleted at A inactive at B, and at the instance that deleted it at once', async () => {
    const client = await opaqueClient();
    const token = await cachedAtB(client);
    const other = await opaqueClient();
    const otherToken = await cachedAtB(other);
    expect((await b.admin(`/admin/clients/${other.client_id}`, { method: 'DELETE' })).status).toBe(204);
    const adminActive = async (app: RunningApp, t: string) => (await adminIntrospect(app, t)).active === true;
    expect(await adminActive(b, otherToken)).toBe(false);
    expect((await a.admin(`/admin/clients/${client.client_id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await eventually(async () => !(await adminActive(b, token)))).toBe(true);
  });

  it('never passes off a cached token of a deleted client as one of a client created later with the same client_id', async () => {
    const clientId = `reused-${randomBytes(6).toString('hex')}`;
    const first = await opaqueClient({ client_id: clientId });
    const token = await cachedAtB(first);
    // The first client goes without any signal (as if its notification were lost), its token row left behind.
    await withoutTriggers('DELETE FROM clients WHERE id = $1', [clientId]);
    // The client's own change signal does arrive: B forgets the first client (its credentials stop working there).
    await sql(`SELECT pg_notify('registrar_events', 'client-changed' || chr(10) || $1)`, [clientId]);
    expect(await eventually(async () => (await post(b, '/oauth2/introspect', first, { token })).status === 401)).toBe(true);
    // Token times are in whole seconds: the new client is created in a later second than the token.
    await sleep(1100);
    const second = await createAdminClient(b, machineClient({ client_id: clientId, access_token_strategy: 'opaque' }));
    expect(await introspect(b, second, token)).toEqual({ active: false });
    expect(await active(b, second, await issue(b, second))).toBe(true);
  });

  it('reads through while its notification connection is down: a revocation made meanwhile is seen at once', async () => {
    const client = await opaqueClient();
    const token = await cachedAtB(client);
    const events = b.app.get(DatabaseEvents);
    expect(events.live).toBe(true);
    const cut = await sql(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`,
    );
    expect(cut.length).toBeGreaterThan(0);
    // B learns of the loss from its connection's end, a moment after the cut.
    expect(await eventually(async () => !events.live, 5_000)).toBe(true);
    // Asked meanwhile, B reads the database and keeps nothing (the loss itself dropped what it had).
    expect(await active(b, client, token)).toBe(true);
    expect((await post(a, '/oauth2/revoke', client, { token })).status).toBe(200);
    expect(await active(b, client, token)).toBe(false);
    // Both listen again (after a second), for the tests that follow.
    expect(await eventually(async () => events.live && (await listening()) >= 2)).toBe(true);
  });
});

describe('the signal of ended tokens', () => {
  it("is not sent for the janitor's deletion of expired tokens, and is sent for a revocation", async () => {
    const client = await opaqueClient();
    const expired = await issue(a, client);
    const { jti } = await introspect(a, client, expired);
    const control = await issue(a, client);
    const received = await notificationsDuring(async (seen) => {
      // Expired a minute ago, by a change that itself sends no signal.
      await withoutTriggers(`UPDATE access_tokens SET expires_at = now() - interval '1 minute' WHERE id = $1`, [jti]);
      const counts = await a.app.get(JanitorService).runOnce();
      expect(counts?.expired_access_tokens).toBeGreaterThanOrEqual(1);
      expect(await sql(`SELECT 1 FROM access_tokens WHERE id = $1`, [jti])).toEqual([]);
      // Notifications arrive in commit order: once the revocation's has, the janitor's would have come first.
      expect((await post(a, '/oauth2/revoke', client, { token: control })).status).toBe(200);
      expect(await eventually(async () => seen.includes('access-tokens-revoked'))).toBe(true);
    });
    expect(received.filter((p) => p === 'access-tokens-revoked')).toEqual(['access-tokens-revoked']);
  });

  it('is not sent when a statement changes no active token (revoking an already revoked one)', async () => {
    const client = await opaqueClient();
    const token = await issue(a, client);
    const { jti } = await introspect(a, client, token);
    expect((await post(a, '/oauth2/revoke', client, { token })).status).toBe(200);
    const received = await notificationsDuring(async (seen) => {
      await sql(`UPDATE access_tokens SET revoked_at = now() WHERE id = $1`, [jti]);
      await sql(`DELETE FROM access_tokens WHERE id = $1`, [jti]);
      const live = await issue(a, client);
      const { jti: liveJti } = await introspect(a, client, live);
      await sql(`DELETE FROM access_tokens WHERE id = $1`, [liveJti]);
      expect(await eventually(async () => seen.includes('access-tokens-revoked'))).toBe(true);
    });
    expect(received.filter((p) => p === 'access-tokens-revoked')).toHaveLength(1);
  });
});
