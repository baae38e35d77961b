import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddOperations1764180000000 implements MigrationInterface {
  name = 'AddOperations1764180000000';

  async up(q: QueryRunner): Promise<void> {
    // When a DCR client last got a token or made a management call (kept only while inactive_client_ttl is set).
    await q.query(`ALTER TABLE clients ADD COLUMN last_used_at timestamptz`);
    await q.query(`CREATE INDEX clients_dcr_last_used_idx ON clients (COALESCE(last_used_at, created_at)) WHERE created_via = 'dcr'`);
    await q.query(`
      CREATE TABLE rate_limit_hits (
        key text NOT NULL,
        window_start bigint NOT NULL,
        count integer NOT NULL,
        PRIMARY KEY (key, window_start)
      )`);
    await q.query(`CREATE INDEX initial_access_tokens_expires_at_idx ON initial_access_tokens (expires_at)`);
    await q.query(`CREATE INDEX revoked_jwts_expires_at_idx ON revoked_jwts (expires_at)`);
    await q.query(`CREATE INDEX client_assertion_jtis_expires_at_idx ON client_assertion_jtis (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX client_assertion_jtis_expires_at_idx`);
    await q.query(`DROP INDEX revoked_jwts_expires_at_idx`);
    await q.query(`DROP INDEX initial_access_tokens_expires_at_idx`);
    await q.query(`DROP TABLE rate_limit_hits`);
    await q.query(`DROP INDEX clients_dcr_last_used_idx`);
    await q.query(`ALTER TABLE clients DROP COLUMN last_used_at`);
  }
}
