// Audit events (README "Audit events"): every step of a client's life and of
// the admin API leaves one event, with who did it, the client, the request id
// and no secret; GET /admin/events filters and pages them; each is also a JSON log line.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { machineClient } from '../factories/clients.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { expectOAuthError } from '../support/expect.js';
import { adminFetch, allPages, basicAuth, nextLink } from '../support/net.js';

type Json = Record<string, unknown>;
interface AuditEvent {
  id: string;
  time: string;
  type: string;
  actor: Json;
  client_id: string | null;
  request_id: string | null;
  trace_id: string | null;
  details: Json;
}

const RUN = `audit-${process.pid}-${Date.now()}`;
const SYSTEM_SECRET = 'test-system-secret-0123456789abcdef';

let svc: RunningApp;
/** Every secret seen on the wire in the lifecycle, by what it is. */
const secrets = new Map<string, string>();
/** Request id sent with each step, by step name. */
const requestIds = new Map<string, string>();
let adminKeyId: string;
let iat: { id: string; token: string };
let refusingIat: { id: string; token: string };
let dcrId: string;
let adminClientId: string;
let policy: string;
/** The configured algorithm's new key from the rotation step. */
let rotatedKid: string;

function keep(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length < 16) throw new Error(`${what} is not a secret: ${JSON.stringify(value)}`);
  secrets.set(what, value);
  return value;
}

