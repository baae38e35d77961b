// Operation over real HTTP against the real app on real PostgreSQL (README, Operating Registrar):
// the janitor (expired tokens and IATs, replay records, rate-limit windows,
// inactive DCR clients, one instance at a time), the registration rate limit
// (per caller address, shared between instances, through PostgreSQL or Redis,
// X-Forwarded-For only from trusted proxies), CORS on the public endpoints, and
// graceful shutdown (readiness first, in-flight requests finish, then no more
// connections).
import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JanitorService } from '../../src/database/janitor.service.js';
import { machineClient } from '../factories/clients.js';
import { startApp, startPair, type AppPair, type RunningApp } from '../support/app.js';
import { createAdminClient, mintIatRecord, register } from '../support/dcr.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';
import { basicAuth } from '../support/net.js';

type Db = { name: string; dsn: string };
type Body = Record<string, unknown>;
type Counts = Record<string, number> | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function json(res: Response): Promise<Body> {
  return (await res.json()) as Body;
}

async function adminClient(svc: RunningApp, overrides: Body = {}): Promise<{ client_id: string; client_secret: string }> {
  return createAdminClient(svc, machineClient(overrides));
}

function token(svc: RunningApp, client: { client_id: string; client_secret: string }, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${svc.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(client.client_id, client.client_secret), ...headers },
    body: 'grant_type=client_credentials',
  });
}

async function registerWith(svc: RunningApp, iat: string, body: Body = machineClient()): Promise<Body> {
  const res = await register(svc, body, iat);
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return json(res);
}

function janitor(svc: RunningApp): JanitorService {
  return svc.app.get(JanitorService);
}

async function count(sql: string, dsn: string, params: unknown[] = []): Promise<number> {
  const { rows } = await query(sql, params, dsn);
  return Number(rows[0].n);
}

/** A random address from 10/8, so that no other run (sharing Redis) uses the same rate-limit key. */
function randomAddress(): string {
  const [a, b, c] = randomBytes(3);
  return `10.${a}.${b}.${Math.max(1, c)}`;
}

/** The rate limit counts in fixed windows; start a test far enough from a window's end that it stays in one window. */
async function awaitFreshWindow(windowSeconds = 60, neededSeconds = 8): Promise<void> {
  const now = Date.now() / 1000;
  const left = windowSeconds - (now % windowSeconds);
  if (left < neededSeconds) await sleep(left * 1000 + 250);
}

