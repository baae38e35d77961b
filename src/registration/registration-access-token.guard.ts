import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { pathParam, type HttpRequest } from '../common/http.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { bearerToken, invalidBearer } from '../common/bearer.js';
import { OAuthError } from '../common/oauth-error.js';
import { safeEqual, tokenHash } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';

export type RequestWithClient = HttpRequest & { registeredClient?: ClientEntity; registrationTokenHash?: string };

/**
 * RFC 7592 §1: the registration access token must be the current one of the
 * client named in the path. Every failure (no token, wrong token, another
 * client's, expired, unknown client) gets the same 401, so nothing leaks.
 */
@Injectable()
export class RegistrationAccessTokenGuard implements CanActivate {
  constructor(
    private readonly clients: ClientsService,
    private readonly config: ConfigService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.config.get('oidc.dynamic_client_registration.registration_access_token.enabled')) {
      throw new OAuthError('not_found', 'client configuration endpoints are not enabled on this server');
    }
    const req = context.switchToHttp().getRequest<RequestWithClient>();
    const token = bearerToken(req);
    const hash = token ? tokenHash(token) : '';
    const clientId = pathParam(req, 'client_id');
    const client = token && typeof clientId === 'string' ? await this.clients.find(clientId) : null;
    const valid =
      client !== null &&
      client.ratHash !== null &&
      safeEqual(client.ratHash, hash) &&
      (client.ratExpiresAt === null || client.ratExpiresAt.getTime() > Date.now());
    if (!valid) throw invalidBearer(token !== undefined, 'the registration access token is not valid for this client');
    req.registeredClient = client;
    req.registrationTokenHash = hash;
    await this.clients.touch(client);
    return true;
  }
}
