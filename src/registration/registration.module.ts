import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { PolicyModule } from '../policy/policy.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AccessTokenRegistration } from './access-token-registration.js';
import { DcrEnabledGuard } from './dcr-enabled.guard.js';
import { OpenRegistrationCheck } from './open-registration-check.js';
import { RateLimiter, RegistrationRateLimitGuard } from './rate-limiter.js';
import { RateLimitRepository } from './rate-limit.repository.js';
import { RegistrationAccessTokenRecoveryService } from './registration-access-token-recovery.service.js';
import { RegistrationAccessTokenGuard } from './registration-access-token.guard.js';
import { RegistrationAuthorizationGuard } from './registration-authorization.guard.js';
import { RegistrationAccessTokensRepository } from './registration-access-tokens.repository.js';
import { RegistrationAccessTokensService } from './registration-access-tokens.service.js';
import { RegistrationController } from './registration.controller.js';
import { RegistrationService } from './registration.service.js';
import { RegistrationWriter } from './registration-writer.js';
import { RegistrationsRepository } from './registrations.repository.js';
import { ReregistrationService } from './reregistration.service.js';
import { ReregistrationsRepository } from './reregistrations.repository.js';
import { SoftwareStatementVerifier } from './software-statement.verifier.js';

@Module({
  imports: [ClientsModule, PolicyModule, TokensModule],
  controllers: [RegistrationController],
  providers: [
    RegistrationService,
    RegistrationWriter,
    RegistrationsRepository,
    RegistrationAccessTokensRepository,
    RegistrationAccessTokensService,
    RegistrationAccessTokenGuard,
    RegistrationAccessTokenRecoveryService,
    ReregistrationService,
    ReregistrationsRepository,
    AccessTokenRegistration,
    RegistrationAuthorizationGuard,
    SoftwareStatementVerifier,
    OpenRegistrationCheck,
    DcrEnabledGuard,
    RateLimitRepository,
    RateLimiter,
    RegistrationRateLimitGuard,
  ],
})
export class RegistrationModule {}
