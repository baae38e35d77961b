// The one place DataSource options are built: used by the app, by ormconfig.ts
// (the TypeORM CLI) and by the tests.
import { chmodSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { DataSourceOptions } from 'typeorm';
import type { ConfigValues } from '../config/schema.js';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations.js';

export type DatabaseSettings = Pick<ConfigValues, 'dsn' | 'database.pool_size'> & { data_dir?: ConfigValues['data_dir'] };

export interface DatabaseTarget {
  options: DataSourceOptions;
  /** The embedded database, when one was opened; the caller closes it after the DataSource. */
  pglite?: PGlite;
}

const COMMON = {
  type: 'postgres',
  entities: ENTITIES,
  migrations: MIGRATIONS,
  migrationsTableName: 'registrar_migrations',
  synchronize: false,
  migrationsRun: false,
  // A pool mistake (e.g. a query outside the transaction on the one embedded
  // connection) must surface as an error, not a hang.
  connectTimeoutMS: 10_000,
  logging: false,
} as const;

/**
 * Opens (creating if needed) the embedded database under `dataDir/pgdata`.
 * The database writes its files readable by everyone, so the folders that hold
 * them are the owner's alone: a new data_dir is created 0700, and pgdata is
 * made 0700 on every start (it is Registrar's own folder, unlike a data_dir
 * an operator may have pointed at an existing directory).
 */
export async function openEmbedded(dataDir: string): Promise<PGlite> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pgdata = join(dir, 'pgdata');
  mkdirSync(pgdata, { recursive: true, mode: 0o700 });
  chmodSync(pgdata, 0o700);
  // Loaded only here: a service on PostgreSQL (dsn set) never loads the embedded
  // database's code (README "Memory").
  const { PGlite } = await import('@electric-sql/pglite');
  return PGlite.create(pgdata);
}

export async function buildDataSourceOptions(settings: DatabaseSettings): Promise<DatabaseTarget> {
  if (settings.dsn) {
    return {
      options: {
        ...COMMON,
        url: settings.dsn,
        poolSize: settings['database.pool_size'] ?? 10,
        extra: { idleTimeoutMillis: 30_000 },
      },
    };
  }
  const pglite = await openEmbedded(settings.data_dir ?? './data');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  // PGlite is one session: node-postgres gets a single connection to it.
  const pgConfig = { ...createPgConfig(pglite) };
  return { options: { ...COMMON, poolSize: 1, extra: pgConfig }, pglite };
}