function anonymousRegistration(svc: RunningApp, headers: Record<string, string> = {}, iat?: string): Promise<Response> {
  return fetch(`${svc.url}/oauth2/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(iat === undefined ? {} : { Authorization: `Bearer ${iat}` }), ...headers },
    body: JSON.stringify(machineClient()),
  });
}

async function expectTooManyRequests(res: Response): Promise<void> {
  const body = await json(res);
  expect({ status: res.status, error: body.error }).toEqual({ status: 429, error: 'too_many_requests' });
  expect(typeof body.error_description).toBe('string');
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const retryAfter = res.headers.get('retry-after');
  expect(retryAfter).toMatch(/^\d+$/);
  const seconds = Number(retryAfter);
  expect(seconds).toBeGreaterThanOrEqual(1);
  expect(seconds).toBeLessThanOrEqual(60);
}

// ---------------------------------------------------------------------------
// Janitor
// ---------------------------------------------------------------------------

describe('the janitor deletes what has expired (janitor.batch_size=10, ttl.access_token=1s)', () => {
  let db: Db;
  let svc: RunningApp;

  beforeAll(async () => {
    db = await createDatabase('registrar_ops_janitor');
    svc = await startApp({ env: { DSN: db.dsn, JANITOR_INTERVAL: '0', JANITOR_BATCH_SIZE: '10', TTL_ACCESS_TOKEN: '1' } });
  });
  afterAll(async () => {
    await svc?.close();
    if (db) await dropDatabase(db.name);
  });

  it('deletes expired opaque access tokens, in batches, and keeps live ones', async () => {
    const client = await adminClient(svc);
    const responses = await Promise.all(Array.from({ length: 25 }, () => token(svc, client)));
    expect(responses.map((r) => r.status)).toEqual(Array(25).fill(200));
    expect(await count(`SELECT count(*) AS n FROM access_tokens WHERE client_id = $1`, db.dsn, [client.client_id])).toBe(25);
    const liveId = randomUUID();
    await query(
      `INSERT INTO access_tokens (id, token_hash, client_id, subject, scope, audience, issued_at, expires_at)
       VALUES ($1, $2, $3, $3, 'read', '[]', now(), now() + interval '1 hour')`,
      [liveId, `live-${liveId}`, client.client_id],
      db.dsn,
    );
    await sleep(1200);

    const counts = await janitor(svc).runOnce();

    expect(counts).toMatchObject({ expired_access_tokens: 25 });
    const { rows } = await query(`SELECT id FROM access_tokens`, [], db.dsn);
    expect(rows.map((r) => r.id)).toEqual([liveId]);
  });

  it('deletes expired and used-up initial access tokens but not live ones', async () => {
    const expired = await mintIatRecord(svc, { expires_in: 1 });
    const usedUp = await mintIatRecord(svc, { max_uses: 1 });
    const partlyUsed = await mintIatRecord(svc, { max_uses: 2 });
    const unused = await mintIatRecord(svc, { expires_in: 3600 });
    await registerWith(svc, usedUp.token);
    await registerWith(svc, partlyUsed.token);
    await sleep(1200);

    const counts = await janitor(svc).runOnce();

    expect(counts).toMatchObject({ expired_or_used_initial_access_tokens: 2 });
    const { rows } = await query(`SELECT id FROM initial_access_tokens ORDER BY id`, [], db.dsn);
    expect(rows.map((r) => r.id).sort()).toEqual([partlyUsed.id, unused.id].sort());
    expect((await svc.admin(`/admin/initial-access-tokens/${expired.id}`)).status).toBe(404);
    expect((await svc.admin(`/admin/initial-access-tokens/${usedUp.id}`)).status).toBe(404);
    expect((await svc.admin(`/admin/initial-access-tokens/${partlyUsed.id}`)).status).toBe(200);
  });

  it('deletes expired revoked-JWT and client-assertion jti records and keeps unexpired ones', async () => {
    await query(
      `INSERT INTO revoked_jwts (jti, expires_at)
       SELECT 'old-' || g, now() - interval '1 minute' FROM generate_series(1, 13) g
       UNION ALL SELECT 'live-jti', now() + interval '1 hour'`,
      [],
      db.dsn,
    );
    await query(
      `INSERT INTO client_assertion_jtis (client_id, jti, expires_at)
       SELECT 'some-client', 'old-' || g, now() - interval '1 minute' FROM generate_series(1, 21) g
       UNION ALL SELECT 'some-client', 'live-jti', now() + interval '10 minutes'`,
      [],
      db.dsn,
    );

    const counts = await janitor(svc).runOnce();

    expect(counts).toMatchObject({ expired_revoked_jwts: 13, expired_client_assertion_jtis: 21 });
    expect((await query(`SELECT jti FROM revoked_jwts`, [], db.dsn)).rows).toEqual([{ jti: 'live-jti' }]);
    expect((await query(`SELECT client_id, jti FROM client_assertion_jtis`, [], db.dsn)).rows).toEqual([{ client_id: 'some-client', jti: 'live-jti' }]);
  });

  it('deletes old rate-limit windows and keeps the current one', async () => {
    const now = Math.floor(Date.now() / 1000);
    await query(
      `INSERT INTO rate_limit_hits (key, window_start, count)
       SELECT 'register:192.0.2.' || g, $1::bigint, 5 FROM generate_series(1, 12) g
       UNION ALL SELECT 'register:192.0.2.200', $2::bigint, 1`,
      [now - 3 * 86400, now - (now % 60)],
      db.dsn,
    );

    const counts = await janitor(svc).runOnce();

    expect(counts).toMatchObject({ old_rate_limit_windows: 12 });
    expect((await query(`SELECT key FROM rate_limit_hits`, [], db.dsn)).rows).toEqual([{ key: 'register:192.0.2.200' }]);
  });

  it('does not touch DCR clients while oidc.dynamic_client_registration.inactive_client_ttl is unset', async () => {
    const iat = await mintIatRecord(svc);
    const registered = await registerWith(svc, iat.token);
    await query(`UPDATE clients SET created_at = now() - interval '400 days' WHERE id = $1`, [registered.client_id], db.dsn);

    const counts = await janitor(svc).runOnce();

    expect(counts).not.toHaveProperty('inactive_dcr_clients');
    expect((await svc.admin(`/admin/clients/${encodeURIComponent(String(registered.client_id))}`)).status).toBe(200);
  });

  it('logs each pass as "janitor pass" with the counts it deleted', async () => {
    await query(`INSERT INTO revoked_jwts (jti, expires_at) VALUES ($1, now() - interval '1 second')`, [`logged-${randomUUID()}`], db.dsn);
    const before = svc.logs.length;

    const counts = await janitor(svc).runOnce();

    expect(counts).toMatchObject({ expired_revoked_jwts: 1 });
    const lines = svc.logs
      .slice(before)
      .map((line) => {
        try {
          return JSON.parse(line) as Body;
        } catch {
          return undefined;
        }
      })
      .filter((entry): entry is Body => entry?.msg === 'janitor pass');
    expect(lines).toHaveLength(1);
    expect(lines[0].deleted).toEqual(counts);
  });
});

describe('the janitor deletes DCR clients unused for oidc.dynamic_client_registration.inactive_client_ttl (2s)', () => {
  let db: Db;
  let svc: RunningApp;

  beforeAll(async () => {
    db = await createDatabase('registrar_ops_inactive');
    svc = await startApp({
      env: { DSN: db.dsn, JANITOR_INTERVAL: '0', JANITOR_BATCH_SIZE: '10', OIDC_DYNAMIC_CLIENT_REGISTRATION_INACTIVE_CLIENT_TTL: '2' },
    });
  });
  afterAll(async () => {
    await svc?.close();
    if (db) await dropDatabase(db.name);
  });

  const exists = async (id: unknown) => (await svc.admin(`/admin/clients/${encodeURIComponent(String(id))}`)).status;

  it('deletes a DCR client with no token and no management call within the TTL, keeps used ones, never deletes admin-created ones', async () => {
    const unused = await registerWith(svc, (await mintIatRecord(svc)).token);
    const tokenUser = await registerWith(svc, (await mintIatRecord(svc)).token);
    const managed = await registerWith(svc, (await mintIatRecord(svc)).token);
    const admin = await adminClient(svc);
    await query(`UPDATE clients SET created_at = now() - interval '400 days' WHERE id = $1`, [admin.client_id], db.dsn);
    expect((await query(`SELECT last_used_at FROM clients WHERE id = $1`, [tokenUser.client_id], db.dsn)).rows[0].last_used_at).toBeNull();

    await sleep(1000);
    const tokenRes = await token(svc, { client_id: String(tokenUser.client_id), client_secret: String(tokenUser.client_secret) });
    expect(tokenRes.status).toBe(200);
    const read = await fetch(String(managed.registration_client_uri), { headers: { Authorization: `Bearer ${String(managed.registration_access_token)}` } });
    expect(read.status).toBe(200);
    const { rows } = await query(`SELECT id, last_used_at FROM clients WHERE id = ANY($1)`, [[tokenUser.client_id, managed.client_id]], db.dsn);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.last_used_at).toBeInstanceOf(Date);

    await sleep(1500); // every DCR client is now older than the TTL; two were used within it
    const counts = await janitor(svc).runOnce();

    expect(counts).toMatchObject({ inactive_dcr_clients: 1 });
    expect(await exists(unused.client_id)).toBe(404);
    expect(await exists(tokenUser.client_id)).toBe(200);
    expect(await exists(managed.client_id)).toBe(200);
    expect(await exists(admin.client_id)).toBe(200);

    // Once their last use is older than the TTL too, they go; the admin-created client stays.
    await sleep(2100);
    const later = await janitor(svc).runOnce();
    expect(later).toMatchObject({ inactive_dcr_clients: 2 });
    expect(await exists(tokenUser.client_id)).toBe(404);
    expect(await exists(managed.client_id)).toBe(404);
    expect(await exists(admin.client_id)).toBe(200);
    expect(await count(`SELECT count(*) AS n FROM clients WHERE created_via = 'admin'`, db.dsn)).toBe(1);
  }, 30_000);
});

describe('the janitor runs on one instance at a time (advisory lock)', () => {
  let pair: AppPair;

  beforeAll(async () => {
    const env = { JANITOR_INTERVAL: '0', JANITOR_BATCH_SIZE: '10' };
    pair = await startPair('registrar_ops_janitor_lock', env);
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('when two instances run a pass at once, exactly one deletes and the other returns undefined', async () => {
    const { a, b, db } = pair;
    await query(
      `INSERT INTO revoked_jwts (jti, expires_at) SELECT 'lock-' || g, now() - interval '1 minute' FROM generate_series(1, 2000) g`,
      [],
      db.dsn,
    );
    await query(
      `INSERT INTO client_assertion_jtis (client_id, jti, expires_at)
       SELECT 'lock-client', 'lock-' || g, now() - interval '1 minute' FROM generate_series(1, 2000) g`,
      [],
      db.dsn,
    );

    const results: Counts[] = await Promise.all([janitor(a).runOnce(), janitor(b).runOnce()]);

    const ran = results.filter((r) => r !== undefined);
    expect(ran).toHaveLength(1);
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
    expect(ran[0]).toMatchObject({ expired_revoked_jwts: 2000, expired_client_assertion_jtis: 2000 });
    expect(await count(`SELECT count(*) AS n FROM revoked_jwts`, db.dsn)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM client_assertion_jtis`, db.dsn)).toBe(0);

    // The lock is released after the pass: either instance can run the next one.
    expect(await janitor(a).runOnce()).toMatchObject({ expired_revoked_jwts: 0 });
    expect(await janitor(b).runOnce()).toMatchObject({ expired_revoked_jwts: 0 });
  }, 30_000);
});

