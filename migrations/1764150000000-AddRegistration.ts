import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddRegistration1764150000000 implements MigrationInterface {
  name = 'AddRegistration1764150000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE initial_access_tokens (
        id text PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        description text NOT NULL DEFAULT '',
        policies jsonb NOT NULL DEFAULT '[]',
        max_uses integer NOT NULL CHECK (max_uses > 0),
        uses integer NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
        expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`ALTER TABLE clients ADD COLUMN registration_access_token_hash text UNIQUE`);
    await q.query(`ALTER TABLE clients ADD COLUMN registration_access_token_expires_at timestamptz`);
    await q.query(`ALTER TABLE clients ADD COLUMN registration_policies jsonb NOT NULL DEFAULT '[]'`);
    await q.query(`ALTER TABLE clients ADD COLUMN initial_access_token_id text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients DROP COLUMN initial_access_token_id`);
    await q.query(`ALTER TABLE clients DROP COLUMN registration_policies`);
    await q.query(`ALTER TABLE clients DROP COLUMN registration_access_token_expires_at`);
    await q.query(`ALTER TABLE clients DROP COLUMN registration_access_token_hash`);
    await q.query(`DROP TABLE initial_access_tokens`);
  }
}
