// The medium tier: a module's real providers (services and repositories) on a
// fresh, migrated PostgreSQL database of their own, without HTTP.
import type { Abstract, Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { AuditModule } from '../../src/audit/audit.module.js';
import { CommonModule } from '../../src/common/common.module.js';
import { AppLogger, createPino } from '../../src/common/logging.js';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig } from '../../src/config/load-config.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';

export interface MediumService {
  /** A provider of the module under test (or of the modules it imports). */
  get<T>(type: Type<T> | Abstract<T>): T;
  /** One SQL statement on this test's database, outside the application's pool. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * Builds `moduleUnderTest` with the configuration `env` (keys as environment
 * variables) on a database created for the caller; the database module
 * migrates it on start. close() shuts the module down and drops the database.
 */
export async function newMediumService(moduleUnderTest: Type<unknown>, env: Record<string, string> = {}): Promise<MediumService> {
  const db = await createDatabase('registrar_medium');
  let module: TestingModule | undefined;
  try {
    const config = loadConfig({
      SECRETS_SYSTEM: 'medium-system-secret-0123456789abcdef',
      ADMIN_API_KEYS: 'medium-admin-key-0123456789abcdef',
      DSN: db.dsn,
      DATABASE_POOL_SIZE: '4',
      JANITOR_INTERVAL: '0',
      LOG_LEVEL: 'silent',
      ...env,
    });
    module = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(config),
        CommonModule.forRoot(new AppLogger(createPino('silent'))),
        DatabaseModule,
        // Every module records its changes through the (global) audit module, as in the app.
        AuditModule,
        moduleUnderTest,
      ],
    }).compile();
  } catch (err) {
    await dropDatabase(db.name);
    throw err;
  }
  const compiled = module;
  return {
    get: (type) => compiled.get(type, { strict: false }),
    sql: async (text, params = []) => (await query(text, params, db.dsn)).rows,
    close: async () => {
      await compiled.close();
      await dropDatabase(db.name);
    },
  };
}
