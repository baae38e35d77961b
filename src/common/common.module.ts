import { Global, Module, type DynamicModule } from '@nestjs/common';
import { AdminApiKeyGuard } from './admin-api-key.guard.js';
import { JsonLogger } from './json-logger.js';
import { MetricsController, MetricsService } from './metrics.js';
import { ServerFetcher } from './safe-fetch.js';

@Global()
@Module({})
export class CommonModule {
  static forRoot(logger: JsonLogger): DynamicModule {
    return {
      module: CommonModule,
      controllers: [MetricsController],
      providers: [{ provide: JsonLogger, useValue: logger }, AdminApiKeyGuard, ServerFetcher, MetricsService],
      exports: [JsonLogger, AdminApiKeyGuard, ServerFetcher, MetricsService],
    };
  }
}
