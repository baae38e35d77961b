import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { pathParam, type HttpRequest } from '../common/http.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientActivityService } from '../clients/client-activity.service.js';
import { bearerToken } from '../common/bearer.js';
import { OAuthError } from '../common/oauth-error.js';
import { RegistrationAccessTokensService } from './registration-access-tokens.service.js';

export type RequestWithClient = HttpRequest & { registeredClient?: ClientEntity; registrationTokenHash?: string };

/** RFC 7592 §1: the registration access token must be the current one of the client named in the path. */
@Injectable()
export class RegistrationAccessTokenGuard implements CanActivate {
  constructor(
    private readonly tokens: RegistrationAccessTokensService,
    private readonly activity: ClientActivityService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.tokens.enabled()) {
      throw new OAuthError('not_found', 'client configuration endpoints are not enabled on this server');
    }
    const req = context.switchToHttp().getRequest<RequestWithClient>();
    const { client, hash } = await this.tokens.authenticate(pathParam(req, 'client_id'), bearerToken(req));
    req.registeredClient = client;
    req.registrationTokenHash = hash;
    await this.activity.touch(client);
    return true;
  }
}
