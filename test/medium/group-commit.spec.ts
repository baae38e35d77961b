// Group commit on PostgreSQL (README "Performance"): writes submitted within
// one event-loop turn share one statement, so one transaction (the rows carry the same xmin),
// initial access token uses stay exact inside a batch, and a row that cannot
// be written fails only its own caller.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AuditService } from '../../src/audit/audit.service.js';
import { ClientEntity } from '../../src/clients/client.entity.js';
import { InitialAccessTokensService } from '../../src/policy/initial-access-tokens.service.js';
import { RegistrationModule } from '../../src/registration/registration.module.js';
import { RegistrationWriter } from '../../src/registration/registration-writer.js';
import { AccessTokensRepository } from '../../src/tokens/access-tokens.repository.js';
import { newMediumService, type MediumService } from './support.js';

let medium: MediumService;
let writer: RegistrationWriter;
let audit: AuditService;
let iats: InitialAccessTokensService;

beforeAll(async () => {
  // A webhook for registrations, so that their events also queue deliveries in the outbox.
  medium = await newMediumService(RegistrationModule, {
    AUDIT_WEBHOOKS: JSON.stringify([{ url: 'https://audit.example.invalid/hook', secret: 'w'.repeat(32), types: ['client.registered'] }]),
    AUDIT_DELIVERY_INTERVAL: '1h',
  });
  writer = medium.get(RegistrationWriter);
  audit = medium.get(AuditService);
  iats = medium.get(InitialAccessTokensService);
});
afterAll(async () => {
  await medium?.close();
});

/** A registered client as RegistrationService builds it, without secrets. */
function dcrClient(): ClientEntity {
  const client = new ClientEntity();
  client.id = randomUUID();
  client.createdVia = 'dcr';
  client.accessTokenStrategy = null;
  client.fields = { grant_types: ['client_credentials'], client_name: 'group commit', token_endpoint_auth_method: 'none' };
  client.secretHash = client.secretExpiresAt = client.secretCreatedAt = client.secretEncrypted = null;
  client.ratHash = client.ratExpiresAt = null;
  client.registrationPolicies = [];
  client.createdAt = client.updatedAt = new Date();
  client.softwareStatementIssuer = client.softwareStatementExpiresAt = null;
  client.registeredByClientId = client.registeredBySubject = null;
  return client;
}

function register(client: ClientEntity, iatId: string | null): Promise<boolean> {
  return writer.store({ client, iatId, event: audit.prepare({ type: 'client.registered', clientId: client.id }) });
}

async function xminsOf(table: string, ids: string[], column = 'id'): Promise<Set<string>> {
  const rows = await medium.sql<{ xmin: string }>(`SELECT xmin::text AS xmin FROM ${table} WHERE ${column}::text = ANY($1)`, [ids]);
  expect(rows).toHaveLength(ids.length);
  return new Set(rows.map((r) => r.xmin));
}

async function iatWithUses(maxUses: number): Promise<string> {
  const { token } = await iats.mint({ max_uses: maxUses });
  return (await iats.authenticate(token)).id;
}

async function usesOf(iatId: string): Promise<number> {
  const [row] = await medium.sql<{ uses: number }>('SELECT uses FROM initial_access_tokens WHERE id = $1', [iatId]);
  return row.uses;
}

