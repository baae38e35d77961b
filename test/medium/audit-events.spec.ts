// AuditService on real PostgreSQL (README "Audit events"): an event and its
// webhook outbox rows are written in the transaction of the change they
// describe, so they exist exactly when it commits.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AuditModule } from '../../src/audit/audit.module.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { Database } from '../../src/database/database.js';
import { newMediumService, type MediumService } from './support.js';

let svc: MediumService;
let audit: AuditService;
let database: Database;

beforeAll(async () => {
  svc = await newMediumService(AuditModule, {
    AUDIT_WEBHOOKS: JSON.stringify([
      { url: 'https://receiver.invalid/all', secret: 'medium-webhook-secret-0123456789abcdef' },
      { url: 'https://receiver.invalid/deleted', secret: 'medium-webhook-secret-0123456789abcdef', types: ['admin.client.deleted'] },
    ]),
  });
  // The testing module is compiled, not initialised: no delivery worker runs, the rows stay as written.
  audit = svc.get(AuditService);
  database = svc.get(Database);
});
afterAll(async () => {
  await svc?.close();
});

const rowsOf = async (eventId: string) => ({
  events: await svc.sql(`SELECT type, actor_type, actor_id, client_id, request_id, details FROM audit_events WHERE id = $1`, [eventId]),
  outbox: await svc.sql<{ webhook_id: string; state: string; attempts: number }>(`SELECT webhook_id, state, attempts FROM audit_outbox WHERE event_id = $1`, [eventId]),
});

describe('AuditService.record', () => {
  it('writes the event and one outbox row per interested webhook when the transaction commits; the server is the actor outside a request', async () => {
    const event = await database.transaction(async () => {
      await database.query('SELECT 1');
      return audit.record({ type: 'admin.client.created', clientId: 'c-commit', details: { note: 'x' } });
    });
    const { events, outbox } = await rowsOf(event.id);
    expect(events).toEqual([
      { type: 'admin.client.created', actor_type: 'system', actor_id: null, client_id: 'c-commit', request_id: null, details: { note: 'x' } },
    ]);
    // Only the unfiltered webhook wants admin.client.created.
    expect(outbox).toEqual([{ webhook_id: expect.stringMatching(/^[0-9a-f]{16}$/), state: 'pending', attempts: 0 }]);
  });

  it('leaves nothing when the transaction rolls back', async () => {
    let id: string | undefined;
    await expect(
      database.transaction(async () => {
        id = (await audit.record({ type: 'admin.client.deleted', clientId: 'c-rollback' })).id;
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(id).toBeDefined();
    expect(await rowsOf(id!)).toEqual({ events: [], outbox: [] });
  });

  it('queues an event for every webhook whose types name it', async () => {
    const event = await audit.record({ type: 'admin.client.deleted', clientId: 'c-both', actor: { type: 'admin', key_id: '0123456789abcdef' } });
    const { events, outbox } = await rowsOf(event.id);
    expect(events).toMatchObject([{ actor_type: 'admin', actor_id: '0123456789abcdef' }]);
    expect(new Set(outbox.map((r) => r.webhook_id)).size).toBe(2);
  });

  it('lists events recorded within one millisecond in the order they were recorded, newest first', async () => {
    const recorded: string[] = [];
    await database.transaction(async () => {
      for (let i = 0; i < 40; i += 1) recorded.push((await audit.record({ type: 'client.read', clientId: 'c-order' })).id);
    });
    const listed = await audit.list({ clientId: 'c-order' }, 100);
    expect(listed.map((e) => e.id)).toEqual([...recorded].reverse());
  });

  it('cuts long detail strings short, so events stay small', async () => {
    const event = await audit.record({ type: 'client.registration_refused', details: { error_description: 'x'.repeat(5000) } });
    const [row] = (await rowsOf(event.id)).events as Array<{ details: { error_description: string } }>;
    expect(row.details.error_description.length).toBeLessThanOrEqual(501);
  });
});
