// The TypeORM CLI's DataSource (npm run migration:run / migration:revert),
// built from the same configuration and options builder as the service.
import { DataSource } from 'typeorm';
import { loadConfig } from './src/config/load-config.js';
import { buildDataSourceOptions } from './src/database/data-source-options.js';

export const dataSource: Promise<DataSource> = buildDataSourceOptions(loadConfig().values).then(
  ({ options }) => new DataSource(options),
);
