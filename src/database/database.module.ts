import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { PGlite } from '@electric-sql/pglite';
import { DataSource } from 'typeorm';
import { ConfigService } from '../config/config.service.js';
import { Database } from './database.js';
import { HealthController } from './health.controller.js';

/** Tests hand in a prepared embedded database through this token. */
export const EMBEDDED_DATABASE = Symbol('EMBEDDED_DATABASE');

@Injectable()
class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(@Inject(Database) private readonly database: Database) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database.close();
  }
}

@Global()
@Module({})
export class DatabaseModule {
  static forRoot(embedded?: PGlite): DynamicModule {
    return {
      module: DatabaseModule,
      controllers: [HealthController],
      providers: [
        { provide: EMBEDDED_DATABASE, useValue: embedded },
        {
          provide: Database,
          inject: [ConfigService, EMBEDDED_DATABASE],
          useFactory: async (config: ConfigService, pglite?: PGlite) => {
            const database = await Database.open(
              { dsn: config.get('dsn'), data_dir: config.get('data_dir'), 'database.pool_size': config.get('database.pool_size') },
              pglite,
            );
            if (config.get('database.migrate_on_start')) await database.migrate();
            return database;
          },
        },
        { provide: DataSource, inject: [Database], useFactory: (database: Database) => database.dataSource },
        DatabaseLifecycle,
      ],
      exports: [Database, DataSource],
    };
  }
}
