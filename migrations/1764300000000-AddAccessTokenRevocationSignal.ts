import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddAccessTokenRevocationSignal1764300000000 implements MigrationInterface {
  name = 'AddAccessTokenRevocationSignal1764300000000';

  async up(q: QueryRunner): Promise<void> {
    // Every instance caches the active opaque tokens it introspected (README "Performance"). Whatever
    // ends one early, by any path (revocation, a grant's revocation, a fleet action, the client's
    // deletion through its trigger), tells every instance to drop that cache: one NOTIFY per statement,
    // sent on commit, and only when a row that was still active changed (the janitor's deletion of
    // expired rows signals nothing). A PostgreSQL trigger with transition tables handles one event.
    await q.query(`
      CREATE FUNCTION registrar_access_tokens_ended() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM ended WHERE revoked_at IS NULL AND expires_at > now()) THEN
          PERFORM pg_notify('registrar_events', 'access-tokens-revoked');
        END IF;
        RETURN NULL;
      END $$`);
    for (const event of ['UPDATE', 'DELETE']) {
      await q.query(`
        CREATE TRIGGER access_tokens_ended_on_${event.toLowerCase()} AFTER ${event} ON access_tokens
          REFERENCING OLD TABLE AS ended FOR EACH STATEMENT EXECUTE FUNCTION registrar_access_tokens_ended()`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER access_tokens_ended_on_delete ON access_tokens`);
    await q.query(`DROP TRIGGER access_tokens_ended_on_update ON access_tokens`);
    await q.query(`DROP FUNCTION registrar_access_tokens_ended()`);
  }
}
