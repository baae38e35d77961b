import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { ClientsModule } from './clients/clients.module.js';
import { CommonModule } from './common/common.module.js';
import { CorsMiddleware } from './common/cors.middleware.js';
import { BodyParserMiddleware, RequestMetricsMiddleware } from './common/http-middleware.js';
import type { DestinationStream } from 'pino';
import { ConfigModule } from './config/config.module.js';
import type { ResolvedConfig } from './config/load-config.js';
import { DatabaseModule } from './database/database.module.js';
import { DiscoveryModule } from './discovery/discovery.module.js';
import { PolicyModule } from './policy/policy.module.js';
import { RegistrationModule } from './registration/registration.module.js';
import { TokensModule } from './tokens/tokens.module.js';

export interface AppOptions {
  config: ResolvedConfig;
  /** Where JSON log lines go (stdout when omitted); tests collect them. */
  logDestination?: DestinationStream;
}

@Module({})
export class AppModule implements NestModule {
  static forRoot({ config, logDestination }: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CommonModule.forRoot(config.values['log.level'] as string, logDestination),
        DatabaseModule,
        ClientsModule,
        RegistrationModule,
        PolicyModule,
        TokensModule,
        DiscoveryModule,
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestMetricsMiddleware, CorsMiddleware, BodyParserMiddleware).forRoutes('*');
  }
}
