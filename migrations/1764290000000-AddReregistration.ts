import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddReregistration1764290000000 implements MigrationInterface {
  name = 'AddReregistration1764290000000';

  async up(q: QueryRunner): Promise<void> {
    // A client registered under a policy with a reregistration rule carries the hash of its
    // re-registration key (the policy, the initial access token and what the rule names; README
    // "Re-registration and recovering a registration access token"). The unique index settles
    // concurrent registrations with one key: the database keeps one client, the others re-register it.
    await q.query(`ALTER TABLE clients ADD COLUMN reregistration_key text`);
    await q.query(`CREATE UNIQUE INDEX clients_reregistration_key_idx ON clients (reregistration_key)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX clients_reregistration_key_idx`);
    await q.query(`ALTER TABLE clients DROP COLUMN reregistration_key`);
  }
}
