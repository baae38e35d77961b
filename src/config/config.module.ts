import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import { ConfigService, RESOLVED_CONFIG } from './config.service.js';
import type { ResolvedConfig } from './load-config.js';

/** Holds the configuration that main.ts (or a test) loaded and validated before Nest started. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(resolved: ResolvedConfig): DynamicModule {
    return {
      module: ConfigModule,
      imports: [
        NestConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ [RESOLVED_CONFIG]: resolved })] }),
      ],
      providers: [ConfigService],
      exports: [ConfigService],
    };
  }
}
