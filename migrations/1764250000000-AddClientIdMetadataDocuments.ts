import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The tables whose rows name a client (README, "Client ID Metadata Documents": how they refer to one). */
const CLIENT_ROWS = ['access_tokens', 'authorization_flows', 'consent_sessions', 'oauth2_grants'];

export class AddClientIdMetadataDocuments1764250000000 implements MigrationInterface {
  name = 'AddClientIdMetadataDocuments1764250000000';

  async up(q: QueryRunner): Promise<void> {
    // A client_id URL whose metadata document was accepted at least once. The client itself is not
    // stored (its metadata is read from the document); this row lets tokens, grants, flows and
    // consent name it, and first_seen_at dates it (JWTs issued before a client existed are void).
    await q.query(`
      CREATE TABLE metadata_document_clients (
        id text PRIMARY KEY,
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        last_fetched_at timestamptz NOT NULL DEFAULT now()
      )`);
    // A foreign key names one table; a client is now in clients or in metadata_document_clients.
    // These two triggers keep what the foreign keys did: a row may name only an existing client
    // (the parent row is locked FOR KEY SHARE, as a foreign key check does, so a concurrent delete
    // waits for this transaction), and deleting a client deletes the rows that name it.
    await q.query(`
      CREATE FUNCTION registrar_client_must_exist() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM 1 FROM clients WHERE id = NEW.client_id FOR KEY SHARE;
        IF FOUND THEN RETURN NEW; END IF;
        PERFORM 1 FROM metadata_document_clients WHERE id = NEW.client_id FOR KEY SHARE;
        IF FOUND THEN RETURN NEW; END IF;
        RAISE EXCEPTION 'client % does not exist', NEW.client_id USING ERRCODE = 'foreign_key_violation';
      END $$`);
    await q.query(`
      CREATE FUNCTION registrar_delete_client_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${CLIENT_ROWS.map((t) => `DELETE FROM ${t} WHERE client_id = OLD.id;`).join('\n        ')}
        RETURN OLD;
      END $$`);
    for (const table of CLIENT_ROWS) {
      await q.query(`ALTER TABLE ${table} DROP CONSTRAINT ${table}_client_id_fkey`);
      await q.query(`
        CREATE TRIGGER ${table}_client_exists BEFORE INSERT OR UPDATE OF client_id ON ${table}
          FOR EACH ROW EXECUTE FUNCTION registrar_client_must_exist()`);
    }
    // Indexes for the deletes above where none led with client_id.
    await q.query(`CREATE INDEX authorization_flows_client_id_idx ON authorization_flows (client_id)`);
    await q.query(`CREATE INDEX consent_sessions_client_id_idx ON consent_sessions (client_id)`);
    await q.query(`CREATE INDEX oauth2_grants_client_id_idx ON oauth2_grants (client_id)`);
    await q.query(`
      CREATE TRIGGER clients_delete_rows AFTER DELETE ON clients
        FOR EACH ROW EXECUTE FUNCTION registrar_delete_client_rows()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER clients_delete_rows ON clients`);
    await q.query(`DROP INDEX oauth2_grants_client_id_idx`);
    await q.query(`DROP INDEX consent_sessions_client_id_idx`);
    await q.query(`DROP INDEX authorization_flows_client_id_idx`);
    for (const table of CLIENT_ROWS) {
      await q.query(`DROP TRIGGER ${table}_client_exists ON ${table}`);
      // Rows of metadata document clients cannot be kept under a foreign key to clients.
      await q.query(`DELETE FROM ${table} WHERE client_id NOT IN (SELECT id FROM clients)`);
      await q.query(`ALTER TABLE ${table} ADD CONSTRAINT ${table}_client_id_fkey FOREIGN KEY (client_id) REFERENCES clients(id) ON DELETE CASCADE`);
    }
    await q.query(`DROP FUNCTION registrar_delete_client_rows()`);
    await q.query(`DROP FUNCTION registrar_client_must_exist()`);
    await q.query(`DROP TABLE metadata_document_clients`);
  }
}
