import { Global, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppLogger } from '../common/logging.js';
import { ConfigService } from '../config/config.service.js';
import { DatabaseEvents } from './database-events.js';
import { JanitorRepository } from './janitor.repository.js';
import { JanitorService } from './janitor.service.js';
import { Database } from './database.js';
import { HealthController } from './health.controller.js';

@Injectable()
class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(@Inject(Database) private readonly database: Database) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database.close();
  }
}

@Global()
@Module({
  controllers: [HealthController],
  providers: [
    {
      provide: Database,
      inject: [ConfigService, AppLogger],
      useFactory: async (config: ConfigService, logger: AppLogger) => {
        const database = await Database.open({
          dsn: config.get('dsn'),
          data_dir: config.get('data_dir'),
          'database.pool_size': config.get('database.pool_size'),
        });
        if (config.get('database.migrate_on_start')) {
          const applied = await database.migrate();
          logger.info({ applied }, applied.length > 0 ? `applied ${applied.length} migrations` : 'database schema up to date');
        }
        return database;
      },
    },
    { provide: DataSource, inject: [Database], useFactory: (database: Database) => database.dataSource },
    DatabaseLifecycle,
    DatabaseEvents,
    JanitorRepository,
    JanitorService,
  ],
  exports: [Database, DataSource, DatabaseEvents, JanitorService],
})
export class DatabaseModule {}
