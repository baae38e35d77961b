import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { AccessTokensService } from './access-tokens.service.js';
import { AdminTokensController } from './admin-tokens.controller.js';
import { ClientAuthenticationService } from './client-authentication.service.js';
import { SigningKeysService } from './signing-keys.service.js';
import { TokenController } from './token.controller.js';
import { GrantsService } from './grants.service.js';
import { IdTokensService } from './id-tokens.service.js';
import { SubjectIdentifiersService } from './subject-identifiers.service.js';
import { UserinfoController } from './userinfo.controller.js';

@Module({
  imports: [ClientsModule],
  controllers: [TokenController, AdminTokensController, UserinfoController],
  providers: [SigningKeysService, ClientAuthenticationService, AccessTokensService, GrantsService, IdTokensService, SubjectIdentifiersService],
  exports: [SigningKeysService, GrantsService, IdTokensService, SubjectIdentifiersService],
})
export class TokensModule {}
