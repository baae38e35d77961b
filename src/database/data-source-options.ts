// The one place DataSource options are built: used by the app, by ormconfig.ts
// (the TypeORM CLI) and by the tests.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import type { DataSourceOptions } from 'typeorm';
import type { ConfigValues } from '../config/schema.js';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations.js';

export type DatabaseSettings = Pick<ConfigValues, 'dsn' | 'data_dir' | 'database.pool_size'>;

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

/** Opens (creating if needed) the embedded database under `dataDir/pgdata`. */
export async function openEmbedded(dataDir: string): Promise<PGlite> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  return PGlite.create(join(dir, 'pgdata'));
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
  // PGlite is one session: node-postgres gets a single connection to it.
  const pgConfig = { ...createPgConfig(pglite) };
  return { options: { ...COMMON, poolSize: 1, extra: pgConfig }, pglite };
}