/** One request with a fresh X-Request-Id, remembered under `step`. */
async function call(step: string, path: string, init: { method?: string; auth?: string; json?: unknown; form?: Record<string, string> } = {}): Promise<{ status: number; body: Json }> {
  const id = `${RUN}-${step}`;
  requestIds.set(step, id);
  const headers: Record<string, string> = { 'X-Request-Id': id };
  if (init.auth) headers.Authorization = init.auth;
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(init.json);
  } else if (init.form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(svc.url + path, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function expectStep(step: string, path: string, status: number, init: Parameters<typeof call>[2] = {}): Promise<Json> {
  const answer = await call(step, path, init);
  expect({ step, status: answer.status, body: answer.body }).toMatchObject({ step, status });
  return answer.body;
}

const ADMIN = `Bearer ${ADMIN_KEY}`;

async function events(query: string): Promise<AuditEvent[]> {
  const res = await svc.admin(`/admin/events?${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as AuditEvent[];
}

/** The one event a step made, found by the step's request id. */
async function eventOf(step: string, type: string): Promise<AuditEvent> {
  const found = (await events(`type=${type}&page_size=500`)).filter((e) => e.request_id === requestIds.get(step));
  expect({ step, types: found.map((e) => e.type) }).toEqual({ step, types: [type] });
  return found[0];
}

beforeAll(async () => {
  svc = await startApp({ env: { SECRETS_SYSTEM: SYSTEM_SECRET } });
  keep('admin API key', ADMIN_KEY);
  // The key id the service announces at start is the admin actor's key_id.
  const announced = svc.logs.map((l) => JSON.parse(l) as Json).find((l) => l.msg === 'audit: admin API key ids');
  adminKeyId = (announced!.admin_key_ids as string[])[0];

  policy = `${RUN}-policy`;
  await expectStep('policy-create', '/admin/policies', 201, { auth: ADMIN, json: { name: policy, rules: { allowed_scopes: ['read'] } } });
  const minted = await expectStep('iat-mint', '/admin/initial-access-tokens', 201, { auth: ADMIN, json: { max_uses: 1, policies: [policy] } });
  iat = { id: minted.id as string, token: keep('initial access token', minted.token) };
  const refusing = await expectStep('iat-mint-2', '/admin/initial-access-tokens', 201, { auth: ADMIN, json: { max_uses: 1, policies: [policy] } });
  refusingIat = { id: refusing.id as string, token: keep('second initial access token', refusing.token) };

  // RFC 7591 registration, and one its policy refuses.
  const registered = await expectStep('register', '/oauth2/register', 201, { auth: `Bearer ${iat.token}`, json: machineClient({ scope: 'read' }) });
  dcrId = registered.client_id as string;
  keep('client secret', registered.client_secret);
  let rat = keep('registration access token', registered.registration_access_token);
  await expectStep('register-refused', '/oauth2/register', 400, { auth: `Bearer ${refusingIat.token}`, json: machineClient({ scope: 'read write' }) });
  await expectStep('register-forbidden-field', '/oauth2/register', 400, {
    auth: `Bearer ${refusingIat.token}`,
    json: machineClient({ scope: 'read', access_token_strategy: 'jwt' }),
  });

  // RFC 7592 read, update (the RAT rotates), self-service secret rotation.
  const path = `/oauth2/register/${encodeURIComponent(dcrId)}`;
  await expectStep('read', path, 200, { auth: `Bearer ${rat}` });
  const updated = await expectStep('update', path, 200, { method: 'PUT', auth: `Bearer ${rat}`, json: machineClient({ client_id: dcrId, scope: 'read' }) });
  rat = keep('rotated registration access token', updated.registration_access_token);
  const rotated = await expectStep('self-rotate', `${path}/secrets/rotate`, 200, { method: 'POST', auth: `Bearer ${rat}` });
  const secret = keep('self-rotated client secret', rotated.client_secret);

  // A token, revoked by its client (RFC 7009).
  const issued = await expectStep('token', '/oauth2/token', 200, { auth: basicAuth(dcrId, secret), form: { grant_type: 'client_credentials' } });
  const accessToken = keep('access token', issued.access_token);
  await expectStep('revoke', '/oauth2/revoke', 200, { auth: basicAuth(dcrId, secret), form: { token: accessToken } });
  await expectStep('revoke-again', '/oauth2/revoke', 200, { auth: basicAuth(dcrId, secret), form: { token: accessToken } });

  // The admin API on clients, secrets, IATs, policies and keys.
  const created = await expectStep('admin-create', '/admin/clients', 201, { auth: ADMIN, json: machineClient() });
  adminClientId = created.client_id as string;
  keep('admin client secret', created.client_secret);
  keep('admin client registration access token', created.registration_access_token);
  await expectStep('admin-update', `/admin/clients/${adminClientId}`, 200, { method: 'PUT', auth: ADMIN, json: machineClient({ client_id: adminClientId }) });
  const adminRotated = await expectStep('admin-rotate', `/admin/clients/${adminClientId}/secrets/rotate`, 200, { auth: ADMIN, json: { previous_secret_expires_in: '1h' } });
  keep('admin-rotated client secret', adminRotated.client_secret);
  await expectStep('admin-delete', `/admin/clients/${adminClientId}`, 204, { method: 'DELETE', auth: ADMIN });
  await expectStep('admin-delete-missing', `/admin/clients/${adminClientId}`, 404, { method: 'DELETE', auth: ADMIN });
  await expectStep('iat-revoke', `/admin/initial-access-tokens/${refusingIat.id}`, 204, { method: 'DELETE', auth: ADMIN });
  await expectStep('policy-update', `/admin/policies/${policy}-tmp`, 404, { method: 'PUT', auth: ADMIN, json: { rules: {} } });
  await expectStep('policy-create-tmp', '/admin/policies', 201, { auth: ADMIN, json: { name: `${policy}-tmp`, rules: {} } });
  await expectStep('policy-replace', `/admin/policies/${policy}-tmp`, 200, { method: 'PUT', auth: ADMIN, json: { rules: { allowed_scopes: ['read'] } } });
  await expectStep('policy-delete', `/admin/policies/${policy}-tmp`, 204, { method: 'DELETE', auth: ADMIN });
  rotatedKid = (await expectStep('key-rotate', '/admin/keys/rotate', 201, { method: 'POST', auth: ADMIN })).kid as string;

  // RFC 7592 deletion last.
  await expectStep('delete', path, 204, { method: 'DELETE', auth: `Bearer ${rat}` });
}, 60_000);

afterAll(async () => {
  await svc?.close();
});

describe('the events of a registration lifecycle', () => {
  it('records each RFC 7591/7592 step of the client, newest first, with the registrant as actor', async () => {
    const trail = await events(`client_id=${encodeURIComponent(dcrId)}`);
    expect(trail.map((e) => e.type)).toEqual([
      'client.deleted',
      'token.revoked',
      'client.secret_rotated',
      'client.rat_rotated',
      'client.updated',
      'client.read',
      'client.registered',
    ]);
    const byType = Object.fromEntries(trail.map((e) => [e.type, e]));
    expect(byType['client.registered'].actor).toEqual({ type: 'iat', id: iat.id });
    expect(byType['client.registered'].details).toEqual({ policies: [policy], software_statement: false });
    expect(byType['client.registered'].request_id).toBe(requestIds.get('register'));
    for (const type of ['client.read', 'client.updated', 'client.rat_rotated', 'client.secret_rotated', 'client.deleted']) {
      expect({ type, actor: byType[type].actor }).toEqual({ type, actor: { type: 'rat', client_id: dcrId } });
    }
    expect(byType['client.read'].request_id).toBe(requestIds.get('read'));
    expect(byType['client.updated'].request_id).toBe(requestIds.get('update'));
    expect(byType['client.rat_rotated'].request_id).toBe(requestIds.get('update'));
    expect(byType['client.secret_rotated'].request_id).toBe(requestIds.get('self-rotate'));
    expect(byType['client.deleted'].request_id).toBe(requestIds.get('delete'));
    // Tracing is off in this run: no trace id.
    expect(trail.every((e) => e.trace_id === null)).toBe(true);
    for (const e of trail) {
      expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number.isNaN(Date.parse(e.time))).toBe(false);
    }
  });

  it('records a revocation at /oauth2/revoke with the client as actor, once: revoking the revoked token again changes nothing', async () => {
    const revoked = await eventOf('revoke', 'token.revoked');
    expect(revoked).toMatchObject({ actor: { type: 'client', client_id: dcrId }, client_id: dcrId, details: { token_type: 'access_token' } });
    expect((await events('type=token.revoked&page_size=500')).filter((e) => e.request_id === requestIds.get('revoke-again'))).toEqual([]);
  });

  it('records a refused registration outside its rolled-back transaction, naming the policy and the rule, and no client', async () => {
    const refused = await eventOf('register-refused', 'client.registration_refused');
    expect(refused.actor).toEqual({ type: 'iat', id: refusingIat.id });
    expect(refused.client_id).toBeNull();
    expect(refused.details).toMatchObject({ error: 'invalid_client_metadata', policy, rule: 'allowed_scopes' });
    expect(String(refused.details.error_description)).toContain('write');
    // A field the registrant may not send is refused before the registration starts, and recorded too.
    const forbidden = await eventOf('register-forbidden-field', 'client.registration_refused');
    expect(forbidden.details).toMatchObject({ error: 'invalid_client_metadata' });
    expect(String(forbidden.details.error_description)).toContain('access_token_strategy');
    // Neither refusal burned the IAT's single use: it was still usable until it was revoked.
    expect((await events(`type=admin.iat.revoked&page_size=500`)).some((e) => e.details.iat_id === refusingIat.id)).toBe(true);
  });

  it('records every admin change with the admin key id as actor, and nothing for a change that failed', async () => {
    const admin = { type: 'admin', key_id: adminKeyId };
    expect(adminKeyId).toMatch(/^[0-9a-f]{16}$/);
    expect(await eventOf('policy-create', 'admin.policy.created')).toMatchObject({ actor: admin, details: { policy } });
    expect(await eventOf('iat-mint', 'admin.iat.minted')).toMatchObject({
      actor: admin,
      details: { iat_id: iat.id, max_uses: 1, policies: [policy], expires_at: null },
    });
    expect(await eventOf('admin-create', 'admin.client.created')).toMatchObject({ actor: admin, client_id: adminClientId });
    expect(await eventOf('admin-update', 'admin.client.updated')).toMatchObject({ actor: admin, client_id: adminClientId });
    expect(await eventOf('admin-rotate', 'client.secret_rotated')).toMatchObject({
      actor: admin,
      client_id: adminClientId,
      details: { previous_secret_expires_in: 3600 },
    });
    expect(await eventOf('admin-delete', 'admin.client.deleted')).toMatchObject({ actor: admin, client_id: adminClientId });
    expect(await eventOf('iat-revoke', 'admin.iat.revoked')).toMatchObject({ actor: admin, details: { iat_id: refusingIat.id } });
    expect(await eventOf('policy-replace', 'admin.policy.updated')).toMatchObject({ actor: admin, details: { policy: `${policy}-tmp` } });
    expect(await eventOf('policy-delete', 'admin.policy.deleted')).toMatchObject({ actor: admin, details: { policy: `${policy}-tmp` } });
    const rotated = await eventOf('key-rotate', 'admin.key.rotated');
    expect(rotated.actor).toEqual(admin);
    // One new key per algorithm in use (the shared test database may hold keys of other algorithms); the configured one's is answered.
    const { kids, algs } = rotated.details as { kids: string[]; algs: string[] };
    expect(kids).toHaveLength(algs.length);
    expect(kids[0]).toBe(rotatedKid);
    expect(algs[0]).toBe('RS256');
    // Failed changes (a 404 delete, a 404 update) left no event of their own.
    const all = await allEvents('page_size=500');
    expect(all.filter((e) => [requestIds.get('admin-delete-missing'), requestIds.get('policy-update')].includes(e.request_id ?? ''))).toEqual([]);
  });
});

describe('fleet operations in the trail', () => {
  it('records suspension, resumption and a bulk action with the admin key id as actor; a dry run records nothing', async () => {
    const admin = { type: 'admin', key_id: adminKeyId };
    const created = (await (await svc.admin('/admin/clients', { method: 'POST', json: { grant_types: ['client_credentials'], owner: `${RUN}-fleet` } })).json()) as Json;
    const id = created.client_id as string;
    expect((await svc.admin(`/admin/clients/${encodeURIComponent(id)}/suspend`, { method: 'POST', json: { reason: 'audit review' } })).status).toBe(200);
    expect((await svc.admin(`/admin/clients/${encodeURIComponent(id)}/resume`, { method: 'POST' })).status).toBe(200);
    const forClient = await events(`client_id=${encodeURIComponent(id)}&type=client.suspended,client.resumed`);
    expect(forClient.map((e) => [e.type, e.actor, e.details])).toEqual([
      ['client.resumed', admin, {}],
      ['client.suspended', admin, { reason: 'audit review' }],
    ]);
    const before = (await events('type=bulk.action&page_size=500')).length;
    const bulk = (body: Json) => svc.admin('/admin/bulk/clients', { method: 'POST', json: body });
    expect((await bulk({ filter: { owner: `${RUN}-fleet` }, action: 'suspend', dry_run: true })).status).toBe(200);
    expect((await events('type=bulk.action&page_size=500')).length).toBe(before);
    expect((await bulk({ filter: { owner: `${RUN}-fleet` }, action: 'suspend', reason: 'bulk review' })).status).toBe(200);
    const [latest] = await events('type=bulk.action&page_size=1');
    expect(latest).toMatchObject({ actor: admin, details: { action: 'suspend', matched: 1, applied: 1 } });
  });
});

/** Every event matching `query`, across pages. */
async function allEvents(query: string): Promise<AuditEvent[]> {
  const pages = await allPages<AuditEvent>((p) => svc.admin(p), svc.url, `/admin/events?${query}`);
  expect(pages.every((p) => p.status === 200)).toBe(true);
  return pages.flatMap((p) => p.items);
}

/** The value, its SHA-256 (hex, base64, base64url) and its keyed hash under the system secret: none of them may be in an event. */
function forms(value: string): string[] {
  const sha = createHash('sha256').update(value).digest();
  return [
    value,
    Buffer.from(value).toString('base64url'),
    sha.toString('hex'),
    sha.toString('base64'),
    sha.toString('base64url'),
    createHmac('sha256', SYSTEM_SECRET).update(value).digest('base64url'),
  ];
}

describe('no secret in an event', () => {
  it('shows no secret, token or hash of one in the events or in the audit log lines', async () => {
    const trail = JSON.stringify([...(await events(`client_id=${encodeURIComponent(dcrId)}`)), ...(await events(`client_id=${adminClientId}`)), ...(await events('actor_type=admin&page_size=500'))]);
    const auditLines = svc.logs.filter((l) => (JSON.parse(l) as Json).msg === 'audit');
    expect(auditLines.length).toBeGreaterThanOrEqual(20);
    expect(secrets.size).toBe(11);
    const found: string[] = [];
    for (const [what, value] of secrets) {
      for (const form of forms(value)) {
        if (trail.includes(form)) found.push(`${what} in /admin/events`);
        if (auditLines.some((l) => l.includes(form))) found.push(`${what} in the audit log`);
      }
    }
    expect(found).toEqual([]);
  });
});

describe('the audit log lines', () => {
  it('writes each event as one JSON line with msg "audit" and the event fields, after its change committed', async () => {
    const registered = await eventOf('register', 'client.registered');
    const lines = svc.logs.map((l) => JSON.parse(l) as Json).filter((l) => l.msg === 'audit' && (l.audit as Json).id === registered.id);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'audit', audit: registered });
    // A refused registration's transaction rolled back: no line for a client.registered that never was.
    const refusedStep = requestIds.get('register-refused');
    const refusedLines = svc.logs.map((l) => JSON.parse(l) as Json).filter((l) => l.msg === 'audit' && (l.audit as Json).request_id === refusedStep);
    expect(refusedLines.map((l) => (l.audit as Json).type)).toEqual(['client.registration_refused']);
  });

  it('writes no audit line with audit.log.enabled false, while events are still recorded', async () => {
    const quiet = await startApp({ env: { AUDIT_LOG_ENABLED: 'false' } });
    try {
      const res = await adminFetch(quiet.url, ADMIN_KEY, '/admin/initial-access-tokens', { method: 'POST', json: {}, headers: { 'X-Request-Id': `${RUN}-quiet` } });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      expect((await events('type=admin.iat.minted&page_size=500')).filter((e) => e.details.iat_id === id)).toHaveLength(1);
      expect(quiet.logs.filter((l) => (JSON.parse(l) as Json).msg === 'audit')).toEqual([]);
    } finally {
      await quiet.close();
    }
  });
});

describe('open registration', () => {
  it('records a registration without an initial access token with an anonymous actor', async () => {
    const open = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false' } });
    try {
      const res = await fetch(`${open.url}/oauth2/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(machineClient()) });
      expect(res.status).toBe(201);
      const { client_id: clientId } = (await res.json()) as { client_id: string };
      const trail = await events(`client_id=${encodeURIComponent(clientId)}`);
      expect(trail.map((e) => [e.type, e.actor])).toEqual([['client.registered', { type: 'anonymous' }]]);
      expect(trail[0].request_id).toBe(res.headers.get('x-request-id'));
    } finally {
      await open.close();
    }
  });

  it('records a refused body with an anonymous actor, and nothing for a registration its token check refused', async () => {
    const open = await startApp({ env: { OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false' } });
    try {
      const register = (step: string, headers: Record<string, string>, body: unknown) =>
        fetch(`${open.url}/oauth2/register`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Request-Id': `${RUN}-${step}`, ...headers },
          body: JSON.stringify(body),
        });
      expect((await register('open-forbidden-field', {}, { ...machineClient(), access_token_strategy: 'jwt' })).status).toBe(400);
      expect((await register('open-unknown-iat', { Authorization: 'Bearer not-an-initial-access-token' }, machineClient())).status).toBe(401);
      const refusals = await events('type=client.registration_refused&page_size=500');
      const of = (step: string) => refusals.filter((e) => e.request_id === `${RUN}-${step}`);
      expect(of('open-forbidden-field').map((e) => [e.actor, e.details.error])).toEqual([[{ type: 'anonymous' }, 'invalid_client_metadata']]);
      expect(of('open-unknown-iat')).toEqual([]);
    } finally {
      await open.close();
    }
  });
});

