import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { TrustModule } from '../trust/trust.module.js';
import { AccessTokenCache } from './access-token-cache.js';
import { AccessTokensRepository } from './access-tokens.repository.js';
import { AccessTokensService } from './access-tokens.service.js';
import { AdminTokensController } from './admin-tokens.controller.js';
import { ClientAssertionsRepository } from './client-assertions.repository.js';
import { ClientAuthenticationService } from './client-authentication.service.js';
import { DPoPProofsRepository } from './dpop-proofs.repository.js';
import { DPoPService } from './dpop.service.js';
import { GrantTokensService } from './grant-tokens.service.js';
import { AuthorizationCodeGrant } from './grants/authorization-code.grant.js';
import { ClientCredentialsGrant } from './grants/client-credentials.grant.js';
import { GrantDispatcher } from './grants/grant-dispatcher.service.js';
import { GRANT_HANDLERS, type GrantHandler } from './grants/grant-handler.js';
import { JwtBearerGrant } from './grants/jwt-bearer.grant.js';
import { RefreshTokenGrant } from './grants/refresh-token.grant.js';
import { TokenExchangeGrant } from './grants/token-exchange.grant.js';
import { GrantsRepository } from './grants.repository.js';
import { GrantsService } from './grants.service.js';
import { IdTokensService } from './id-tokens.service.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';
import { RefreshTokensService } from './refresh-tokens.service.js';
import { SigningKeysRepository } from './signing-keys.repository.js';
import { SigningKeysService } from './signing-keys.service.js';
import { SubjectSaltRepository } from './subject-salt.repository.js';
import { SubjectIdentifiersService } from './subject-identifiers.service.js';
import { TokenController } from './token.controller.js';
import { UserinfoController } from './userinfo.controller.js';
import { UserinfoService } from './userinfo.service.js';

/** The token endpoint's grant types (RFC 6749 §4, §6); a new one is a handler listed here. */
const GRANT_TYPES = [ClientCredentialsGrant, AuthorizationCodeGrant, RefreshTokenGrant, JwtBearerGrant, TokenExchangeGrant];

@Module({
  imports: [ClientsModule, TrustModule],
  controllers: [TokenController, AdminTokensController, UserinfoController],
  providers: [
    AccessTokenCache,
    AccessTokensRepository,
    ClientAssertionsRepository,
    DPoPProofsRepository,
    GrantsRepository,
    RefreshTokensRepository,
    SigningKeysRepository,
    SubjectSaltRepository,
    SigningKeysService,
    ClientAuthenticationService,
    DPoPService,
    AccessTokensService,
    GrantsService,
    RefreshTokensService,
    GrantTokensService,
    UserinfoService,
    IdTokensService,
    SubjectIdentifiersService,
    ...GRANT_TYPES,
    {
      provide: GRANT_HANDLERS,
      inject: GRANT_TYPES,
      useFactory: (...handlers: GrantHandler[]) => new Map(handlers.map((h) => [h.grantType, h])),
    },
    GrantDispatcher,
  ],
  exports: [SigningKeysService, GrantsService, IdTokensService, SubjectIdentifiersService, ClientAuthenticationService, AccessTokensService, AccessTokenCache, DPoPService],
})
export class TokensModule {}
