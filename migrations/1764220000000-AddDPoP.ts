import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddDPoP1764220000000 implements MigrationInterface {
  name = 'AddDPoP1764220000000';

  async up(q: QueryRunner): Promise<void> {
    // RFC 9449 §11.1: the jti of every accepted DPoP proof, per key, until the proof is too old to be accepted anyway.
    await q.query(`
      CREATE TABLE dpop_proof_jtis (
        jkt text NOT NULL,
        jti text NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (jkt, jti)
      )`);
    await q.query(`CREATE INDEX dpop_proof_jtis_expires_at_idx ON dpop_proof_jtis (expires_at)`);
    // The RFC 7638 thumbprint of the key a token is bound to (RFC 9449 §6, §5, §10); null = not bound.
    await q.query(`ALTER TABLE access_tokens ADD COLUMN dpop_jkt text`);
    await q.query(`ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt text`);
    await q.query(`ALTER TABLE authorization_codes ADD COLUMN dpop_jkt text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE authorization_codes DROP COLUMN dpop_jkt`);
    await q.query(`ALTER TABLE refresh_tokens DROP COLUMN dpop_jkt`);
    await q.query(`ALTER TABLE access_tokens DROP COLUMN dpop_jkt`);
    await q.query(`DROP TABLE dpop_proof_jtis`);
  }
}
