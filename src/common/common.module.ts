import { Global, Module, type DynamicModule } from '@nestjs/common';
import { AdminApiKeyGuard } from './admin-api-key.guard.js';
import { GracefulShutdown } from './graceful-shutdown.js';
import { AppLogger } from './logging.js';
import { MetricsController, MetricsService } from './metrics.js';
import { ServerFetcher } from './safe-fetch.js';

@Global()
@Module({})
export class CommonModule {
  static forRoot(logger: AppLogger): DynamicModule {
    return {
      module: CommonModule,
      controllers: [MetricsController],
      providers: [{ provide: AppLogger, useValue: logger }, AdminApiKeyGuard, ServerFetcher, MetricsService, GracefulShutdown],
      exports: [AppLogger, AdminApiKeyGuard, ServerFetcher, MetricsService, GracefulShutdown],
    };
  }
}
