// RFC 6749 §4.4: the client_credentials grant, an access token for the client itself.
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../../clients/client.entity.js';
import { ClientActivityService } from '../../clients/client-activity.service.js';
import { clientAudience } from '../../common/resource-indicators.js';
import { grantedScope } from '../../common/scopes.js';
import { AccessTokensService, type TokenResponse } from '../access-tokens.service.js';
import type { GrantHandler, TokenRequest } from './grant-handler.js';
import { requestedTokenAudience } from './token-audience.js';

@Injectable()
export class ClientCredentialsGrant implements GrantHandler {
  readonly grantType = 'client_credentials';
  readonly allowsPublicClients = false;

  constructor(
    private readonly accessTokens: AccessTokensService,
    private readonly activity: ClientActivityService,
  ) {}

  enabled(): boolean {
    return true;
  }

  async handle(client: ClientEntity, request: TokenRequest): Promise<TokenResponse> {
    const scope = grantedScope(request.params.scope, client.fields.scope);
    // RFC 8707 §2: the resources (and Hydra's audiences) must be the client's; none asked for, none given.
    const audience = requestedTokenAudience(request, clientAudience(client.fields), 'is not a resource the client may request') ?? [];
    const response = await this.accessTokens.issue(client, this.grantType, { subject: client.id, scope: scope.join(' '), audience, jkt: request.dpop?.jkt });
    await this.activity.touch(client);
    return response;
  }
}