describe('GET /admin/events', () => {
  it('filters by type, repeated or comma-separated, and by actor_type', async () => {
    const q = `client_id=${encodeURIComponent(dcrId)}`;
    const repeated = await events(`${q}&type=client.read&type=client.deleted`);
    expect(repeated.map((e) => e.type)).toEqual(['client.deleted', 'client.read']);
    const comma = await events(`${q}&type=client.read,client.deleted`);
    expect(comma).toEqual(repeated);
    expect((await events(`${q}&actor_type=iat`)).map((e) => e.type)).toEqual(['client.registered']);
    expect((await events(`${q}&actor_type=client`)).map((e) => e.type)).toEqual(['token.revoked']);
    expect(await events(`${q}&actor_type=admin`)).toEqual([]);
  });

  it('filters by since (inclusive) and until (exclusive)', async () => {
    const trail = await events(`client_id=${encodeURIComponent(dcrId)}`);
    const registered = trail[trail.length - 1];
    const deleted = trail[0];
    expect((await events(`client_id=${encodeURIComponent(dcrId)}&until=${registered.time}`))).toEqual([]);
    expect((await events(`client_id=${encodeURIComponent(dcrId)}&since=${deleted.time}`)).map((e) => e.id)).toContain(deleted.id);
    const between = await events(`client_id=${encodeURIComponent(dcrId)}&since=${registered.time}&until=${encodeURIComponent(new Date(Date.parse(deleted.time) + 1).toISOString())}`);
    expect(between.map((e) => e.id)).toEqual(trail.map((e) => e.id));
    // An offset other than Z means the same instant.
    const offset = registered.time.replace('Z', '+00:00');
    expect((await events(`client_id=${encodeURIComponent(dcrId)}&until=${encodeURIComponent(offset)}`))).toEqual([]);
  });

  it('pages newest first with page_size and the Link header, keeping the filters, each event once', async () => {
    const whole = await events(`client_id=${encodeURIComponent(dcrId)}`);
    const first = await svc.admin(`/admin/events?client_id=${encodeURIComponent(dcrId)}&type=client.read&type=client.updated&type=client.rat_rotated&type=client.deleted&page_size=2`);
    expect(first.status).toBe(200);
    expect(first.headers.get('link')).toContain('rel="first"');
    const next = nextLink(first);
    expect(next).toContain('type=client.read&type=client.updated');
    expect(next).toContain(`client_id=${encodeURIComponent(dcrId)}`);
    const pages = await allPages<AuditEvent>(
      (p) => svc.admin(p),
      svc.url,
      `/admin/events?client_id=${encodeURIComponent(dcrId)}&type=client.read,client.updated,client.rat_rotated,client.deleted&page_size=2`,
    );
    expect(pages.map((p) => p.items.length)).toEqual([2, 2]);
    expect(pages[1].next).toBeUndefined();
    expect(pages.flatMap((p) => p.items).map((e) => e.type)).toEqual(['client.deleted', 'client.rat_rotated', 'client.updated', 'client.read']);
    const ones = await allPages<AuditEvent>((p) => svc.admin(p), svc.url, `/admin/events?client_id=${encodeURIComponent(dcrId)}&page_size=1`);
    expect(ones.flatMap((p) => p.items)).toEqual(whole);
  });

  it('answers 401 without the admin key or with a wrong one', async () => {
    await expectOAuthError(await fetch(`${svc.url}/admin/events`), 401, 'invalid_token');
    await expectOAuthError(await fetch(`${svc.url}/admin/events`, { headers: { Authorization: `Bearer ${ADMIN_KEY}-wrong` } }), 401, 'invalid_token');
  });

  it('refuses bad filters, page sizes, page tokens and unknown or repeated parameters with 400 naming the parameter', async () => {
    const bad = async (query: string, ...mentions: string[]) => expectOAuthError(await svc.admin(`/admin/events?${query}`), 400, 'invalid_request', ...mentions);
    await bad('type=client.created', 'type', '"client.created"');
    await bad('type=', 'type');
    await bad('type=client.read,,client.deleted', 'type');
    await bad(`type=${'client.read,'.repeat(40)}client.read`, 'type');
    await bad('actor_type=robot', 'actor_type');
    await bad('actor_type=admin&actor_type=iat', 'actor_type');
    await bad('client_id=a&client_id=b', 'client_id');
    await bad('since=yesterday', 'since');
    await bad('since=2025-11-27', 'since');
    await bad('until=2025-13-45T99:00:00Z', 'until');
    await bad('since=2025-11-27T10:00:00', 'since');
    await bad('page_size=0', 'page_size');
    await bad('page_size=501', 'page_size');
    await bad('page_token=not-a-token', 'page_token');
    await bad(`page_token=${Buffer.from(JSON.stringify({ after: 'x|y' })).toString('base64url')}`, 'page_token');
    await bad(`page_token=${Buffer.from(JSON.stringify({ after: `2025-01-01T00:00:00Z|${randomUUID()}'--` })).toString('base64url')}`, 'page_token');
    await bad('client=abc', 'unknown query parameter client');
  });
});
