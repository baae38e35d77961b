import { Module } from '@nestjs/common';
import { AdminInitialAccessTokensController } from './admin-initial-access-tokens.controller.js';
import { AdminPoliciesController } from './admin-policies.controller.js';
import { InitialAccessTokenGuard } from './initial-access-token.guard.js';
import { InitialAccessTokensRepository } from './initial-access-tokens.repository.js';
import { InitialAccessTokensService } from './initial-access-tokens.service.js';
import { NativeAppPolicy } from './native-app.policy.js';
import { PoliciesRepository } from './policies.repository.js';
import { PoliciesService, REGISTRATION_POLICIES } from './policies.service.js';

@Module({
  controllers: [AdminInitialAccessTokensController, AdminPoliciesController],
  providers: [
    { provide: REGISTRATION_POLICIES, useValue: [new NativeAppPolicy()] },
    PoliciesRepository,
    PoliciesService,
    InitialAccessTokensRepository,
    InitialAccessTokensService,
    InitialAccessTokenGuard,
  ],
  exports: [PoliciesService, InitialAccessTokensService, InitialAccessTokenGuard],
})
export class PolicyModule {}
