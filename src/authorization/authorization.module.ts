import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AdminLoginConsentController } from './admin-login-consent.controller.js';
import { AuthorizeController } from './authorize.controller.js';
import { DevPagesController } from './dev-pages.controller.js';
import { AuthorizationFlowService } from './authorization-flow.service.js';
import { BrowserSessions } from './browser-sessions.js';
import { ConsentSessionsRepository } from './consent-sessions.repository.js';
import { FlowsRepository } from './flows.repository.js';
import { LoginConsentService } from './login-consent.service.js';
import { LoginSessionsRepository } from './login-sessions.repository.js';
import { LogoutController } from './logout.controller.js';

/** The authorization code flow: /oauth2/auth, login and consent delegation, sessions and logout. */
@Module({
  imports: [ClientsModule, TokensModule],
  controllers: [AuthorizeController, AdminLoginConsentController, LogoutController, DevPagesController],
  providers: [
    AuthorizationFlowService,
    LoginConsentService,
    BrowserSessions,
    FlowsRepository,
    LoginSessionsRepository,
    ConsentSessionsRepository,
  ],
})
export class AuthorizationModule {}
