import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateClients1764140000000 implements MigrationInterface {
  name = 'CreateClients1764140000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE clients (
        id text PRIMARY KEY,
        created_via text NOT NULL CHECK (created_via IN ('admin', 'dcr')),
        access_token_strategy text CHECK (access_token_strategy IN ('opaque', 'jwt')),
        secret_hash text,
        secret_expires_at timestamptz,
        fields jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX clients_client_name_idx ON clients ((fields->>'client_name'))`);
    await q.query(`CREATE INDEX clients_owner_idx ON clients ((fields->>'owner'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE clients`);
  }
}
