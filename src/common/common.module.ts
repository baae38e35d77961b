import { Global, Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AdminApiKeyGuard } from './admin-api-key.guard.js';
import { GracefulShutdown } from './graceful-shutdown.js';
import { loggerParams } from './logging.js';
import { MetricsController, MetricsService } from './metrics.js';
import { ServerFetcher } from './safe-fetch.js';

@Global()
@Module({})
export class CommonModule {
  static forRoot(logLevel: string, logDestination?: DestinationStream): DynamicModule {
    return {
      module: CommonModule,
      imports: [LoggerModule.forRoot(loggerParams(logLevel, logDestination))],
      controllers: [MetricsController],
      providers: [AdminApiKeyGuard, ServerFetcher, MetricsService, GracefulShutdown],
      exports: [AdminApiKeyGuard, ServerFetcher, MetricsService, GracefulShutdown],
    };
  }
}