// ---------------------------------------------------------------------------
// Registration rate limit
// ---------------------------------------------------------------------------

describe('registration is rate-limited per caller address (rate_limit=3/1m, anonymous registration)', () => {
  let db: Db;
  let svc: RunningApp;

  beforeAll(async () => {
    db = await createDatabase('registrar_ops_rl');
    svc = await startApp({
      env: {
        DSN: db.dsn,
        OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '3/1m',
        OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false',
      },
    });
  });
  afterAll(async () => {
    await svc?.close();
    if (db) await dropDatabase(db.name);
  });

  const reset = () => query(`DELETE FROM rate_limit_hits`, [], db.dsn);

  it('answers the 4th registration from one address with 429, Retry-After and too_many_requests', async () => {
    await reset();
    await awaitFreshWindow();
    for (let i = 0; i < 3; i += 1) expect((await anonymousRegistration(svc)).status).toBe(201);

    const fourth = await anonymousRegistration(svc);

    await expectTooManyRequests(fourth);
    expect(await count(`SELECT count(*) AS n FROM clients`, db.dsn)).toBe(3);
  }, 40_000);

  it('ignores X-Forwarded-For by default: a spoofed header does not give a fresh budget', async () => {
    await reset();
    await awaitFreshWindow();
    for (let i = 0; i < 3; i += 1) expect((await anonymousRegistration(svc, { 'X-Forwarded-For': randomAddress() })).status).toBe(201);

    const spoofed = await anonymousRegistration(svc, { 'X-Forwarded-For': randomAddress() });

    await expectTooManyRequests(spoofed);
  }, 40_000);
});

