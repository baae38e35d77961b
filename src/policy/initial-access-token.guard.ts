import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { HttpRequest } from '../common/http.js';
import { bearerToken, invalidBearer } from '../common/bearer.js';
import { ConfigService } from '../config/config.service.js';
import type { InitialAccessTokenEntity } from './initial-access-token.entity.js';
import { InitialAccessTokensService } from './initial-access-tokens.service.js';

export type RequestWithIat = HttpRequest & { initialAccessToken?: InitialAccessTokenEntity };

/**
 * Authenticates the initial access token of a registration request. A token
 * that is presented is always validated, also when none is required, so that
 * its policies apply.
 */
@Injectable()
export class InitialAccessTokenGuard implements CanActivate {
  constructor(
    private readonly iats: InitialAccessTokensService,
    private readonly config: ConfigService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<RequestWithIat>();
    const token = bearerToken(req);
    if (token === undefined || token === '') {
      if (this.config.get('oidc.dynamic_client_registration.initial_access_token.required') || token === '') {
        throw invalidBearer(token !== undefined, 'an initial access token is required: Authorization: Bearer <token>');
      }
      return true;
    }
    // Used up is decided with the request's policies (RegistrationService.register).
    req.initialAccessToken = await this.iats.authenticateForRegistration(token);
    return true;
  }
}
