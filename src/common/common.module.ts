import { Global, Module, type DynamicModule } from '@nestjs/common';
import { AdminApiKeyGuard } from './admin-api-key.guard.js';
import { JsonLogger } from './json-logger.js';
import { ServerFetcher } from './safe-fetch.js';

@Global()
@Module({})
export class CommonModule {
  static forRoot(logger: JsonLogger): DynamicModule {
    return {
      module: CommonModule,
      providers: [{ provide: JsonLogger, useValue: logger }, AdminApiKeyGuard, ServerFetcher],
      exports: [JsonLogger, AdminApiKeyGuard, ServerFetcher],
    };
  }
}
