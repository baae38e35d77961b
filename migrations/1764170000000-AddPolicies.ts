import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddPolicies1764170000000 implements MigrationInterface {
  name = 'AddPolicies1764170000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE policies (
        name text PRIMARY KEY,
        description text NOT NULL DEFAULT '',
        rules jsonb NOT NULL,
        clients_created integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE policies`);
  }
}
