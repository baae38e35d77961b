// The periodic clean-up: expired tokens, used-up and expired IATs, replay
// records, old rate-limit windows, audit events past audit.retention, clients whose
// software statement is no longer valid and, when configured, abandoned DCR clients.
// One instance at a time (a PostgreSQL advisory lock); deletions in bounded batches.
import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { AuditEventInput } from '../audit/audit-event.js';
import { AuditService } from '../audit/audit.service.js';
import { AppLogger } from '../common/logging.js';
import { ConfigService } from '../config/config.service.js';
import { DatabaseEvents } from './database-events.js';
import { JANITOR_TASKS, JanitorRepository, type StatementBatch } from './janitor.repository.js';

@Injectable()
export class JanitorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly janitor: JanitorRepository,
    private readonly config: ConfigService,
    private readonly logger: AppLogger,
    private readonly events: DatabaseEvents,
    private readonly audit: AuditService,
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

  /**
   * Clients whose software statement expired or whose issuer is no longer
   * trusted are suspended, deleted or only reported, per
   * oidc.dynamic_client_registration.software_statement.on_invalid (README
   * "Operating a fleet of dynamic clients"); one log line per batch. Returns
   * how many clients were suspended or deleted (reported ones change nothing: 0).
   */
  private async checkSoftwareStatements(statementBatch: StatementBatch, batch: number, changes: AuditEventInput[]): Promise<number> {
    const action = this.config.get('oidc.dynamic_client_registration.software_statement.on_invalid');
    const trusted = this.config.get('oidc.dynamic_client_registration.software_statement.trusted_issuers').map((t) => t.issuer);
    let changed = 0;
    let after = '';
    for (;;) {
      const clients = await statementBatch(action, batch, trusted, after);
      if (clients.length > 0) {
        this.logger.warn({ action, count: clients.length, clients }, 'clients with a software statement that is no longer valid');
        if (action !== 'report') changed += clients.length;
        for (const c of clients) {
          if (action === 'suspend') changes.push({ type: 'client.suspended', clientId: c.client_id, details: { reason: c.reason } });
          if (action === 'delete') changes.push({ type: 'client.deleted', clientId: c.client_id, details: { reason: c.reason } });
        }
        after = clients[clients.length - 1].client_id;
      }
      if (clients.length < batch) return changed;
    }
  }

  private async pass(): Promise<Record<string, number> | undefined> {
    // Suspensions and deletions of clients, recorded once the lock's connection is free (the embedded database has one).
    const changes: AuditEventInput[] = [];
    try {
      const counts = await this.janitor.underLock(async (deleteBatch, statementBatch) => {
        const batch = this.config.get('janitor.batch_size');
        const ttl = this.config.dcr().inactiveClientTtl;
        const counts: Record<string, number> = {};
        for (const task of JANITOR_TASKS) {
          if (task.needsTtl && !ttl) continue;
          counts[task.name] = 0;
          for (;;) {
            const deleted = await deleteBatch(task, batch, task.needsRetention ? this.config.get('audit.retention') : ttl);
            counts[task.name] += deleted;
            if (deleted < batch) break;
          }
        }
        counts.invalid_software_statements = await this.checkSoftwareStatements(statementBatch, batch, changes);
        this.logger.info({ deleted: counts }, 'janitor pass');
        // Deleted and changed clients must leave every instance's client cache.
        if (counts.inactive_dcr_clients > 0 || counts.expired_rotated_client_secrets > 0 || counts.invalid_software_statements > 0) {
          await this.events.publish('client-changed');
        }
        return counts;
      });
      for (const change of changes) await this.audit.record(change);
      return counts;
    } catch (err) {
      this.logger.warn({ error: (err as Error).message }, 'janitor pass failed');
      throw err;
    }
  }
}
