// The janitor's statements: which rows of which table count as garbage, and
// the advisory lock that lets one instance at a time delete them.
import { Injectable } from '@nestjs/common';
import { USABLE_IAT } from '../policy/initial-access-tokens.repository.js';
import { Database } from './database.js';

// Any fixed number works; it only has to be the same in every instance.
const JANITOR_LOCK = 7_591_002;

/**
 * Each task selects a batch of keys to delete; `$1` is the batch size, `$2` the inactive-client TTL
 * in seconds (needsTtl) or audit.retention (needsRetention).
 */
export const JANITOR_TASKS: Array<{ name: string; sql: string; needsTtl?: boolean; needsRetention?: boolean }> = [
  {
    name: 'expired_access_tokens',
    sql: `DELETE FROM access_tokens WHERE id IN (SELECT id FROM access_tokens WHERE expires_at < now() LIMIT $1)`,
  },
  {
    name: 'expired_or_used_initial_access_tokens',
    sql: `DELETE FROM initial_access_tokens WHERE id IN (
            SELECT t.id FROM initial_access_tokens t WHERE NOT ${USABLE_IAT('t')} LIMIT $1)`,
  },
  {
    name: 'expired_revoked_jwts',
    sql: `DELETE FROM revoked_jwts WHERE jti IN (SELECT jti FROM revoked_jwts WHERE expires_at < now() LIMIT $1)`,
  },
  {
    name: 'expired_client_assertion_jtis',
    sql: `DELETE FROM client_assertion_jtis WHERE (client_id, jti) IN (
            SELECT client_id, jti FROM client_assertion_jtis WHERE expires_at < now() LIMIT $1)`,
  },
  {
    name: 'expired_dpop_proof_jtis',
    sql: `DELETE FROM dpop_proof_jtis WHERE (jkt, jti) IN (
            SELECT jkt, jti FROM dpop_proof_jtis WHERE expires_at < now() LIMIT $1)`,
  },
  {
    // An expired trust no longer admits assertions (README "JWT bearer grant"); this removes its row, as Hydra's flush does.
    name: 'expired_jwt_grant_issuers',
    sql: `DELETE FROM trusted_jwt_issuers WHERE id IN (SELECT id FROM trusted_jwt_issuers WHERE expires_at < now() LIMIT $1)`,
  },
  {
    name: 'old_rate_limit_windows',
    sql: `DELETE FROM rate_limit_hits WHERE (key, window_start) IN (
            SELECT key, window_start FROM rate_limit_hits WHERE window_start < extract(epoch FROM now())::bigint - 86400 LIMIT $1)`,
  },
  {
    name: 'expired_authorization_flows',
    sql: `DELETE FROM authorization_flows WHERE id IN (SELECT id FROM authorization_flows WHERE expires_at < now() LIMIT $1)`,
  },
  {
    // Codes, refresh tokens and listed JWTs go with their grant (ON DELETE CASCADE).
    name: 'expired_oauth2_grants',
    sql: `DELETE FROM oauth2_grants WHERE id IN (SELECT id FROM oauth2_grants WHERE expires_at < now() LIMIT $1)`,
  },
  {
    name: 'ended_login_sessions',
    sql: `DELETE FROM login_sessions WHERE id IN (
            SELECT id FROM login_sessions WHERE expires_at < now() OR revoked_at < now() - interval '1 day' LIMIT $1)`,
  },
  {
    name: 'ended_consent_sessions',
    sql: `DELETE FROM consent_sessions WHERE id IN (
            SELECT id FROM consent_sessions WHERE expires_at < now() OR revoked_at < now() - interval '1 day' LIMIT $1)`,
  },
  {
    // Secrets a rotation replaced stop authenticating at their expires_at; this only removes their hashes.
    name: 'expired_rotated_client_secrets',
    sql: `UPDATE clients c SET rotated_secrets = COALESCE(
              (SELECT jsonb_agg(s) FROM jsonb_array_elements(c.rotated_secrets) s WHERE (s->>'expires_at')::timestamptz > now()),
              '[]'::jsonb)
           WHERE c.id IN (
             SELECT id FROM clients WHERE EXISTS (
               SELECT 1 FROM jsonb_array_elements(rotated_secrets) s WHERE (s->>'expires_at')::timestamptz <= now())
             LIMIT $1)`,
  },
  {
    // README "Audit events": events are kept for audit.retention.
    name: 'old_audit_events',
    needsRetention: true,
    sql: `DELETE FROM audit_events WHERE id IN (
            SELECT id FROM audit_events WHERE occurred_at < now() - make_interval(secs => $2) LIMIT $1)`,
  },
  {
    // Webhook deliveries as long as their events, whatever became of them (a delivery outlives max_age only as failed).
    name: 'old_audit_deliveries',
    needsRetention: true,
    sql: `DELETE FROM audit_outbox WHERE id IN (
            SELECT id FROM audit_outbox WHERE created_at < now() - make_interval(secs => $2) LIMIT $1)`,
  },
  {
    name: 'inactive_dcr_clients',
    needsTtl: true,
    sql: `DELETE FROM clients WHERE id IN (
            SELECT id FROM clients
             WHERE created_via = 'dcr' AND COALESCE(last_used_at, created_at) < now() - make_interval(secs => $2)
             LIMIT $1)`,
  },
];

/** Deletes one batch of a task's rows (`ttl`: the task's `$2`, in seconds); returns how many went. */
export type DeleteBatch = (task: (typeof JANITOR_TASKS)[number], batch: number, ttl: number | undefined) => Promise<number>;

@Injectable()
export class JanitorRepository {
  constructor(private readonly database: Database) {}

  /**
   * Runs `work` on one connection holding the janitor's session-level advisory
   * lock; undefined, without running it, when another instance holds the lock.
   */
  async underLock<T>(work: (deleteBatch: DeleteBatch) => Promise<T>): Promise<T | undefined> {
    const runner = this.database.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [JANITOR_LOCK]);
      if (!locked) return undefined;
      try {
        return await work(async (task, batch, ttl) => {
          const params = task.needsTtl || task.needsRetention ? [batch, ttl] : [batch];
          return (await runner.query(task.sql, params, true)).affected ?? 0;
        });
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [JANITOR_LOCK]);
      }
    } finally {
      await runner.release();
    }
  }
}
