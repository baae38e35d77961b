import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddAuthorizationCodeFlow1764190000000 implements MigrationInterface {
  name = 'AddAuthorizationCodeFlow1764190000000';

  async up(q: QueryRunner): Promise<void> {
    // A browser's authenticated session (the signed cookie carries its id).
    await q.query(`
      CREATE TABLE login_sessions (
        id text PRIMARY KEY,
        subject text NOT NULL,
        authenticated_at timestamptz NOT NULL,
        acr text NOT NULL DEFAULT '',
        amr jsonb NOT NULL DEFAULT '[]',
        remember boolean NOT NULL,
        expires_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX login_sessions_subject_idx ON login_sessions (subject)`);
    await q.query(`CREATE INDEX login_sessions_expires_at_idx ON login_sessions (expires_at)`);
    // One authorization request from /oauth2/auth to the code: the login and consent challenges and their answers.
    await q.query(`
      CREATE TABLE authorization_flows (
        id text PRIMARY KEY,
        client_id text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        state text NOT NULL,
        request jsonb NOT NULL,
        csrf_hash text NOT NULL,
        login_challenge_hash text UNIQUE,
        login_verifier_hash text UNIQUE,
        consent_challenge_hash text UNIQUE,
        consent_verifier_hash text UNIQUE,
        login_session_id text,
        login_skip boolean NOT NULL DEFAULT false,
        consent_skip boolean NOT NULL DEFAULT false,
        subject text,
        login jsonb,
        consent jsonb,
        error jsonb,
        requested_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX authorization_flows_expires_at_idx ON authorization_flows (expires_at)`);
    // Remembered consent: what a subject granted a client, until it expires or is revoked.
    await q.query(`
      CREATE TABLE consent_sessions (
        id text PRIMARY KEY,
        subject text NOT NULL,
        client_id text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        granted_scope jsonb NOT NULL,
        granted_audience jsonb NOT NULL,
        session jsonb NOT NULL,
        expires_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX consent_sessions_subject_client_idx ON consent_sessions (subject, client_id)`);
    // What a subject granted a client in one completed flow; every token issued from it points here.
    await q.query(`
      CREATE TABLE oauth2_grants (
        id text PRIMARY KEY,
        client_id text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        subject text NOT NULL,
        scope text NOT NULL,
        audience jsonb NOT NULL,
        auth_time timestamptz NOT NULL,
        acr text NOT NULL DEFAULT '',
        amr jsonb NOT NULL DEFAULT '[]',
        login_session_id text,
        session jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX oauth2_grants_subject_client_idx ON oauth2_grants (subject, client_id)`);
    await q.query(`CREATE INDEX oauth2_grants_expires_at_idx ON oauth2_grants (expires_at)`);
    await q.query(`
      CREATE TABLE authorization_codes (
        code_hash text PRIMARY KEY,
        grant_id text NOT NULL REFERENCES oauth2_grants(id) ON DELETE CASCADE,
        client_id text NOT NULL,
        redirect_uri text,
        code_challenge text,
        nonce text,
        expires_at timestamptz NOT NULL,
        used_at timestamptz
      )`);
    await q.query(`CREATE INDEX authorization_codes_expires_at_idx ON authorization_codes (expires_at)`);
    await q.query(`
      CREATE TABLE refresh_tokens (
        id text PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        grant_id text NOT NULL REFERENCES oauth2_grants(id) ON DELETE CASCADE,
        client_id text NOT NULL,
        scope text NOT NULL,
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX refresh_tokens_grant_id_idx ON refresh_tokens (grant_id)`);
    await q.query(`CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at)`);
    // Access tokens issued from a grant: opaque ones carry the grant, JWTs are listed so they can be revoked with it.
    await q.query(`ALTER TABLE access_tokens ADD COLUMN grant_id text`);
    await q.query(`CREATE INDEX access_tokens_grant_id_idx ON access_tokens (grant_id) WHERE grant_id IS NOT NULL`);
    await q.query(`
      CREATE TABLE grant_jwts (
        jti text PRIMARY KEY,
        grant_id text NOT NULL REFERENCES oauth2_grants(id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX grant_jwts_grant_id_idx ON grant_jwts (grant_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE grant_jwts`);
    await q.query(`DROP INDEX access_tokens_grant_id_idx`);
    await q.query(`ALTER TABLE access_tokens DROP COLUMN grant_id`);
    await q.query(`DROP TABLE refresh_tokens`);
    await q.query(`DROP TABLE authorization_codes`);
    await q.query(`DROP TABLE oauth2_grants`);
    await q.query(`DROP TABLE consent_sessions`);
    await q.query(`DROP TABLE authorization_flows`);
    await q.query(`DROP TABLE login_sessions`);
  }
}
