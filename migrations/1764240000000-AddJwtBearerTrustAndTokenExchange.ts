import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddJwtBearerTrustAndTokenExchange1764240000000 implements MigrationInterface {
  name = 'AddJwtBearerTrustAndTokenExchange1764240000000';

  async up(q: QueryRunner): Promise<void> {
    // RFC 7523 §3: issuers whose assertions the jwt-bearer grant accepts, one public key per row (Hydra's
    // trusted JWT grant issuers). subject is '' when allow_any_subject, so the unique index covers both kinds.
    await q.query(`
      CREATE TABLE trusted_jwt_issuers (
        id text PRIMARY KEY,
        issuer text NOT NULL,
        subject text NOT NULL DEFAULT '',
        allow_any_subject boolean NOT NULL DEFAULT false,
        scope jsonb NOT NULL,
        key_id text NOT NULL,
        jwk jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        CHECK (allow_any_subject = (subject = ''))
      )`);
    await q.query(`CREATE UNIQUE INDEX trusted_jwt_issuers_issuer_subject_kid_key ON trusted_jwt_issuers (issuer, subject, key_id)`);
    // RFC 8693 §4.1: the actor chain of a token issued by token exchange, for introspection of opaque tokens.
    await q.query(`ALTER TABLE access_tokens ADD COLUMN act jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE access_tokens DROP COLUMN act`);
    await q.query(`DROP TABLE trusted_jwt_issuers`);
  }
}
