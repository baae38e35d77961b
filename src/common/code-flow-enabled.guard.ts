import { Injectable, type CanActivate } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { OAuthError } from './oauth-error.js';

/** While oauth2.authorization_code.enabled is false, the flow's routes answer as if they did not exist. */
@Injectable()
export class CodeFlowEnabledGuard implements CanActivate {
  constructor(private readonly config: ConfigService) {}

  canActivate(): boolean {
    if (!this.config.authorizationCodeFlowEnabled()) throw new OAuthError('not_found', 'the authorization code flow is not enabled');
    return true;
  }
}
