// Fault tests against the real service running as separate OS processes
// (`node dist/src/main.js`, built by `nest build`): SIGKILL in the middle of a
// burst of registrations, PostgreSQL connections cut and refused under load,
// two instances on one database (README, Operating Registrar: "Run as many
// instances as you like against one PostgreSQL"), also while one's change notifications (LISTEN
// connection) are cut, and SIGTERM with requests in flight. Every scenario
// runs on a database of its own.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { ADMIN_DSN, createDatabase, dropDatabase, query } from '../support/postgres.js';
import { startService, stopAllServices, type ServiceProcess } from '../support/process.js';
import { basicAuth } from '../support/net.js';
import { type MintedIat, mintIatRecord } from '../support/dcr.js';
import { adminIntrospect } from '../support/oauth-flow.js';

interface Credentials {
  client_id: string;
  client_secret: string;
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A deadline for Promise.race that does not keep the test process alive once the race is decided. */
const deadline = (ms: number) => new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref());

const databases: string[] = [];

async function freshDatabase(): Promise<{ name: string; dsn: string }> {
  const db = await createDatabase('registrar_faults');
  databases.push(db.name);
  return db;
}

afterAll(async () => {
  // Whatever happened above: no service process outlives the file, no database stays locked or behind.
  await stopAllServices();
  for (const name of databases) {
    await query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`, [], ADMIN_DSN).catch(() => undefined);
    await dropDatabase(name).catch(() => undefined);
  }
}, 60_000);

function basic(c: Credentials): string {
  return basicAuth(c.client_id, c.client_secret);
}

function postForm(url: string, params: Record<string, string>, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
    signal,
  });
}

function tokenRequest(svc: ServiceProcess, c: Credentials, signal?: AbortSignal): Promise<Response> {
  return postForm(`${svc.url}/oauth2/token`, { grant_type: 'client_credentials' }, { Authorization: basic(c) }, signal);
}

async function issueToken(svc: ServiceProcess, c: Credentials): Promise<string> {
  const res = await tokenRequest(svc, c);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token request to ${svc.url} failed: ${res.status} ${text}`);
  return (JSON.parse(text) as { access_token: string }).access_token;
}

function registration(svc: ServiceProcess, iatToken: string | undefined, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (iatToken !== undefined) headers.Authorization = `Bearer ${iatToken}`;
  return fetch(`${svc.url}/oauth2/register`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ grant_types: ['client_credentials'], scope: 'read' }),
    signal,
  });
}

function mintIat(svc: ServiceProcess, maxUses: number): Promise<MintedIat> {
  return mintIatRecord(svc, { max_uses: maxUses, description: 'faults' });
}

async function createAdminClient(svc: ServiceProcess, extra: Record<string, unknown> = {}): Promise<Credentials> {
  const res = await svc.admin('/admin/clients', {
    method: 'POST',
    json: { client_name: `faults-${Date.now()}`, grant_types: ['client_credentials'], scope: 'read', ...extra },
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`creating a client failed: ${res.status} ${text}`);
  return JSON.parse(text) as Credentials;
}

/** Runs `fn` over `items` with at most `limit` calls at a time. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Retries `attempt` until it returns true or `ms` have passed; returns the time it took, or -1. */
async function within(ms: number, attempt: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    try {
      if (await attempt()) return Date.now() - start;
    } catch {
      // not yet
    }
    await sleep(200);
  }
  return -1;
}

