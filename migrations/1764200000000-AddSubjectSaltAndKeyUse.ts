import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddSubjectSaltAndKeyUse1764200000000 implements MigrationInterface {
  name = 'AddSubjectSaltAndKeyUse1764200000000';

  async up(q: QueryRunner): Promise<void> {
    // The latest expiry of a token a key signed (rounded up), so a retired key stays published while any may be in use,
    // whatever the client's lifespans.
    await q.query(`ALTER TABLE signing_keys ADD COLUMN signed_until timestamptz`);
    // The one salt of pairwise subject identifiers (OIDC Core §8.1): generated once, so a sub stays the same
    // across restarts, instances and rotations of secrets.system (it is re-encrypted under the newest secret).
    await q.query(`
      CREATE TABLE subject_identifier_salt (
        id smallint PRIMARY KEY CHECK (id = 1),
        salt_encrypted text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE subject_identifier_salt`);
    await q.query(`ALTER TABLE signing_keys DROP COLUMN signed_until`);
  }
}
