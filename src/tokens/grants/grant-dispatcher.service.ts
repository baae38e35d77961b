// Picks the handler of a token request's grant_type and holds the checks every
// grant type shares (RFC 6749 §5.2: invalid_request, unsupported_grant_type,
// unauthorized_client).
import { Inject, Injectable } from '@nestjs/common';
import type { ClientEntity } from '../../clients/client.entity.js';
import { OAuthError } from '../../common/oauth-error.js';
import type { TokenResponse } from '../access-tokens.service.js';
import { GRANT_HANDLERS, type GrantHandler, type TokenRequest } from './grant-handler.js';

@Injectable()
export class GrantDispatcher {
  constructor(@Inject(GRANT_HANDLERS) private readonly handlers: ReadonlyMap<string, GrantHandler>) {}

  /** The handler of a supported, enabled grant type; asked before client authentication. */
  handlerFor(grantType: string | undefined): GrantHandler {
    if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required');
    const handler = this.handlers.get(grantType);
    if (!handler || !handler.enabled()) throw new OAuthError('unsupported_grant_type', `grant_type ${grantType} is not supported`);
    return handler;
  }

  /** Runs the grant for an authenticated client, provided the client registered that grant type. */
  async dispatch(handler: GrantHandler, client: ClientEntity, request: TokenRequest): Promise<TokenResponse> {
    if (!(client.fields.grant_types as string[]).includes(handler.grantType)) {
      throw new OAuthError('unauthorized_client', `the client is not registered for the ${handler.grantType} grant`);
    }
    return handler.handle(client, request);
  }
}
