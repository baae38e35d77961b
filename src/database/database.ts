import { AsyncLocalStorage } from 'node:async_hooks';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { buildDataSourceOptions, type DatabaseSettings } from './data-source-options.js';

// Any fixed number works; it only has to be the same in every instance.
const MIGRATION_LOCK = 7_591_001;

/** An initialised DataSource and, for the embedded database, the PGlite instance behind it. */
export class Database {
  /** The transaction the current async call chain runs in, if any (see `transaction`). */
  private readonly ambient = new AsyncLocalStorage<EntityManager>();
  /** Work to run once the transaction of an EntityManager has committed (see `afterCommit`). */
  private readonly commitHooks = new WeakMap<EntityManager, Array<() => unknown>>();

  private constructor(
    readonly dataSource: DataSource,
    private readonly pglite: PGlite | undefined,
  ) {}

  /** True while the current async call chain runs in a transaction (see `transaction`). */
  get inTransaction(): boolean {
    return this.ambient.getStore() !== undefined;
  }

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

  /** Applies pending migrations and returns their names; instances starting together take turns through an advisory lock. */
  async migrate(): Promise<string[]> {
    if (this.embedded) return (await this.dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      return (await this.dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      await runner.release();
    }
  }

  /**
   * A hot-path query as a named prepared statement straight on the driver's
   * pool: no ORM work per call, and PostgreSQL plans it once per connection.
   * Inside a transaction it runs on the transaction's connection instead.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async run<T = Record<string, any>>(name: string, text: string, values: unknown[]): Promise<T[]> {
    const tx = this.ambient.getStore();
    if (tx) {
      // The transaction's own connection, so the statement is prepared there too (group commits run in transactions).
      // TypeORM keeps the connected driver client in a protected field.
      const connection = (tx.queryRunner as unknown as { databaseConnection?: pg.PoolClient } | undefined)?.databaseConnection;
      if (connection) return (await connection.query({ name, text, values })).rows as T[];
      return (await tx.query(text, values)) as T[];
    }
    const pool = (this.dataSource.driver as PostgresDriver).master as pg.Pool;
    return (await pool.query({ name, text, values })).rows as T[];
  }

  /**
   * A hot-path row (read with `run`, by column name) as its TypeORM entity,
   * mapped through the entity's own column metadata: no hand-written mapper
   * to drift from the entity.
   */
  entityFromRow<T extends object>(entity: new () => T, row: Record<string, unknown>): T {
    const out = new entity() as Record<string, unknown>;
    for (const column of this.dataSource.getMetadata(entity).columns) out[column.propertyName] = row[column.databaseName];
    return out as T;
  }

  /** One statement, in the current transaction when there is one. Rows for SELECT and RETURNING. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async query<T = Record<string, any>>(text: string, values: unknown[] = []): Promise<T[]> {
    const result: unknown = await this.manager().query(text, values);
    // TypeORM answers an UPDATE or DELETE with [rows, count].
    return (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number' ? result[0] : result) as T[];
  }

  /**
   * The EntityManager of the current transaction, or the DataSource's own.
   * Repositories take their TypeORM repositories from it, so they join a
   * transaction without a manager being passed through every call.
   */
  manager(): EntityManager {
    return this.ambient.getStore() ?? this.dataSource.manager;
  }

  /**
   * Runs `work` in one transaction: every query made through this Database
   * (run, query, manager()) by the async calls inside joins it, and a
   * transaction opened inside joins the outer one. It commits when `work`
   * resolves and rolls back when it throws. On the embedded database the
   * transaction holds the only connection, so `work` must not wait on the
   * network (fetch before, write inside).
   */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    if (this.ambient.getStore()) return work();
    const hooks: Array<() => unknown> = [];
    const result = await this.dataSource.transaction((manager) => {
      this.commitHooks.set(manager, hooks);
      return this.ambient.run(manager, work);
    });
    // Outside the transaction's context, so that work they start is not taken for part of it.
    await this.ambient.exit(async () => {
      for (const hook of hooks) await Promise.resolve().then(hook).catch(() => undefined);
    });
    return result;
  }

  /**
   * Runs `hook` once the current transaction has committed (never when it
   * rolls back), or now when there is none: signals and log lines about a
   * change must not get ahead of it. Hooks deal with their own failures.
   */
  async afterCommit(hook: () => unknown): Promise<void> {
    const tx = this.ambient.getStore();
    const hooks = tx && this.commitHooks.get(tx);
    if (hooks) hooks.push(hook);
    else await Promise.resolve().then(hook).catch(() => undefined);
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
    await this.pglite?.close();
  }
}
