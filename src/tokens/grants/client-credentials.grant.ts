// RFC 6749 §4.4: the client_credentials grant, an access token for the client itself.
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../../clients/client.entity.js';
import { ClientActivityService } from '../../clients/client-activity.service.js';
import { grantedAudience, grantedScope } from '../../common/scopes.js';
import { AccessTokensService, type TokenResponse } from '../access-tokens.service.js';
import type { GrantHandler, TokenRequest } from './grant-handler.js';

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

  async handle(client: ClientEntity, { params, lists, dpop }: TokenRequest): Promise<TokenResponse> {
    const scope = grantedScope(params.scope, client.fields.scope);
    const audience = grantedAudience(lists.audience ?? [], client.fields.audience);
    const response = await this.accessTokens.issue(client, this.grantType, { subject: client.id, scope: scope.join(' '), audience, jkt: dpop?.jkt });
    await this.activity.touch(client);
    return response;
  }
}
