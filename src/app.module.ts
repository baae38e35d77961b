import { Module, type DynamicModule } from '@nestjs/common';
import { AuditModule } from './audit/audit.module.js';
import { AuthorizationModule } from './authorization/authorization.module.js';
import { ClientsModule } from './clients/clients.module.js';
import { CommonModule } from './common/common.module.js';
import type { AppLogger } from './common/logging.js';
import type { DestinationStream } from 'pino';
import { ConfigModule } from './config/config.module.js';
import type { ResolvedConfig } from './config/load-config.js';
import { DatabaseModule } from './database/database.module.js';
import { FleetModule } from './fleet/fleet.module.js';
import { DiscoveryModule } from './discovery/discovery.module.js';
import { PolicyModule } from './policy/policy.module.js';
import { RegistrationModule } from './registration/registration.module.js';
import { TokensModule } from './tokens/tokens.module.js';
import { TrustModule } from './trust/trust.module.js';

export interface AppOptions {
  config: ResolvedConfig;
  /** Where JSON log lines go (stdout when omitted); tests collect them. */
  logDestination?: DestinationStream;
}

interface ModuleOptions extends AppOptions {
  logger: AppLogger;
}

@Module({})
export class AppModule {
  static forRoot({ config, logger }: ModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CommonModule.forRoot(logger, config.values['metrics.enabled']),
        DatabaseModule,
        AuditModule,
        ClientsModule,
        RegistrationModule,
        PolicyModule,
        TrustModule,
        TokensModule,
        AuthorizationModule,
        DiscoveryModule,
        FleetModule,
      ],
    };
  }

}
