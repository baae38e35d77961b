import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddAuditEvents1764260000000 implements MigrationInterface {
  name = 'AddAuditEvents1764260000000';

  async up(q: QueryRunner): Promise<void> {
    // README "Audit events". No foreign key to clients: an event outlives the client it names,
    // and clients described by a Client ID Metadata Document have no row.
    await q.query(`
      CREATE TABLE audit_events (
        id uuid PRIMARY KEY,
        occurred_at timestamptz NOT NULL,
        type text NOT NULL,
        actor_type text NOT NULL,
        actor_id text,
        client_id text,
        request_id text,
        trace_id text,
        details jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
    // Newest first, by time then id (the admin list's keyset order), overall and per client.
    await q.query(`CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at DESC, id DESC)`);
    await q.query(`CREATE INDEX audit_events_client_id_idx ON audit_events (client_id, occurred_at DESC, id DESC) WHERE client_id IS NOT NULL`);
    // The webhook outbox: one row per event and webhook, written in the event's transaction.
    // A webhook is named by an id derived from its URL, which may carry the receiver's token.
    await q.query(`
      CREATE TABLE audit_outbox (
        id uuid PRIMARY KEY,
        event_id uuid NOT NULL,
        webhook_id text NOT NULL,
        body text NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        last_error text,
        created_at timestamptz NOT NULL,
        finished_at timestamptz,
        UNIQUE (event_id, webhook_id)
      )`);
    await q.query(`CREATE INDEX audit_outbox_due_idx ON audit_outbox (next_attempt_at) WHERE state = 'pending'`);
    await q.query(`CREATE INDEX audit_outbox_created_at_idx ON audit_outbox (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_outbox`);
    await q.query(`DROP TABLE audit_events`);
  }
}