describe('registrations', () => {
  it('of one moment are committed in one statement with their token uses, their events and their webhook deliveries', async () => {
    const iat = await iatWithUses(10);
    const open = [dcrClient(), dcrClient(), dcrClient()];
    const withIat = [dcrClient(), dcrClient(), dcrClient(), dcrClient()];
    const stored = await Promise.all([...open.map((c) => register(c, null)), ...withIat.map((c) => register(c, iat))]);
    expect(stored).toEqual(Array(7).fill(true));
    const ids = [...open, ...withIat].map((c) => c.id);
    const clientXmins = await xminsOf('clients', ids);
    expect(clientXmins.size).toBe(1);
    expect(await xminsOf('audit_events', ids, 'client_id')).toEqual(clientXmins);
    expect(await xminsOf('audit_outbox', ids, "(body::jsonb->>'client_id')")).toEqual(clientXmins);
    expect(await usesOf(iat)).toBe(4);
  });

  it('take no more uses than a token has left: the surplus is refused one by one, and other tokens are unaffected', async () => {
    const scarce = await iatWithUses(3);
    const plenty = await iatWithUses(10);
    const onScarce = Array.from({ length: 8 }, dcrClient);
    const onPlenty = Array.from({ length: 4 }, dcrClient);
    const stored = await Promise.all([...onScarce.map((c) => register(c, scarce)), ...onPlenty.map((c) => register(c, plenty))]);
    expect(stored.slice(0, 8).filter(Boolean)).toHaveLength(3);
    expect(stored.slice(8)).toEqual([true, true, true, true]);
    expect(await usesOf(scarce)).toBe(3);
    expect(await usesOf(plenty)).toBe(4);
    const [row] = await medium.sql<{ n: number; events: number; deliveries: number }>(
      `SELECT count(*)::int AS n, (SELECT count(*)::int FROM audit_events WHERE client_id = ANY($2)) AS events,
              (SELECT count(*)::int FROM audit_outbox WHERE body::jsonb->>'client_id' = ANY($2)) AS deliveries
         FROM clients WHERE initial_access_token_id = $1`,
      [scarce, onScarce.map((c) => c.id)],
    );
    // A refused registration leaves neither a client, nor an event, nor a webhook delivery.
    expect(row).toEqual({ n: 3, events: 3, deliveries: 3 });
  });

  it('when one row cannot be written, only its own registrant gets the error', async () => {
    const taken = dcrClient();
    expect(await register(taken, null)).toBe(true);
    const duplicate = dcrClient();
    duplicate.id = taken.id;
    const others = [dcrClient(), dcrClient()];
    const results = await Promise.allSettled([register(others[0], null), register(duplicate, null), register(others[1], null)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' });
    const rows = await medium.sql('SELECT id FROM clients WHERE id = ANY($1)', [others.map((c) => c.id)]);
    expect(rows).toHaveLength(2);
  });
});

describe('opaque access tokens', () => {
  const token = (clientId: string) => ({
    jti: randomUUID(),
    clientId,
    subject: clientId,
    scope: 'read',
    audience: ['https://api.example.com/'],
    issuedAt: Math.floor(Date.now() / 1000),
    expiresAt: Math.floor(Date.now() / 1000) + 600,
    act: { sub: 'actor "quoted"', nested: { list: [1, 2] } },
  });

  it('issued at one moment are one statement; a token of a client deleted meanwhile fails alone', async () => {
    const client = dcrClient();
    expect(await register(client, null)).toBe(true);
    const tokens = medium.get(AccessTokensRepository);
    const good = [token(client.id), token(client.id), token(client.id)];
    const orphan = token(`deleted-${randomUUID()}`);
    const results = await Promise.allSettled([...good, orphan].map((t) => tokens.insert(`hash-${t.jti}`, t)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    // The error the token endpoint turns into invalid_client (the client is gone).
    expect((results[3] as PromiseRejectedResult).reason).toMatchObject({ code: '23503' });
    const found = await tokens.findActiveByHash([`hash-${good[1].jti}`]);
    expect(found).toMatchObject({ jti: good[1].jti, clientId: client.id, audience: ['https://api.example.com/'], act: good[1].act });
  });

  it('issued in the same turn share one commit', async () => {
    const client = dcrClient();
    expect(await register(client, null)).toBe(true);
    const tokens = medium.get(AccessTokensRepository);
    const batch = Array.from({ length: 5 }, () => token(client.id));
    await Promise.all(batch.map((t) => tokens.insert(`hash-${t.jti}`, t)));
    expect((await xminsOf('access_tokens', batch.map((t) => t.jti))).size).toBe(1);
  });
});

describe('audit events outside a transaction', () => {
  it('recorded at one moment are written together, and each caller resolves after the commit', async () => {
    const clientId = `audited-${randomUUID()}`;
    const events = await Promise.all(Array.from({ length: 6 }, () => audit.record({ type: 'client.read', clientId })));
    const rows = await medium.sql<{ id: string; xmin: string }>('SELECT id::text, xmin::text AS xmin FROM audit_events WHERE client_id = $1', [clientId]);
    expect(rows.map((r) => r.id).sort()).toEqual(events.map((e) => e.id).sort());
    expect(new Set(rows.map((r) => r.xmin)).size).toBe(1);
  });
});
