// Cross-instance signals ("the signing keys changed") over PostgreSQL
// LISTEN/NOTIFY, so that caches in every instance are dropped at once. On the
// embedded database there is one process, and signals stay in it.
import { EventEmitter } from 'node:events';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { AppLogger } from '../common/logging.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from './database.js';

const CHANNEL = 'registrar_events';
const RECONNECT_MS = 1000;

@Injectable()
export class DatabaseEvents implements OnApplicationShutdown {
  private readonly local = new EventEmitter();
  private listener?: pg.Client;
  private closed = false;
  private started = false;

  constructor(
    private readonly database: Database,
    private readonly config: ConfigService,
    private readonly logger: AppLogger,
  ) {
    this.local.setMaxListeners(50);
  }

  /**
   * Calls `handler(detail)` whenever any instance publishes `event`, and
   * `handler(undefined)` after the listening connection was lost and
   * re-established (signals may have been missed: drop everything).
   */
  subscribe(event: string, handler: (detail?: string) => void): void {
    this.local.on(event, handler);
    this.local.on('resync', () => handler(undefined));
    if (!this.started && !this.database.embedded) {
      this.started = true;
      void this.listen();
    }
  }

  /**
   * True while signals from other instances are known to arrive: always on the
   * embedded database, otherwise while the listening connection is up. Caches
   * of shared state must not be trusted while this is false.
   */
  get live(): boolean {
    return this.database.embedded || this.listener !== undefined;
  }

  async publish(event: string, detail?: string): Promise<void> {
    if (this.database.embedded) this.local.emit(event, detail);
    else await this.database.dataSource.query('SELECT pg_notify($1, $2)', [CHANNEL, detail === undefined ? event : `${event}\n${detail}`]);
  }

  private async listen(): Promise<void> {
    while (!this.closed) {
      const client = new pg.Client({ connectionString: this.config.get('dsn'), connectionTimeoutMillis: 5000 });
      try {
        const lost = new Promise<void>((resolve) => {
          const onLost = (): void => {
            // From now until the next LISTEN, signals may be missed: drop every cache at once.
            this.listener = undefined;
            this.local.emit('resync');
            resolve();
          };
          client.on('error', onLost);
          client.on('end', onLost);
        });
        client.on('notification', (msg) => {
          if (!msg.payload) return;
          const [event, detail] = msg.payload.split('\n', 2);
          this.local.emit(event, detail);
        });
        await client.connect();
        await client.query(`LISTEN ${CHANNEL}`);
        this.listener = client;
        this.local.emit('resync');
        await lost;
      } catch (err) {
        this.logger.debug({ error: (err as Error).message }, 'event listener connection failed');
      }
      await client.end().catch(() => undefined);
      this.listener = undefined;
      if (!this.closed) await new Promise((r) => setTimeout(r, RECONNECT_MS).unref());
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.listener?.end().catch(() => undefined);
  }
}
