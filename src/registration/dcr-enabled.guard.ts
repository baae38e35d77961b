import { Injectable, type CanActivate } from '@nestjs/common';
import { OAuthError } from '../common/oauth-error.js';
import { ConfigService } from '../config/config.service.js';

/** While DCR is disabled, every /oauth2/register route answers as if it did not exist. */
@Injectable()
export class DcrEnabledGuard implements CanActivate {
  constructor(private readonly config: ConfigService) {}

  canActivate(): boolean {
    if (!this.config.get('oidc.dynamic_client_registration.enabled')) {
      throw new OAuthError('not_found', 'dynamic client registration is not enabled on this server');
    }
    return true;
  }
}