describe('the rate limit runs before authentication (rate_limit=3/1m, IAT required)', () => {
  let db: Db;
  let svc: RunningApp;

  beforeAll(async () => {
    db = await createDatabase('registrar_ops_rl_iat');
    svc = await startApp({ env: { DSN: db.dsn, OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '3/1m' } });
  });
  afterAll(async () => {
    await svc?.close();
    if (db) await dropDatabase(db.name);
  });

  it('counts registrations with a bad initial access token, so a valid one after them gets 429 and is not used', async () => {
    const iat = await mintIatRecord(svc, { max_uses: 5 });
    await awaitFreshWindow();
    for (let i = 0; i < 3; i += 1) {
      const res = await anonymousRegistration(svc, {}, `not-a-valid-iat-${i}`);
      expect(res.status).toBe(401);
    }

    const valid = await anonymousRegistration(svc, {}, iat.token);

    await expectTooManyRequests(valid);
    const read = await json(await svc.admin(`/admin/initial-access-tokens/${iat.id}`));
    expect(read.uses).toBe(0);
  }, 40_000);
});

describe('the rate limit is shared by instances on one database (rate_limit=3/1m)', () => {
  let pair: AppPair;

  beforeAll(async () => {
    const env = {
      OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '3/1m',
      OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false',
    };
    pair = await startPair('registrar_ops_rl_shared', env);
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('answers 429 to the 4th registration overall when it is spread over two instances', async () => {
    const { a, b } = pair;
    await awaitFreshWindow();
    expect((await anonymousRegistration(a)).status).toBe(201);
    expect((await anonymousRegistration(a)).status).toBe(201);
    expect((await anonymousRegistration(b)).status).toBe(201);

    await expectTooManyRequests(await anonymousRegistration(b));
    await expectTooManyRequests(await anonymousRegistration(a));
  }, 40_000);
});

describe('the rate limit is shared through Redis when redis.url is set', () => {
  let pair: AppPair;

  beforeAll(async () => {
    // A trusted proxy lets this test use an address of its own, so that no other run sharing the Redis server counts against it.
    const env = {
      REDIS_URL: 'redis://127.0.0.1:6379',
      SERVE_PUBLIC_TRUSTED_PROXIES: '127.0.0.1',
      OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '3/1m',
      OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false',
    };
    pair = await startPair('registrar_ops_rl_redis', env);
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('answers 429 to the 4th registration over two instances and keeps no count in PostgreSQL', async () => {
    const { a, b, db } = pair;
    const caller = { 'X-Forwarded-For': randomAddress() };
    await awaitFreshWindow();
    expect((await anonymousRegistration(a, caller)).status).toBe(201);
    expect((await anonymousRegistration(a, caller)).status).toBe(201);
    expect((await anonymousRegistration(b, caller)).status).toBe(201);

    await expectTooManyRequests(await anonymousRegistration(b, caller));
    expect(await count(`SELECT count(*) AS n FROM rate_limit_hits`, db.dsn)).toBe(0);
    expect(a.logs.concat(b.logs).some((line) => line.includes('rate limit falls back to PostgreSQL'))).toBe(false);
  }, 40_000);
});

describe('X-Forwarded-For is believed from serve.public.trusted_proxies (127.0.0.1)', () => {
  let db: Db;
  let svc: RunningApp;

  beforeAll(async () => {
    db = await createDatabase('registrar_ops_rl_proxy');
    svc = await startApp({
      env: {
        DSN: db.dsn,
        SERVE_PUBLIC_TRUSTED_PROXIES: '127.0.0.1',
        OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '3/1m',
        OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false',
      },
    });
  });
  afterAll(async () => {
    await svc?.close();
    if (db) await dropDatabase(db.name);
  });

  it('gives each forwarded address its own budget', async () => {
    const first = { 'X-Forwarded-For': randomAddress() };
    const second = { 'X-Forwarded-For': randomAddress() };
    await awaitFreshWindow();
    for (let i = 0; i < 3; i += 1) expect((await anonymousRegistration(svc, first)).status).toBe(201);
    await expectTooManyRequests(await anonymousRegistration(svc, first));

    expect((await anonymousRegistration(svc, second)).status).toBe(201);
    expect((await anonymousRegistration(svc)).status).toBe(201); // the proxy's own address is a third caller
  }, 40_000);
});

// ---------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------

const ORIGIN = 'https://app.example.com';

describe('CORS with serve.public.cors.allowed_origins=https://app.example.com', () => {
  let svc: RunningApp;
  let client: { client_id: string; client_secret: string };

  beforeAll(async () => {
    svc = await startApp({ env: { SERVE_PUBLIC_CORS_ALLOWED_ORIGINS: ORIGIN } });
    client = await adminClient(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const expectCors = (res: Response, origin = ORIGIN) => {
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('vary') ?? '').toMatch(/\borigin\b/i);
  };

  it('answers a registration from the allowed origin with Access-Control-Allow-Origin and Vary: Origin', async () => {
    const { token: iat } = await mintIatRecord(svc);
    const cors = await fetch(`${svc.url}/oauth2/register`, {
      method: 'POST',
      headers: { Origin: ORIGIN, 'Content-Type': 'application/json', Authorization: `Bearer ${iat}` },
      body: JSON.stringify(machineClient()),
    });
    expect(cors.status).toBe(201);
    expectCors(cors);
  });

  it('answers the token endpoint from the allowed origin with CORS headers', async () => {
    const res = await token(svc, client, { Origin: ORIGIN });
    expect(res.status).toBe(200);
    expectCors(res);
  });

  it('answers userinfo (a single-page app reads it) but not the authorization endpoint from the allowed origin', async () => {
    const info = await fetch(`${svc.url}/userinfo`, { headers: { Origin: ORIGIN } });
    expect(info.status).toBe(401);
    expectCors(info);
    const auth = await fetch(`${svc.url}/oauth2/auth?client_id=${encodeURIComponent(client.client_id)}`, { headers: { Origin: ORIGIN } });
    expect(auth.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers discovery and the JWKS from the allowed origin with CORS headers', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/jwks.json']) {
      const res = await fetch(svc.url + path, { headers: { Origin: ORIGIN } });
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expectCors(res);
    }
  });

  it('answers a preflight for POST /oauth2/register with 204, POST allowed and the Authorization header allowed', async () => {
    const res = await fetch(`${svc.url}/oauth2/register`, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
    });
    expect(res.status).toBe(204);
    expectCors(res);
    const methods = (res.headers.get('access-control-allow-methods') ?? '').split(',').map((m) => m.trim().toUpperCase());
    expect(methods).toContain('POST');
    const headers = (res.headers.get('access-control-allow-headers') ?? '').split(',').map((h) => h.trim().toLowerCase());
    expect(headers).toContain('authorization');
    expect(headers).toContain('content-type');
  });

  it('gives another origin no Access-Control-Allow-Origin, on requests and on preflights', async () => {
    const other = 'https://evil.example.net';
    const discovery = await fetch(`${svc.url}/.well-known/openid-configuration`, { headers: { Origin: other } });
    expect(discovery.status).toBe(200);
    expect(discovery.headers.get('access-control-allow-origin')).toBeNull();
    const tok = await token(svc, client, { Origin: other });
    expect(tok.status).toBe(200);
    expect(tok.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${svc.url}/oauth2/register`, {
      method: 'OPTIONS',
      headers: { Origin: other, 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('never gives /admin/clients CORS headers, not even on a preflight', async () => {
    const list = await svc.admin('/admin/clients', { headers: { Origin: ORIGIN } });
    expect(list.status).toBe(200);
    expect(list.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${svc.url}/admin/clients`, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
    expect(preflight.headers.get('access-control-allow-headers')).toBeNull();
    const item = await svc.admin(`/admin/clients/${encodeURIComponent(client.client_id)}`, { headers: { Origin: ORIGIN } });
    expect(item.status).toBe(200);
    expect(item.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS with no configured origins', () => {
  let svc: RunningApp;
  let client: { client_id: string; client_secret: string };

  beforeAll(async () => {
    svc = await startApp();
    client = await adminClient(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('gives no endpoint CORS headers', async () => {
    const { token: iat } = await mintIatRecord(svc);
    const responses: Array<[string, Response]> = [
      [
        'register',
        await fetch(`${svc.url}/oauth2/register`, {
          method: 'POST',
          headers: { Origin: ORIGIN, 'Content-Type': 'application/json', Authorization: `Bearer ${iat}` },
          body: JSON.stringify(machineClient()),
        }),
      ],
      ['token', await token(svc, client, { Origin: ORIGIN })],
      ['discovery', await fetch(`${svc.url}/.well-known/openid-configuration`, { headers: { Origin: ORIGIN } })],
      ['jwks', await fetch(`${svc.url}/.well-known/jwks.json`, { headers: { Origin: ORIGIN } })],
      [
        'preflight',
        await fetch(`${svc.url}/oauth2/register`, { method: 'OPTIONS', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' } }),
      ],
    ];
    expect(responses.slice(0, 4).map(([name, res]) => [name, res.status])).toEqual([
      ['register', 201],
      ['token', 200],
      ['discovery', 200],
      ['jwks', 200],
    ]);
    for (const [name, res] of responses) {
      expect([name, res.headers.get('access-control-allow-origin'), res.headers.get('access-control-allow-methods')]).toEqual([name, null, null]);
    }
  });
});

describe("a client's own allowed_cors_origins (no configured origins)", () => {
  const SPA = 'https://spa.example.com';
  let svc: RunningApp;
  let spa: { client_id: string; client_secret: string };
  let other: { client_id: string; client_secret: string };

  beforeAll(async () => {
    svc = await startApp();
    spa = await adminClient(svc, { allowed_cors_origins: [SPA] });
    other = await adminClient(svc);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const preflight = (path: string, origin: string) =>
    fetch(`${svc.url}${path}`, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' } });

  it('answers a preflight to the token, introspection and revocation endpoints from an origin a client lists', async () => {
    for (const path of ['/oauth2/token', '/oauth2/introspect', '/oauth2/revoke']) {
      const res = await preflight(path, SPA);
      expect({ path, status: res.status, origin: res.headers.get('access-control-allow-origin') }).toEqual({ path, status: 204, origin: SPA });
      expect(res.headers.get('access-control-allow-headers') ?? '').toMatch(/authorization/i);
    }
    const unlisted = await preflight('/oauth2/token', 'https://evil.example.net');
    expect(unlisted.headers.get('access-control-allow-origin')).toBeNull();
    // The client's origins are not the registration endpoint's.
    const register = await preflight('/oauth2/register', SPA);
    expect(register.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets the listed origin read the token response of that client only', async () => {
    const own = await token(svc, spa, { Origin: SPA });
    expect(own.status).toBe(200);
    expect(own.headers.get('access-control-allow-origin')).toBe(SPA);
    expect(own.headers.get('vary') ?? '').toMatch(/\borigin\b/i);
    const elsewhere = await token(svc, spa, { Origin: 'https://evil.example.net' });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
    const notListed = await token(svc, other, { Origin: SPA });
    expect(notListed.status).toBe(200);
    expect(notListed.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('follows an admin change of the list at once', async () => {
    const res = await svc.admin(`/admin/clients/${encodeURIComponent(other.client_id)}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/allowed_cors_origins', value: ['https://other-spa.example.com'] }]),
    });
    expect(res.status).toBe(200);
    const now = await token(svc, other, { Origin: 'https://other-spa.example.com' });
    expect(now.headers.get('access-control-allow-origin')).toBe('https://other-spa.example.com');
  });
});

// ---------------------------------------------------------------------------
// Graceful shutdown
// ---------------------------------------------------------------------------

/** A token request whose body arrives only when `finish` is called: in flight for as long as the test wants. */
function slowTokenRequest(url: string, client: { client_id: string; client_secret: string }) {
  const body = Buffer.from('grant_type=client_credentials');
  let finish!: () => void;
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      `${url}/oauth2/token`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': String(body.length),
          Authorization: basicAuth(client.client_id, client.client_secret),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.flushHeaders();
    req.write(body.subarray(0, 10));
    finish = () => req.end(body.subarray(10));
  });
  return { response, finish: () => finish() };
}

describe('graceful shutdown (serve.shutdown_delay=1s)', () => {
  let svc: RunningApp;
  let closed = false;
  let client: { client_id: string; client_secret: string };

  beforeAll(async () => {
    svc = await startApp({ env: { SERVE_SHUTDOWN_DELAY: '1' } });
    client = await adminClient(svc);
  });
  afterAll(async () => {
    if (!closed) await svc?.close();
  });

  it('turns readiness to 503 first, finishes in-flight requests, then refuses new connections', async () => {
    expect((await fetch(`${svc.url}/health/ready`)).status).toBe(200);
    const slow = slowTokenRequest(svc.url, client);
    await sleep(150); // the slow request's headers have reached the server
    const inFlight = Array.from({ length: 10 }, () => token(svc, client));

    const closing = svc.app.close();
    closing.then(
      () => (closed = true),
      () => (closed = true),
    );
    await sleep(200);

    const ready = await fetch(`${svc.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json(ready)).toMatchObject({ error: 'temporarily_unavailable' });
    // A draining readiness probe is a state, not a fault: its access-log line is not an error.
    const readyLines = svc.logs.filter((l) => l.includes('"/health/ready"') && l.includes('"status":503'));
    expect(readyLines.length).toBeGreaterThan(0);
    for (const line of readyLines) expect(JSON.parse(line)).toMatchObject({ level: 'info' });
    const alive = await fetch(`${svc.url}/health/alive`);
    expect(alive.status).toBe(200);
    // During the delay the server still accepts and serves.
    expect((await token(svc, client)).status).toBe(200);

    const statuses = await Promise.all(inFlight.map(async (p) => (await p).status));
    expect(statuses).toEqual(Array(10).fill(200));

    // Past the delay the server stops accepting, but the request already in flight still completes.
    await sleep(1200);
    expect(closed).toBe(false);
    slow.finish();
    const slowRes = await slow.response;
    expect(slowRes.status).toBe(200);
    expect(JSON.parse(slowRes.body)).toMatchObject({ token_type: 'Bearer' });

    await closing;
    await expect(fetch(`${svc.url}/health/alive`)).rejects.toThrow();
  }, 30_000);
});
