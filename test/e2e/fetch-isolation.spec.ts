// Server-side fetches (sector_identifier_uri) and everything else the server
// does: a slow remote document must not hold a database connection or a row
// lock, so on the embedded database (one connection) the token endpoint keeps
// answering while registrations and RFC 7592 updates wait on their fetches;
// and fetch.max_concurrent bounds the fetches in flight, refusing the excess
// at once with 503 temporarily_unavailable and Retry-After. Real HTTP against
// the real app; the remote documents come from a local HTTPS server that holds
// them until the test releases them, so every check is about order (what is
// answered while the fetches are still held), not about time.
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { machineClient, webClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { createAdminClient, manage, mintIat, register, registerClient } from '../support/dcr.js';
import { expectOAuthError } from '../support/expect.js';
import { sendJson, startHttpsServer, type TestHttpsServer } from '../support/https-server.js';
import { basicAuth } from '../support/net.js';

type Json = Record<string, unknown>;

const REDIRECT_URI = 'https://app.example.com/callback';
/** The longest the test waits for something that must happen while the documents are held. */
const HELD_LIMIT_MS = 20_000;

let remote: TestHttpsServer;
let dataDir: string;
/** On the embedded database, which has one connection. */
let embedded: RunningApp;
/** On PostgreSQL, with fetch.max_concurrent = 2. */
let bounded: RunningApp;

/** Registers a route that holds every sector document request until the returned release() is called. */
function heldSector(path: string): () => void {
  const held: ServerResponse[] = [];
  let released = false;
  remote.route(path, (_req, res: ServerResponse) => {
    if (released) sendJson(res, [REDIRECT_URI]);
    else held.push(res);
  });
  return () => {
    released = true;
    for (const res of held.splice(0)) sendJson(res, [REDIRECT_URI]);
  };
}

/** What `pending` resolves to, or a failure if it has not settled while the documents are held. */
async function whileHeld<T>(pending: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} was not answered while the remote documents were held`)), HELD_LIMIT_MS);
  });
  try {
    return await Promise.race([pending, stuck]);
  } finally {
    clearTimeout(timer);
  }
}

let unique = 0;
/** A distinct URL per use, so that no answer comes from the fetcher's cache. */
function sectorUri(path: string): string {
  unique += 1;
  return `${remote.url}${path}?n=${unique}`;
}

/**
 * Waits until the remote server holds `count` requests for `path`, and returns
 * how many arrived. Fetches stuck behind one another never all arrive while
 * the first is held, so the count then stays short of `count`.
 */
async function requestsReached(path: string, count: number): Promise<number> {
  const deadline = Date.now() + HELD_LIMIT_MS;
  while (remote.hits(path) < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return remote.hits(path);
}

async function machineCredentials(app: RunningApp): Promise<{ id: string; secret: string }> {
  const body = await createAdminClient(app, machineClient());
  return { id: body.client_id, secret: body.client_secret };
}

/** One client_credentials token request, which must succeed. */
async function tokenRequest(app: RunningApp, client: { id: string; secret: string }): Promise<void> {
  const res = await fetch(`${app.url}/oauth2/token`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: basicAuth(client.id, client.secret),
    },
    body: 'grant_type=client_credentials',
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${text}`);
}

beforeAll(async () => {
  remote = await startHttpsServer();
  dataDir = mkdtempSync(join(tmpdir(), 'registrar-fetch-isolation-'));
  const fetchEnv = { FETCH_CA_FILE: remote.caFile, FETCH_ALLOW_PRIVATE_NETWORKS: 'true', FETCH_TIMEOUT: '60s' };
  embedded = await startApp({ env: { DATA_DIR: join(dataDir, 'embedded'), ...fetchEnv } });
  bounded = await startApp({ env: { ...fetchEnv, FETCH_MAX_CONCURRENT: '2' } });
}, 180_000);

