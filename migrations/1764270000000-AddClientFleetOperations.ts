import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Suspension, token revocation cut-off and software statement provenance of
 * clients (README "Operating a fleet of dynamic clients"), and indexes for the
 * admin list's provenance filters.
 */
export class AddClientFleetOperations1764270000000 implements MigrationInterface {
  name = 'AddClientFleetOperations1764270000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients ADD COLUMN suspended_at timestamptz`);
    await q.query(`ALTER TABLE clients ADD COLUMN suspended_reason text`);
    // JWT access tokens issued at or before this second are void (bulk revoke_tokens): JWTs of the
    // client_credentials grant are listed nowhere, so a cut-off is the only way to end them early.
    await q.query(`ALTER TABLE clients ADD COLUMN tokens_revoked_at timestamptz`);
    await q.query(`ALTER TABLE clients ADD COLUMN software_statement_issuer text`);
    await q.query(`ALTER TABLE clients ADD COLUMN software_statement_expires_at timestamptz`);
    await q.query(`CREATE INDEX clients_initial_access_token_idx ON clients (initial_access_token_id) WHERE initial_access_token_id IS NOT NULL`);
    await q.query(`CREATE INDEX clients_registration_policies_idx ON clients USING gin (registration_policies jsonb_path_ops)`);
    await q.query(`CREATE INDEX clients_software_id_idx ON clients ((fields->>'software_id')) WHERE fields ? 'software_id'`);
    await q.query(`CREATE INDEX clients_statement_issuer_idx ON clients (software_statement_issuer) WHERE software_statement_issuer IS NOT NULL`);
    await q.query(`CREATE INDEX clients_statement_expiry_idx ON clients (software_statement_expires_at) WHERE software_statement_expires_at IS NOT NULL`);
    await q.query(`CREATE INDEX clients_last_used_at_idx ON clients (last_used_at)`);
    await q.query(`CREATE INDEX clients_suspended_idx ON clients (id) WHERE suspended_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const index of [
      'clients_suspended_idx',
      'clients_last_used_at_idx',
      'clients_statement_expiry_idx',
      'clients_statement_issuer_idx',
      'clients_software_id_idx',
      'clients_registration_policies_idx',
      'clients_initial_access_token_idx',
    ]) {
      await q.query(`DROP INDEX ${index}`);
    }
    for (const column of ['software_statement_expires_at', 'software_statement_issuer', 'tokens_revoked_at', 'suspended_reason', 'suspended_at']) {
      await q.query(`ALTER TABLE clients DROP COLUMN ${column}`);
    }
  }
}