describe('SIGKILL during a burst of registrations, then a restart on the same database', () => {
  it('keeps every acknowledged client usable, leaves no half-written client, and counts one IAT use per client', async () => {
    const db = await freshDatabase();
    const first = await startService({ DSN: db.dsn });
    const iat = await mintIat(first, 500);
    // Warm up (first-request costs) with another IAT, so that the burst below gets answers quickly.
    const warmup = await mintIat(first, 10);
    for (const res of await Promise.all(Array.from({ length: 10 }, () => registration(first, warmup.token)))) {
      expect(res.status).toBe(201);
      await res.body?.cancel();
    }

    const acknowledged: Credentials[] = [];
    const refused: string[] = [];
    let cut = 0;
    let firstAck!: () => void;
    const firstAckSeen = new Promise<void>((resolve) => (firstAck = resolve));
    const burstStart = Date.now();
    const burst = Array.from({ length: 300 }, async () => {
      try {
        const res = await registration(first, iat.token);
        const text = await res.text();
        if (res.status === 201) {
          acknowledged.push(JSON.parse(text) as Credentials);
          firstAck();
        } else refused.push(`${res.status} ${text}`);
      } catch {
        cut += 1; // the connection died with the process: the caller got no answer
      }
    });
    // SIGKILL ~150 ms into the burst, and not before the first 201 (else nothing would be checked).
    await Promise.race([firstAckSeen, deadline(10_000)]);
    const firstAckAt = Date.now() - burstStart;
    await sleep(Math.max(60, 150 - firstAckAt));
    const killedAt = Date.now() - burstStart;
    const exit = await first.kill9();
    await Promise.all(burst);
    expect(exit.signal).toBe('SIGKILL');
    expect(refused).toEqual([]);
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(cut).toBeGreaterThan(0); // the kill really landed mid-burst

    const second = await startService({ DSN: db.dsn });
    // Every client the caller was told about exists and works.
    const checks = await mapLimit(acknowledged, 20, async (c) => {
      const read = await second.admin(`/admin/clients/${encodeURIComponent(c.client_id)}`);
      const readBody = (await read.json()) as { client_id?: string };
      const token = await tokenRequest(second, c);
      const tokenBody = (await token.json()) as { access_token?: string };
      return { id: c.client_id, read: read.status, readId: readBody.client_id, token: token.status, hasToken: typeof tokenBody.access_token === 'string' };
    });
    expect(checks.filter((c) => c.read !== 200 || c.readId !== c.id || c.token !== 200 || !c.hasToken)).toEqual([]);

    // No half-written client: every row of this IAT is complete.
    const rows = (
      await query(
        `SELECT id, created_via, secret_hash, registration_access_token_hash, fields, created_at FROM clients WHERE initial_access_token_id = $1`,
        [iat.id],
        db.dsn,
      )
    ).rows as Array<{ id: string; created_via: string; secret_hash: string | null; registration_access_token_hash: string | null; fields: Record<string, unknown> | null; created_at: Date | null }>;
    const incomplete = rows.filter(
      (r) =>
        r.created_via !== 'dcr' ||
        !r.secret_hash ||
        !r.registration_access_token_hash ||
        !r.fields ||
        JSON.stringify(r.fields.grant_types) !== '["client_credentials"]' ||
        r.created_at === null,
    );
    expect(incomplete).toEqual([]);
    console.log(
      `SIGKILL ${killedAt} ms into the burst (first 201 at ${firstAckAt} ms): ${acknowledged.length} registrations acknowledged, ` +
        `${cut} cut, ${rows.length} clients in the database`,
    );
    const rowIds = new Set(rows.map((r) => r.id));
    expect(acknowledged.filter((c) => !rowIds.has(c.client_id))).toEqual([]);
    // Exactly one use per client: none counted without its client, no client without its use.
    const [{ uses }] = (await query(`SELECT uses FROM initial_access_tokens WHERE id = $1`, [iat.id], db.dsn)).rows as Array<{ uses: number }>;
    expect(uses).toBe(rows.length);
    const viaApi = (await (await second.admin(`/admin/initial-access-tokens/${iat.id}`)).json()) as { uses: number };
    expect(viaApi.uses).toBe(rows.length);

    // The IAT row is not left locked or broken: the restarted process registers with it and counts the use.
    const after = await registration(second, iat.token);
    expect(after.status).toBe(201);
    const [{ uses: usesAfter }] = (await query(`SELECT uses FROM initial_access_tokens WHERE id = $1`, [iat.id], db.dsn)).rows as Array<{ uses: number }>;
    expect(usesAfter).toBe(rows.length + 1);
    await second.stop();
  }, 90_000);
});

interface Outcome {
  kind: 'list' | 'token';
  status: number;
  contentType: string;
  body: string;
  ms: number;
  phase: string;
}

