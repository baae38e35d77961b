// The periodic clean-up: expired tokens, used-up and expired IATs, replay
// records, old rate-limit windows, audit events past audit.retention and, when configured, abandoned DCR clients.
// One instance at a time (a PostgreSQL advisory lock); deletions in bounded batches.
import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AppLogger } from '../common/logging.js';
import { ConfigService } from '../config/config.service.js';
import { DatabaseEvents } from './database-events.js';
import { JANITOR_TASKS, JanitorRepository } from './janitor.repository.js';

@Injectable()
export class JanitorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly janitor: JanitorRepository,
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
    try {
      return await this.janitor.underLock(async (deleteBatch) => {
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
        this.logger.info({ deleted: counts }, 'janitor pass');
        // Deleted and changed clients must leave every instance's client cache.
        if (counts.inactive_dcr_clients > 0 || counts.expired_rotated_client_secrets > 0) await this.events.publish('client-changed');
        return counts;
      });
    } catch (err) {
      this.logger.warn({ error: (err as Error).message }, 'janitor pass failed');
      throw err;
    }
  }
}
