import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddClientSecretRotation1764230000000 implements MigrationInterface {
  name = 'AddClientSecretRotation1764230000000';

  async up(q: QueryRunner): Promise<void> {
    // When the current secret was issued (README "Rotating client secrets" lists it); existing secrets date from their client.
    await q.query(`ALTER TABLE clients ADD COLUMN secret_created_at timestamptz`);
    await q.query(`UPDATE clients SET secret_created_at = created_at WHERE secret_hash IS NOT NULL`);
    // client_secret_jwt (RFC 7523 §2.2) verifies an HMAC, which needs the secret itself: for those clients only,
    // the secret is also kept encrypted under secrets.system (AES-256-GCM), as signing keys are.
    await q.query(`ALTER TABLE clients ADD COLUMN secret_encrypted text`);
    // Secrets replaced by a rotation that still authenticate until their expires_at:
    // [{"hash", "encrypted"?, "created_at", "expires_at"}]. On the client's row, so that a rotation
    // settles under the row lock and authentication reads them with the client.
    await q.query(`ALTER TABLE clients ADD COLUMN rotated_secrets jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE clients DROP COLUMN rotated_secrets`);
    await q.query(`ALTER TABLE clients DROP COLUMN secret_encrypted`);
    await q.query(`ALTER TABLE clients DROP COLUMN secret_created_at`);
  }
}