describe('PostgreSQL connections cut and refused under load', () => {
  const TERMINATE = 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()';
  const BOUND_MS = 15_000;

  it('answers 2xx or a JSON 503 within a bound, reports not ready while blocked, and recovers without a restart', async () => {
    const db = await freshDatabase();
    const svc = await startService({ DSN: db.dsn });
    const client = await createAdminClient(svc);
    const iat = await mintIat(svc, 5);

    let phase = 'baseline';
    let loading = true;
    const outcomes: Outcome[] = [];
    let n = 0;
    const worker = async () => {
      while (loading) {
        const kind: Outcome['kind'] = n++ % 2 === 0 ? 'list' : 'token';
        const started = Date.now();
        const at = phase;
        const signal = AbortSignal.timeout(BOUND_MS);
        try {
          const res = kind === 'list' ? await svc.admin('/admin/clients', { signal }) : await tokenRequest(svc, client, signal);
          const body = await res.text();
          outcomes.push({ kind, status: res.status, contentType: res.headers.get('content-type') ?? '', body, ms: Date.now() - started, phase: at });
        } catch (err) {
          // A timeout or a dropped connection: neither is an answer.
          outcomes.push({ kind, status: 0, contentType: '', body: String((err as Error).cause ?? (err as Error).message), ms: Date.now() - started, phase: at });
          await sleep(20); // a dead process refuses at once: no busy loop
        }
      }
    };
    const workers = Array.from({ length: 6 }, () => worker());
    const readiness: Array<{ status: number; body: string }> = [];
    let terminated = 0;
    try {
      await sleep(300);

      phase = 'terminating';
      const until = Date.now() + 2_000;
      while (Date.now() < until) {
        terminated += (await query(TERMINATE, [db.name], ADMIN_DSN)).rowCount ?? 0;
        await sleep(50);
      }

      phase = 'blocked';
      await query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`, [], ADMIN_DSN);
      await query(TERMINATE, [db.name], ADMIN_DSN);
      for (let i = 0; i < 3; i += 1) {
        await sleep(300);
        await query(TERMINATE, [db.name], ADMIN_DSN);
        const res = await fetch(`${svc.url}/health/ready`, { signal: AbortSignal.timeout(BOUND_MS) });
        readiness.push({ status: res.status, body: await res.text() });
      }
      await query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`, [], ADMIN_DSN);
      phase = 'unblocked';
      await sleep(300);
    } finally {
      loading = false;
      await query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`, [], ADMIN_DSN);
      await Promise.all(workers);
    }

    expect(terminated).toBeGreaterThan(0);
    // While blocked, readiness says so, as a JSON error (README, HTTP API).
    for (const r of readiness) {
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'temporarily_unavailable' });
    }
    // Under the faults: a success or a JSON 503, never a 500, never HTML, never a hang or a dropped connection.
    const bad = outcomes.filter((o) => {
      if (o.status >= 200 && o.status < 300) return false;
      if (o.status !== 503 || !o.contentType.startsWith('application/json')) return true;
      try {
        return (JSON.parse(o.body) as { error?: unknown }).error !== 'temporarily_unavailable';
      } catch {
        return true;
      }
    });
    expect(bad.slice(0, 10)).toEqual([]);
    expect(outcomes.filter((o) => o.ms > BOUND_MS)).toEqual([]);
    // The faults did reach the requests (while blocked, nothing can be read from the database).
    expect(outcomes.some((o) => o.status === 503)).toBe(true);
    expect(outcomes.some((o) => o.phase === 'blocked')).toBe(true);
    expect(svc.child.exitCode).toBeNull();
    const count = (phase: string) => outcomes.filter((o) => o.phase === phase).length;
    console.log(
      `connection loss: ${outcomes.length} requests (${['baseline', 'terminating', 'blocked', 'unblocked'].map((p) => `${p} ${count(p)}`).join(', ')}), ` +
        `${outcomes.filter((o) => o.status === 503).length} answered 503, slowest ${Math.max(...outcomes.map((o) => o.ms))} ms`,
    );

    // The same process recovers on its own.
    const readyAfter = await within(10_000, async () => (await fetch(`${svc.url}/health/ready`, { signal: AbortSignal.timeout(5_000) })).status === 200);
    expect(readyAfter).toBeGreaterThanOrEqual(0);
    const registeredAfter = await within(10_000, async () => (await registration(svc, iat.token, AbortSignal.timeout(5_000))).status === 201);
    expect(registeredAfter).toBeGreaterThanOrEqual(0);
    const tokenAfter = await within(10_000, async () => (await tokenRequest(svc, client, AbortSignal.timeout(5_000))).status === 200);
    expect(tokenAfter).toBeGreaterThanOrEqual(0);
    console.log(`connection loss: recovered after ALLOW_CONNECTIONS true: ready in ${readyAfter} ms, then registration in ${registeredAfter} ms, token in ${tokenAfter} ms`);
    expect(svc.child.exitCode).toBeNull();
    await svc.stop();
  }, 60_000);
});

describe('two service processes on one database', () => {
  let a: ServiceProcess;
  let b: ServiceProcess;
  let dsn: string;

  beforeAll(async () => {
    const db = await freshDatabase();
    dsn = db.dsn;
    // One deployment: one issuer (the default, http://127.0.0.1:<port>, would differ per process and
    // make each refuse the other's JWTs). Started together: both migrate the empty database at once
    // (they take turns through an advisory lock).
    const env = { DSN: dsn, URLS_SELF_ISSUER: 'https://registrar.faults.test' };
    [a, b] = await Promise.all([startService(env), startService(env)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  }, 30_000);

  it('lets an IAT with max_uses 5 raced from both create exactly 5 clients', async () => {
    const iat = await mintIat(a, 5);
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await registration(i % 2 === 0 ? a : b, iat.token);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      }),
    );
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(5);
    // The others are told the IAT is used up (invalid_token: unknown, expired, revoked or used up alike).
    expect(results.filter((r) => r.status !== 201).filter((r) => r.status !== 401 || r.body.error !== 'invalid_token')).toEqual([]);
    const viaB = (await (await b.admin(`/admin/initial-access-tokens/${iat.id}`)).json()) as { uses: number };
    expect(viaB.uses).toBe(5);
    const { rows } = await query(`SELECT count(*)::int AS n FROM clients WHERE initial_access_token_id = $1`, [iat.id], dsn);
    expect(rows[0].n).toBe(5);
  }, 30_000);

  it.each(['opaque', 'jwt'])('shows a %s token issued and revoked through A as inactive through B', async (strategy) => {
    const client = await createAdminClient(a, { access_token_strategy: strategy });
    const token = await issueToken(a, client);
    expect(token.split('.').length === 3).toBe(strategy === 'jwt');
    expect(await adminIntrospect(b, token)).toMatchObject({ active: true, client_id: client.client_id });
    const revoked = await postForm(`${a.url}/oauth2/revoke`, { token }, { Authorization: basic(client) });
    expect(revoked.status).toBe(200);
    expect(await adminIntrospect(b, token)).toEqual({ active: false });
  }, 30_000);

  it("publishes a key rotated on A in B's JWKS, and B accepts what A signs with it", async () => {
    const jwksOf = async (svc: ServiceProcess) => (await (await fetch(`${svc.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    const before = (await jwksOf(b)).keys.map((k) => k.kid);
    expect(before.length).toBeGreaterThan(0);
    const rotated = await a.admin('/admin/keys/rotate', { method: 'POST' });
    expect(rotated.status).toBe(201);
    const { kid } = (await rotated.json()) as { kid: string };
    const jwks = await jwksOf(b);
    // At once in B's JWKS, next to the previous keys (their tokens have not expired).
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([kid, ...before]));

    const client = await createAdminClient(a, { access_token_strategy: 'jwt' });
    const token = await issueToken(a, client);
    expect(decodeProtectedHeader(token).kid).toBe(kid);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks));
    expect(payload.client_id).toBe(client.client_id);
    expect(await adminIntrospect(b, token)).toMatchObject({ active: true, client_id: client.client_id });
    // B, told of the rotation through the database, signs with the new key too (allowing 2 s for the signal).
    const signedByB = await within(2_000, async () => decodeProtectedHeader(await issueToken(b, client)).kid === kid);
    expect(signedByB).toBeGreaterThanOrEqual(0);
  }, 30_000);

  it.each(['opaque', 'jwt'])('refuses tokens from B to a %s client deleted on A once the signal arrives, and reports its tokens inactive', async (strategy) => {
    // B has just served each client (and holds it in its cache); A's change reaches B's cache through
    // LISTEN/NOTIFY, normally within milliseconds (README "Performance": a busy host widens the window).
    const outcomes: Array<{ status: number; body: Record<string, unknown> }> = [];
    for (let i = 0; i < 5; i += 1) {
      const client = await createAdminClient(a, { access_token_strategy: strategy });
      const before = await issueToken(b, client);
      const deleted = await a.admin(`/admin/clients/${encodeURIComponent(client.client_id)}`, { method: 'DELETE' });
      expect(deleted.status).toBe(204);
      const refusedAfter = await within(2_000, async () => (await tokenRequest(b, client)).status === 401);
      expect(refusedAfter).toBeGreaterThanOrEqual(0);
      const answers = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const res = await tokenRequest(b, client);
          return { status: res.status, body: (await res.json()) as Record<string, unknown> };
        }),
      );
      outcomes.push(...answers);
      expect(await adminIntrospect(b, before)).toEqual({ active: false });
    }
    const wrong = outcomes.filter((o) => o.status !== 401 || o.body.error !== 'invalid_client');
    if (wrong.some((o) => o.status >= 500)) console.log(`B answered 5xx; B's log:\n${b.logs.slice(-10).join('\n')}`);
    expect(wrong).toEqual([]);
  }, 30_000);

  it.each(['opaque', 'jwt'])(
    "refuses tokens from B to a %s client deleted on A while B's change notifications are cut",
    async (strategy) => {
      const listening = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`;
      // Both instances listen (again, after an earlier cut: they reconnect after a second).
      expect(await within(5_000, async () => (await query(listening, [], dsn)).rows[0].n >= 2)).toBeGreaterThanOrEqual(0);
      const client = await createAdminClient(a, { access_token_strategy: strategy });
      await issueToken(b, client); // B has served the client
      // The LISTEN connections (B's signal that a client changed) die; B reconnects them after a while.
      const cut = await query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`,
        [],
        dsn,
      );
      expect(cut.rowCount).toBeGreaterThan(0);
      await sleep(50);
      const deleted = await a.admin(`/admin/clients/${encodeURIComponent(client.client_id)}`, { method: 'DELETE' });
      expect(deleted.status).toBe(204);
      const res = await tokenRequest(b, client);
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status >= 500) console.log(`B answered ${res.status}; B's log:\n${b.logs.slice(-5).join('\n')}`);
      expect({ status: res.status, body }).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    },
    30_000,
  );
});

