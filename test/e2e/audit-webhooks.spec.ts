// Audit event webhooks (README "Audit events"): each event is POSTed, signed,
// to the configured receivers from an outbox written in the event's own
// transaction; failures are retried with backoff; pending deliveries survive a
// restart; two instances on one database share the work without sending an
// event twice; the janitor deletes events past audit.retention. Real HTTPS
// receiver, real PostgreSQL (a database of this file's own).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JanitorService } from '../../src/database/janitor.service.js';
import { machineClient } from '../factories/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { mintIatRecord, register } from '../support/dcr.js';
import { startHttpsServer, type TestHttpsServer } from '../support/https-server.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';

type Json = Record<string, unknown>;

const SECRET = 'webhook-secret-0123456789abcdef-0123456789';
const REGISTERED_SECRET = 'another-webhook-secret-0123456789abcdef';

interface Delivery {
  path: string;
  eventId: string;
  signature: string;
  body: string;
  answered: number;
  at: number;
}

let receiver: TestHttpsServer;
let db: { name: string; dsn: string };
const deliveries: Delivery[] = [];
/** How the receiver answers the next POST: a status, or 'down' (the connection is dropped). */
let answer: (d: Omit<Delivery, 'answered'>) => Promise<number | 'down'> = async () => 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 600; i += 1) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await sleep(100);
  }
  throw new Error(`gave up waiting for ${what}`);
}

function receive(path: string) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const d = {
        path,
        eventId: String(req.headers['registrar-event-id']),
        signature: String(req.headers['registrar-signature']),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      void answer(d).then((status) => {
        if (status === 'down') {
          req.socket.destroy();
          return;
        }
        deliveries.push({ ...d, answered: status });
        res.writeHead(status, { 'Content-Type': 'text/plain' });
        res.end(status < 300 ? 'ok' : 'no');
      });
    });
  };
}

function webhookEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DSN: db.dsn,
    AUDIT_WEBHOOKS: JSON.stringify([
      { url: `${receiver.url}/hook`, secret: SECRET },
      { url: `${receiver.url}/registered?token=receiver-path-token`, secret: REGISTERED_SECRET, types: ['client.registered'] },
    ]),
    FETCH_CA_FILE: receiver.caFile,
    FETCH_ALLOW_PRIVATE_NETWORKS: 'true',
    AUDIT_DELIVERY_INTERVAL: '1',
    AUDIT_DELIVERY_BACKOFF: '1',
    ...extra,
  };
}

/** The README's verification: HMAC-SHA256 over "<t>.<raw body>" with the webhook secret, compared in constant time. */
function verify(signatureHeader: string, body: string, secret: string): boolean {
  const parts = Object.fromEntries(signatureHeader.split(',').map((p) => p.split('=', 2) as [string, string]));
  if (!/^\d+$/.test(parts.t ?? '') || !/^[0-9a-f]{64}$/.test(parts.v1 ?? '')) return false;
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(parts.v1, 'hex'));
}

async function mint(svc: RunningApp): Promise<string> {
  return (await mintIatRecord(svc, { description: 'webhook test' })).id;
}

/** The id of the admin.iat.minted event of an IAT, from the outbox. */
async function eventIdOfIat(iatId: string): Promise<string> {
  const { rows } = await query(`SELECT id FROM audit_events WHERE type = 'admin.iat.minted' AND details->>'iat_id' = $1`, [iatId], db.dsn);
  expect(rows).toHaveLength(1);
  return (rows[0] as { id: string }).id;
}

async function outboxRow(eventId: string, path = '/hook'): Promise<Json | undefined> {
  const { rows } = await query(
    `SELECT o.* FROM audit_outbox o WHERE o.event_id = $1 AND o.webhook_id = left(encode(sha256(convert_to($2, 'UTF8')), 'hex'), 16)`,
    [eventId, `${receiver.url}${path}`],
    db.dsn,
  );
  return rows[0] as Json | undefined;
}

beforeAll(async () => {
  receiver = await startHttpsServer();
  receiver.route('/hook', receive('/hook'));
  receiver.route('/registered', receive('/registered'));
  db = await createDatabase('registrar_audit_webhooks');
});

afterAll(async () => {
  await receiver?.close();
  if (db) await dropDatabase(db.name);
});

