import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddRegisteredBy1764280000000 implements MigrationInterface {
  name = 'AddRegisteredBy1764280000000';

  async up(q: QueryRunner): Promise<void> {
    // Who authorised a registration made with an access token (README "Registering with an access token"):
    // the token's client and its subject. A record, not a reference: no foreign key, so it outlives
    // the authorising client.
    await q.query(`ALTER TABLE clients ADD COLUMN registered_by_client_id text`);
    await q.query(`ALTER TABLE clients ADD COLUMN registered_by_subject text`);
    await q.query(`CREATE INDEX clients_registered_by_client_id ON clients (registered_by_client_id) WHERE registered_by_client_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX clients_registered_by_client_id`);
    await q.query(`ALTER TABLE clients DROP COLUMN registered_by_subject`);
    await q.query(`ALTER TABLE clients DROP COLUMN registered_by_client_id`);
  }
}
