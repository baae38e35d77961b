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

/** What the janitor does with clients whose software statement is no longer valid (software_statement.on_invalid). */
export type StatementAction = 'suspend' | 'delete' | 'report';

/** A client whose software statement is no longer valid, and why. */
export interface InvalidStatementClient {
  client_id: string;
  reason: string;
}

/**
 * A client registered with a software statement that has expired, or whose
 * issuer is no longer among the trusted ones (`$2`, a text array): README
 * "Operating a fleet of dynamic clients". `$1` is the batch size.
 */
const INVALID_STATEMENT = `software_statement_issuer IS NOT NULL
  AND (NOT (software_statement_issuer = ANY($2::text[])) OR software_statement_expires_at <= now())`;
const STATEMENT_REASON = `CASE WHEN NOT (software_statement_issuer = ANY($2::text[]))
  THEN 'software statement issuer ' || software_statement_issuer || ' is no longer trusted'
  ELSE 'software statement expired at ' || to_char(software_statement_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END`;

const STATEMENT_SQL: Record<StatementAction, string> = {
  suspend: `UPDATE clients SET suspended_at = now(), suspended_reason = ${STATEMENT_REASON}
             WHERE id IN (SELECT id FROM clients WHERE suspended_at IS NULL AND ${INVALID_STATEMENT} ORDER BY id LIMIT $1)
         RETURNING id AS client_id, suspended_reason AS reason`,
  delete: `DELETE FROM clients WHERE id IN (SELECT id FROM clients WHERE ${INVALID_STATEMENT} ORDER BY id LIMIT $1)
         RETURNING id AS client_id, ${STATEMENT_REASON} AS reason`,
  // Reads on from the last id it reported ($3), as it changes nothing.
  report: `SELECT id AS client_id, ${STATEMENT_REASON} AS reason FROM clients
            WHERE ${INVALID_STATEMENT} AND id > $3 ORDER BY id LIMIT $1`,
};

/** Acts on one batch of clients whose software statement is no longer valid; returns them. */
export type StatementBatch = (action: StatementAction, batch: number, trusted: string[], after: string) => Promise<InvalidStatementClient[]>;

@Injectable()
export class JanitorRepository {
  constructor(private readonly database: Database) {}

  /**
   * Runs `work` on one connection holding the janitor's session-level advisory
   * lock; undefined, without running it, when another instance holds the lock.
   */
  async underLock<T>(work: (deleteBatch: DeleteBatch, statementBatch: StatementBatch) => Promise<T>): Promise<T | undefined> {
    const runner = this.database.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [JANITOR_LOCK]);
      if (!locked) return undefined;
      try {
        return await work(async (task, batch, ttl) => {
          const params = task.needsTtl || task.needsRetention ? [batch, ttl] : [batch];
          return (await runner.query(task.sql, params, true)).affected ?? 0;
        }, async (action, batch, trusted, after) => {
          const params = action === 'report' ? [batch, trusted, after] : [batch, trusted];
          return (await runner.query(STATEMENT_SQL[action], params, true)).records as InvalidStatementClient[];
        });
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [JANITOR_LOCK]);
      }
    } finally {
      await runner.release();
    }
  }
}
