import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { buildDataSourceOptions, type DatabaseSettings } from './data-source-options.js';

// Any fixed number works; it only has to be the same in every instance.
const MIGRATION_LOCK = 7_591_001;

/** An initialised DataSource and, for the embedded database, the PGlite instance behind it. */
export class Database {
  private constructor(
    readonly dataSource: DataSource,
    private readonly pglite: PGlite | undefined,
  ) {}

  /** True on the embedded database, which has a single connection. */
  get embedded(): boolean {
    return this.pglite !== undefined;
  }

  static async open(settings: DatabaseSettings): Promise<Database> {
    const target = await buildDataSourceOptions(settings);
    const dataSource = new DataSource(target.options);
    try {
      await dataSource.initialize();
    } catch (err) {
      await target.pglite?.close();
      throw err;
    }
    return new Database(dataSource, target.pglite);
  }

  /** Applies pending migrations; instances starting together take turns through an advisory lock. */
  async migrate(): Promise<void> {
    if (this.embedded) {
      await this.dataSource.runMigrations({ transaction: 'each' });
      return;
    }
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      await this.dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      await runner.release();
    }
  }

  /**
   * A hot-path query straight on the driver's pool, as a named prepared
   * statement: no ORM work per call, and PostgreSQL plans it once per connection.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async run<T = Record<string, any>>(name: string, text: string, values: unknown[]): Promise<T[]> {
    const pool = (this.dataSource.driver as PostgresDriver).master as pg.Pool;
    return (await pool.query({ name, text, values })).rows as T[];
  }

  /**
   * Statements in one transaction. Everything inside must go through `query`:
   * the embedded database has one connection, which the transaction holds.
   */
  transaction<T>(work: (query: (text: string, values: unknown[]) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => work((text, values) => manager.query(text, values)));
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.pglite?.close();
  }
}
