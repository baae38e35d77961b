import { Global, Module, type DynamicModule } from '@nestjs/common';
import { AdminApiKeyGuard } from './admin-api-key.guard.js';
import { AdminListener } from './admin-listener.js';
import { GracefulShutdown } from './graceful-shutdown.js';
import { AppLogger } from './logging.js';
import { MetricsController, MetricsService } from './metrics.js';
import { ServerFetcher } from './safe-fetch.js';

@Global()
@Module({})
export class CommonModule {
  /** Without `serveMetrics` (metrics.enabled false) /metrics is not a route: 404, while the counters still count. */
  static forRoot(logger: AppLogger, serveMetrics = true): DynamicModule {
    return {
      module: CommonModule,
      controllers: serveMetrics ? [MetricsController] : [],
      providers: [{ provide: AppLogger, useValue: logger }, AdminApiKeyGuard, ServerFetcher, MetricsService, AdminListener, GracefulShutdown],
      exports: [AppLogger, AdminApiKeyGuard, ServerFetcher, MetricsService, AdminListener, GracefulShutdown],
    };
  }
}
