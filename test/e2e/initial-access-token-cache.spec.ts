// Initial access tokens read for registrations are reused for a few seconds
// by each instance (README "Performance"): two instances on one PostgreSQL
// database, over real HTTP. A token revoked or used up at either instance is
// refused at the other as before, with the 401 ahead of any check of the body,
// once the database's notification arrives; and whatever the cache holds, the
// database decides what is created: a revoked token creates nothing and
// re-registers nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DatabaseEvents } from '../../src/database/database-events.js';
import { machineClient } from '../factories/clients.js';
import { startPair, type AppPair, type RunningApp } from '../support/app.js';
import { mintIatRecord, register, type MintedIat } from '../support/dcr.js';
import { eventually } from '../support/eventually.js';
import { expectOAuthError } from '../support/expect.js';
import { query } from '../support/postgres.js';

let pair: AppPair;
let a: RunningApp;
let b: RunningApp;
const reregistering = `iat-cache-rereg-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  pair = await startPair('registrar_iat_cache');
  ({ a, b } = pair);
  // Tokens are cached only while an instance listens for revocations (DatabaseEvents.live).
  if (!(await eventually(async () => a.app.get(DatabaseEvents).live && b.app.get(DatabaseEvents).live))) throw new Error('the instances never listened');
  const res = await a.admin('/admin/policies', { method: 'POST', json: { name: reregistering, rules: { reregistration: { key: 'software_id_and_instance' } } } });
  if (res.status !== 201) throw new Error(`creating the policy failed: ${res.status} ${await res.text()}`);
});
afterAll(async () => {
  await pair?.close();
});

const sql = async (text: string, params: unknown[] = []) => (await query(text, params, pair.db.dsn)).rows;

/** Metadata the server refuses with a 400, which only a usable token gets to see. */
const INVALID = machineClient({ token_endpoint_auth_method: 'not-a-method' });

async function registers(app: RunningApp, iat: MintedIat, body: Record<string, unknown> = machineClient()): Promise<string> {
  const res = await register(app, body, iat.token);
  const text = await res.text();
  expect({ status: res.status, body: text }).toEqual({ status: 201, body: expect.stringContaining('"client_id"') });
  return (JSON.parse(text) as { client_id: string }).client_id;
}

/** Whether `app` answers the token with the 401 it gives an unusable token, before looking at the body. */
async function refusedFirst(app: RunningApp, iat: MintedIat): Promise<boolean> {
  const res = await register(app, INVALID, iat.token);
  if (res.status === 401) {
    await expectOAuthError(res, 401, 'invalid_token', 'unknown, expired, revoked or used up');
    return true;
  }
  await expectOAuthError(res, 400, 'invalid_client_metadata', 'token_endpoint_auth_method');
  return false;
}

const clientsOf = async (iat: MintedIat) =>
  ((await sql('SELECT count(*)::int AS n FROM clients WHERE initial_access_token_id = $1', [iat.id]))[0] as { n: number }).n;

describe('a token that ends at one instance', () => {
  it('revoked at A: B refuses it with the 401, ahead of the body', async () => {
    const iat = await mintIatRecord(a, { max_uses: 10 });
    await registers(b, iat);
    // Read once by B, which now holds it: a body check answers first.
    expect(await refusedFirst(b, iat)).toBe(false);
    expect((await a.admin(`/admin/initial-access-tokens/${iat.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await refusedFirst(a, iat)).toBe(true);
    expect(await eventually(() => refusedFirst(b, iat))).toBe(true);
    await expectOAuthError(await register(b, machineClient(), iat.token), 401, 'invalid_token');
    expect(await clientsOf(iat)).toBe(1);
  });

  it('used up at A: B refuses it with the 401, ahead of the body', async () => {
    const iat = await mintIatRecord(a, { max_uses: 2 });
    await registers(b, iat);
    expect(await refusedFirst(b, iat)).toBe(false);
    await registers(a, iat);
    expect(await refusedFirst(a, iat)).toBe(true);
    expect(await eventually(() => refusedFirst(b, iat))).toBe(true);
    expect(await clientsOf(iat)).toBe(2);
  });

  it('used up at the instance itself: the next registration there gets the 401 at once', async () => {
    const iat = await mintIatRecord(a, { max_uses: 1 });
    await registers(b, iat);
    expect(await refusedFirst(b, iat)).toBe(true);
  });
});

describe('when a revocation\'s signal is lost', () => {
  it('the database still decides: the revoked token creates nothing and re-registers nothing', async () => {
    const iat = await mintIatRecord(a, { max_uses: 10, policies: [reregistering] });
    const software = { software_id: `sw-${randomUUID()}`, software_instance_id: 'one' };
    const clientId = await registers(b, iat, machineClient(software));
    // Deleted behind the service's back: no instance is told.
    await sql('DELETE FROM initial_access_tokens WHERE id = $1', [iat.id]);
    // B still holds it (a body check answers first), yet nothing is created or re-registered with it.
    expect(await refusedFirst(b, iat)).toBe(false);
    await expectOAuthError(await register(b, machineClient({ ...software, software_instance_id: 'two' }), iat.token), 401, 'invalid_token');
    await expectOAuthError(await register(b, machineClient(software), iat.token), 401, 'invalid_token');
    const rows = await sql('SELECT id FROM clients WHERE initial_access_token_id = $1', [iat.id]);
    expect(rows).toEqual([{ id: clientId }]);
    // A, which never read it, refuses it outright.
    expect(await refusedFirst(a, iat)).toBe(true);
  });

  it('tokens are read afresh while the notification connection is down', async () => {
    const events = b.app.get(DatabaseEvents);
    expect(events.live).toBe(true);
    const iat = await mintIatRecord(a, { max_uses: 10 });
    const cut = await sql(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`,
    );
    expect(cut.length).toBeGreaterThan(0);
    expect(await eventually(async () => !events.live, 5_000)).toBe(true);
    await registers(b, iat);
    await sql('DELETE FROM initial_access_tokens WHERE id = $1', [iat.id]);
    expect(await refusedFirst(b, iat)).toBe(true);
    // Both listen again (after a second).
    expect(await eventually(async () => events.live && a.app.get(DatabaseEvents).live)).toBe(true);
  });
});