describe('delivery to a webhook', () => {
  let svc: RunningApp;
  beforeAll(async () => {
    answer = async () => 200;
    svc = await startApp({ env: webhookEnv() });
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('POSTs the event as /admin/events shows it, with Registrar-Event-Id and a Registrar-Signature that verifies with the secret', async () => {
    const iatId = await mint(svc);
    const eventId = await eventIdOfIat(iatId);
    const delivered = await waitFor('the delivery', () => deliveries.find((d) => d.eventId === eventId && d.path === '/hook'));
    const listed = ((await (await svc.admin('/admin/events?type=admin.iat.minted')).json()) as Json[]).find((e) => e.id === eventId);
    expect(JSON.parse(delivered.body)).toEqual(listed);
    expect(verify(delivered.signature, delivered.body, SECRET)).toBe(true);
    // The signature binds the body and the secret.
    expect(verify(delivered.signature, delivered.body.replace('admin.iat.minted', 'admin.iat.revoked'), SECRET)).toBe(false);
    expect(verify(delivered.signature, delivered.body, REGISTERED_SECRET)).toBe(false);
    const t = Number(/t=(\d+)/.exec(delivered.signature)![1]);
    expect(Math.abs(t - delivered.at / 1000)).toBeLessThan(300);
    expect(await waitFor('delivered state', async () => ((await outboxRow(eventId))?.state === 'delivered' ? outboxRow(eventId) : undefined))).toMatchObject({
      state: 'delivered',
      attempts: 1,
      last_error: null,
    });
    // The filtered webhook wants client.registered only: no row, no request for this event.
    expect(await outboxRow(eventId, '/registered?token=receiver-path-token')).toBeUndefined();
  });

  it('sends a webhook with types only those types, signed with its own secret', async () => {
    const before = deliveries.filter((d) => d.path === '/registered').length;
    const { token } = await mintIatRecord(svc);
    const res = await register(svc, machineClient(), token);
    expect(res.status).toBe(201);
    const { client_id: clientId } = (await res.json()) as { client_id: string };
    const delivered = await waitFor('the filtered delivery', () => deliveries.find((d) => d.path === '/registered' && JSON.parse(d.body).client_id === clientId));
    expect(JSON.parse(delivered.body)).toMatchObject({ type: 'client.registered', client_id: clientId });
    expect(verify(delivered.signature, delivered.body, REGISTERED_SECRET)).toBe(true);
    // The other webhook got it too; the filtered one got nothing else meanwhile (the IAT's minting, say).
    await waitFor('the unfiltered delivery', () => deliveries.find((d) => d.path === '/hook' && d.eventId === delivered.eventId));
    expect(deliveries.filter((d) => d.path === '/registered').map((d) => JSON.parse(d.body).type)).toEqual(
      Array(deliveries.filter((d) => d.path === '/registered').length).fill('client.registered'),
    );
    expect(deliveries.filter((d) => d.path === '/registered').length).toBe(before + 1);
  });

  it('retries a failed delivery with backoff (attempts and last_error visible meanwhile) and delivers it once, with the same event id', async () => {
    let seen = 0;
    let duringRetry: Json | undefined;
    answer = async (d) => {
      seen += 1;
      if (seen === 2) duringRetry = await outboxRow(d.eventId);
      return seen <= 2 ? 500 : 200;
    };
    try {
      const eventId = await eventIdOfIat(await mint(svc));
      const row = await waitFor('the delivery after two failures', async () => {
        const r = await outboxRow(eventId);
        return r?.state === 'delivered' ? r : undefined;
      });
      const attempts = deliveries.filter((d) => d.eventId === eventId && d.path === '/hook');
      expect(attempts.map((d) => d.answered)).toEqual([500, 500, 200]);
      expect(row).toMatchObject({ attempts: 3, state: 'delivered', last_error: null });
      // While the second attempt was under way, the row counted it and kept the first failure.
      expect(duringRetry).toMatchObject({ attempts: 2, state: 'pending', last_error: 'the receiver answered HTTP 500' });
      // Backoff: at least half of 1 s after the first failure, half of 2 s after the second.
      expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(500);
      expect(attempts[2].at - attempts[1].at).toBeGreaterThanOrEqual(1000);
    } finally {
      answer = async () => 200;
    }
  });

  it('refuses a loopback receiver when fetch.allow_private_networks is false, and records why', async () => {
    const strictDb = await createDatabase('registrar_audit_strict');
    const strict = await startApp({ env: webhookEnv({ FETCH_ALLOW_PRIVATE_NETWORKS: 'false', DSN: strictDb.dsn }) });
    try {
      const hits = receiver.requests.length;
      const iatId = await mint(strict);
      const row = await waitFor('a failed attempt', async () => {
        const { rows } = await query(
          `SELECT o.* FROM audit_outbox o JOIN audit_events e ON e.id = o.event_id WHERE e.details->>'iat_id' = $1 AND o.attempts >= 1 AND o.last_error IS NOT NULL`,
          [iatId],
          strictDb.dsn,
        );
        return rows[0] as Json | undefined;
      });
      expect(String(row.last_error)).toContain('private, loopback or link-local');
      // The URL (which may carry the receiver's token) is not in the error either.
      expect(String(row.last_error)).not.toContain(receiver.url);
      expect(receiver.requests.length).toBe(hits);
    } finally {
      await strict.close();
      await dropDatabase(strictDb.name);
    }
  });
});

describe('pending deliveries across a restart and two instances', () => {
  it('delivers after a restart what could not be delivered before it', async () => {
    answer = async () => 'down';
    const first = await startApp({ env: webhookEnv() });
    let eventId: string;
    try {
      eventId = await eventIdOfIat(await mint(first));
      await waitFor('a failed attempt', async () => {
        const r = await outboxRow(eventId);
        return r && Number(r.attempts) >= 1 && r.last_error !== null ? r : undefined;
      });
    } finally {
      await first.close();
    }
    expect((await outboxRow(eventId))?.state).toBe('pending');
    expect(deliveries.some((d) => d.eventId === eventId)).toBe(false);
    answer = async () => 200;
    const second = await startApp({ env: webhookEnv() });
    try {
      await waitFor('the delivery after the restart', () => deliveries.find((d) => d.eventId === eventId && d.answered === 200));
      expect(await waitFor('delivered state', async () => ((await outboxRow(eventId))?.state === 'delivered' ? outboxRow(eventId) : undefined))).toMatchObject({
        state: 'delivered',
      });
    } finally {
      await second.close();
    }
  });

  it('lets two instances on one database share the deliveries, each event sent once', async () => {
    answer = async () => 200;
    const a = await startApp({ env: webhookEnv() });
    const b = await startApp({ env: webhookEnv() });
    try {
      const iats = await Promise.all(Array.from({ length: 12 }, (_, i) => mint(i % 2 === 0 ? a : b)));
      const eventIds = await Promise.all(iats.map(eventIdOfIat));
      await waitFor('every delivery', async () => {
        const { rows } = await query(`SELECT count(*)::int AS n FROM audit_outbox WHERE event_id = ANY($1::uuid[]) AND state = 'delivered'`, [eventIds], db.dsn);
        return (rows[0] as { n: number }).n === eventIds.length ? true : undefined;
      });
      for (const id of eventIds) {
        expect({ id, sent: deliveries.filter((d) => d.eventId === id && d.path === '/hook').length }).toEqual({ id, sent: 1 });
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('retention', () => {
  it('deletes events and deliveries older than audit.retention through the janitor, and keeps the others', async () => {
    const svc = await startApp({ env: webhookEnv({ AUDIT_RETENTION: '30d' }) });
    try {
      const old = '00000000-0000-4000-8000-00000000a0d1';
      await query(
        `INSERT INTO audit_events (id, occurred_at, type, actor_type, details) VALUES ($1, now() - interval '31 days', 'admin.key.rotated', 'admin', '{}')`,
        [old],
        db.dsn,
      );
      await query(
        `INSERT INTO audit_outbox (id, event_id, webhook_id, body, state, next_attempt_at, created_at)
         VALUES ('00000000-0000-4000-8000-00000000a0d2', $1, 'gone', '{}', 'failed', now(), now() - interval '31 days')`,
        [old],
        db.dsn,
      );
      const recent = await eventIdOfIat(await mint(svc));
      const counts = await svc.app.get(JanitorService).runOnce();
      expect(counts).toMatchObject({ old_audit_events: 1, old_audit_deliveries: 1 });
      const { rows } = await query(`SELECT id FROM audit_events WHERE id = ANY($1::uuid[])`, [[old, recent]], db.dsn);
      expect(rows.map((r: { id: string }) => r.id)).toEqual([recent]);
      const { rows: outbox } = await query(`SELECT event_id FROM audit_outbox WHERE event_id = ANY($1::uuid[])`, [[old, recent]], db.dsn);
      expect(outbox.map((r: { event_id: string }) => r.event_id)).toEqual([recent]);
    } finally {
      await svc.close();
    }
  });
});