describe('two service processes sharing one registration rate limit', () => {
  let c: ServiceProcess;
  let d: ServiceProcess;

  beforeAll(async () => {
    const db = await freshDatabase();
    const env = {
      DSN: db.dsn,
      OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '4/1m',
      OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false',
    };
    [c, d] = await Promise.all([startService(env), startService(env)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([c?.stop(), d?.stop()]);
  }, 30_000);

  it('allows 4 registrations per minute from one address across both, then 429 on either', async () => {
    // The window is the wall-clock minute: keep the whole exchange inside one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 250);
    const statuses: number[] = [];
    for (const svc of [c, c, d, d]) statuses.push((await registration(svc, undefined)).status);
    expect(statuses).toEqual([201, 201, 201, 201]);
    for (const svc of [c, d]) {
      const res = await registration(svc, undefined);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      await res.body?.cancel();
    }
  }, 30_000);
});

/** A token request whose body is sent in two parts; resolves with the status (0 = no answer). */
function slowTokenRequest(svc: ServiceProcess, c: Credentials): { sendRest: () => void; done: Promise<{ status: number; body: string }> } {
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'read' }).toString();
  const req = httpRequest(`${svc.url}/oauth2/token`, {
    method: 'POST',
    agent: false,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(body.length), Authorization: basic(c) },
  });
  const done = new Promise<{ status: number; body: string }>((resolve) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', (err) => resolve({ status: 0, body: err.message }));
    });
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
  });
  req.flushHeaders();
  req.write(body.slice(0, 10));
  return { sendRest: () => req.end(body.slice(10)), done };
}

