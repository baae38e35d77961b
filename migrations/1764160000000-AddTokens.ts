import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddTokens1764160000000 implements MigrationInterface {
  name = 'AddTokens1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        alg text NOT NULL,
        state text NOT NULL CHECK (state IN ('active', 'retired')),
        public_jwk jsonb NOT NULL,
        private_jwk_encrypted text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz
      )`);
    // One active key per algorithm: concurrent first starts and rotations cannot create two.
    await q.query(`CREATE UNIQUE INDEX signing_keys_one_active_per_alg ON signing_keys (alg) WHERE state = 'active'`);
    await q.query(`
      CREATE TABLE access_tokens (
        id text PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        client_id text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        subject text NOT NULL,
        scope text NOT NULL,
        audience jsonb NOT NULL,
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX access_tokens_client_id_idx ON access_tokens (client_id)`);
    await q.query(`CREATE INDEX access_tokens_expires_at_idx ON access_tokens (expires_at)`);
    await q.query(`
      CREATE TABLE revoked_jwts (
        jti text PRIMARY KEY,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE client_assertion_jtis (
        client_id text NOT NULL,
        jti text NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (client_id, jti)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE client_assertion_jtis`);
    await q.query(`DROP TABLE revoked_jwts`);
    await q.query(`DROP TABLE access_tokens`);
    await q.query(`DROP TABLE signing_keys`);
  }
}
