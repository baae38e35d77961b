// A start-up warning for production deployments whose registrants may ask for
// any scope: README, "Securing open registration".
import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { AppLogger } from '../common/logging.js';
import { ConfigService } from '../config/config.service.js';
import { PoliciesService } from '../policy/policies.service.js';

@Injectable()
export class OpenRegistrationCheck implements OnApplicationBootstrap {
  constructor(
    private readonly config: ConfigService,
    private readonly policies: PoliciesService,
    private readonly logger: AppLogger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.isProduction() || !this.config.get('oidc.dynamic_client_registration.enabled')) return;
    if (this.config.get('oidc.dynamic_client_registration.allowed_scopes') !== undefined) return;
    const configured = this.config.get('oidc.dynamic_client_registration.policies');
    if (await this.policies.limitScopes(configured)) return;
    this.logger.warn(
      { key: 'oidc.dynamic_client_registration.allowed_scopes', env: 'OIDC_DYNAMIC_CLIENT_REGISTRATION_ALLOWED_SCOPES' },
      'dynamic client registration accepts any scope: set oidc.dynamic_client_registration.allowed_scopes, or name a policy with allowed_scopes in oidc.dynamic_client_registration.policies',
    );
  }
}