describe('SIGTERM', () => {
  it('finishes the requests in flight and exits with code 0', async () => {
    const db = await freshDatabase();
    const svc = await startService({ DSN: db.dsn });
    const client = await createAdminClient(svc);
    // Warm up, which also leaves keep-alive connections open for the requests below.
    for (const res of await Promise.all(Array.from({ length: 20 }, () => tokenRequest(svc, client)))) {
      expect(res.status).toBe(200);
      await res.body?.cancel();
    }

    const slow = slowTokenRequest(svc, client);
    await sleep(200); // its headers have arrived; the body has not
    const burst = Array.from({ length: 20 }, async () => {
      try {
        const res = await tokenRequest(svc, client, AbortSignal.timeout(15_000));
        await res.body?.cancel();
        return { status: res.status, error: '' };
      } catch (err) {
        return { status: 0, error: String((err as Error).cause ?? (err as Error).message) };
      }
    });
    await sleep(5);
    const signalledAt = Date.now();
    svc.child.kill('SIGTERM');
    await sleep(300);
    slow.sendRest();

    const exit = await Promise.race([svc.exited, deadline(15_000)]);
    const exitedAfter = Date.now() - signalledAt;
    const outcomes = await Promise.all(burst);
    const slowOutcome = await slow.done;
    console.log(
      `SIGTERM: exit ${JSON.stringify(exit)} after ${exitedAfter} ms; burst ${outcomes.filter((o) => o.status === 200).length} x 200, ` +
        `${outcomes.filter((o) => o.status === 0).length} connection errors; slow request ${slowOutcome.status}`,
    );
    // The request whose body was still arriving when the signal came is answered.
    expect(slowOutcome.status).toBe(200);
    expect(JSON.parse(slowOutcome.body)).toHaveProperty('access_token');
    // Each of the 20: answered 200, or never accepted (a connection error); never a 5xx or another status.
    expect(outcomes.filter((o) => o.status !== 200 && o.status !== 0)).toEqual([]);
    expect(outcomes.some((o) => o.status === 200)).toBe(true);
    // Exited within the bound, and cleanly: exit code 0, not death by the signal.
    expect(exit).toBeDefined();
    expect(exit).toEqual({ code: 0, signal: null });
  }, 40_000);
});