afterAll(async () => {
  await embedded?.close();
  await bounded?.close();
  await remote?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('server-side fetches hold no database connection (embedded database, one connection)', () => {
  it('answers a token request while 12 RFC 7592 updates wait on a held sector_identifier_uri', async () => {
    const path = '/slow-sector-updates';
    const release = heldSector(path);
    const client = await machineCredentials(embedded);
    const registered = await Promise.all(Array.from({ length: 12 }, () => registerClient(embedded, webClient({ redirect_uris: [REDIRECT_URI] }))));

    const updates = registered.map((r) =>
      manage(embedded, 'PUT', r.client_id as string, r.registration_access_token as string, {
        ...webClient({ redirect_uris: [REDIRECT_URI] }),
        client_id: r.client_id,
        sector_identifier_uri: sectorUri(path),
      }),
    );
    const waiting = await requestsReached(path, 12);
    // All 12 fetches were in flight at once: no update waited for another's.
    expect(waiting).toBe(12);
    // With one database connection, a fetch holding it would leave the token request waiting too.
    await whileHeld(tokenRequest(embedded, client), 'the token request');
    expect(remote.hits(path)).toBe(12);
    release();
    const answered = await Promise.all(updates);
    expect(answered.map((r) => r.status)).toEqual(Array(12).fill(200));
  }, 60_000);

  it('answers a token request while a registration under a max_clients policy waits on a held sector_identifier_uri', async () => {
    const path = '/slow-sector-limited';
    const release = heldSector(path);
    const policy = `limited-${process.pid}`;
    const created = await embedded.admin('/admin/policies', { method: 'POST', json: { name: policy, rules: { max_clients: 5 } } });
    expect(created.status).toBe(201);
    const client = await machineCredentials(embedded);

    const registration = register(
      embedded,
      webClient({ redirect_uris: [REDIRECT_URI], sector_identifier_uri: sectorUri(path) }),
      await mintIat(embedded, { policies: [policy] }),
    );
    expect(await requestsReached(path, 1)).toBe(1);
    // The policy's client count is taken in the registration's transaction, after the fetch: no lock is held while it waits.
    await whileHeld(tokenRequest(embedded, client), 'the token request');
    release();
    const res = await registration;

    expect(res.status).toBe(201);
    // The client counted against the policy, in the registration's transaction.
    expect(((await (await embedded.admin(`/admin/policies/${policy}`)).json()) as Json).clients_created).toBe(1);
  }, 60_000);
});

describe('fetch.max_concurrent', () => {
  it('answers a registration beyond the bound with 503 temporarily_unavailable and Retry-After, at once, without burning its initial access token', async () => {
    const path = '/slow-sector-bound';
    const release = heldSector(path);
    const first = [0, 1].map(async () =>
      register(bounded, webClient({ redirect_uris: [REDIRECT_URI], sector_identifier_uri: sectorUri(path) }), await mintIat(bounded)),
    );
    expect(await requestsReached(path, 2)).toBe(2);

    const iat = await mintIat(bounded);
    // Refused while the two fetches in flight are held, not queued behind them.
    const refused = await whileHeld(register(bounded, webClient({ redirect_uris: [REDIRECT_URI], sector_identifier_uri: sectorUri(path) }), iat), 'the third registration');
    const retryAfter = refused.headers.get('retry-after');
    await expectOAuthError(refused, 503, 'temporarily_unavailable', 'too many server-side fetches are in progress');
    expect(retryAfter).toMatch(/^[1-9]\d*$/);
    expect(remote.hits(path)).toBe(2);
    release();

    expect((await Promise.all(first)).map((r) => r.status)).toEqual([201, 201]);
    // Its initial access token (single use) still works, and the slots are free again.
    const retried = await register(bounded, webClient({ redirect_uris: [REDIRECT_URI], sector_identifier_uri: sectorUri(path) }), iat);
    expect(retried.status).toBe(201);
  }, 30_000);

  it('answers an RFC 7592 update beyond the bound with 503 temporarily_unavailable and Retry-After, and the registration access token keeps working', async () => {
    const path = '/slow-sector-bound-update';
    const release = heldSector(path);
    const registered = await registerClient(bounded, webClient({ redirect_uris: [REDIRECT_URI] }));
    const clientId = registered.client_id as string;
    const rat = registered.registration_access_token as string;
    const update = () =>
      manage(bounded, 'PUT', clientId, rat, { ...webClient({ redirect_uris: [REDIRECT_URI] }), client_id: clientId, sector_identifier_uri: sectorUri(path) });

    const first = [0, 1].map(async () =>
      register(bounded, webClient({ redirect_uris: [REDIRECT_URI], sector_identifier_uri: sectorUri(path) }), await mintIat(bounded)),
    );
    expect(await requestsReached(path, 2)).toBe(2);
    const refused = await whileHeld(update(), 'the update');
    const retryAfter = refused.headers.get('retry-after');
    await expectOAuthError(refused, 503, 'temporarily_unavailable', 'too many server-side fetches are in progress');
    expect(retryAfter).toMatch(/^[1-9]\d*$/);
    release();
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([201, 201]);

    const retried = await update();
    expect(retried.status).toBe(200);
  }, 30_000);
});
