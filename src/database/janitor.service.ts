// The periodic clean-up: expired tokens, used-up and expired IATs, replay
// records, old rate-limit windows and, when configured, abandoned DCR clients.
// One instance at a time (a PostgreSQL advisory lock); deletions in bounded batches.
import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppLogger } from '../common/logging.js';
import { ConfigService } from '../config/config.service.js';
import { USABLE_IAT } from '../policy/initial-access-tokens.repository.js';
import { DatabaseEvents } from './database-events.js';
import { Database } from './database.js';

// Any fixed number works; it only has to be the same in every instance.
const JANITOR_LOCK = 7_591_002;

/** Each task selects a batch of keys to delete; `$1` is the batch size, `$2` the inactive-client TTL in seconds. */
const TASKS: Array<{ name: string; sql: string; needsTtl?: boolean }> = [
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
    name: 'inactive_dcr_clients',
    needsTtl: true,
    sql: `DELETE FROM clients WHERE id IN (
            SELECT id FROM clients
             WHERE created_via = 'dcr' AND COALESCE(last_used_at, created_at) < now() - make_interval(secs => $2)
             LIMIT $1)`,
  },
];

@Injectable()
export class JanitorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly database: Database,
    private readonly config: ConfigService,
    private readonly logger: AppLogger,
    private readonly events: DatabaseEvents,
  ) {}

  onApplicationBootstrap(): void {
    const interval = this.config.get('janitor.interval');
    if (interval > 0) this.timer = setInterval(() => void this.runOnce().catch(() => undefined), interval * 1000).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass; returns the rows deleted per task, or undefined when another instance holds the lock. */
  runOnce(): Promise<Record<string, number> | undefined> {
    const pass = this.pass();
    this.running = pass;
    return pass;
  }

  private async pass(): Promise<Record<string, number> | undefined> {
    const runner = this.database.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [JANITOR_LOCK]);
      if (!locked) return undefined;
      try {
        const batch = this.config.get('janitor.batch_size');
        const ttl = this.config.get('oidc.dynamic_client_registration.inactive_client_ttl');
        const counts: Record<string, number> = {};
        for (const task of TASKS) {
          if (task.needsTtl && !ttl) continue;
          counts[task.name] = 0;
          for (;;) {
            const params = task.needsTtl ? [batch, ttl] : [batch];
            const deleted = (await runner.query(task.sql, params, true)).affected ?? 0;
            counts[task.name] += deleted;
            if (deleted < batch) break;
          }
        }
        this.logger.info({ deleted: counts }, 'janitor pass');
        // Deleted clients must leave every instance's client cache.
        if (counts.inactive_dcr_clients > 0) await this.events.publish('client-changed');
        return counts;
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [JANITOR_LOCK]);
      }
    } catch (err) {
      this.logger.warn({ error: (err as Error).message }, 'janitor pass failed');
      throw err;
    } finally {
      await runner.release();
    }
  }
}
