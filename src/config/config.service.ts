import { Injectable } from '@nestjs/common';
import { ConfigService as NestConfigService } from '@nestjs/config';
import type { ResolvedConfig } from './load-config.js';
import type { AccessTokenStrategy, ConfigKey, ConfigValues } from './schema.js';

export const RESOLVED_CONFIG = 'registrar';

/** Typed, read-only access to the validated configuration. Nothing else reads process.env. */
@Injectable()
export class ConfigService {
  private readonly resolved: ResolvedConfig;

  constructor(nestConfig: NestConfigService) {
    this.resolved = nestConfig.getOrThrow<ResolvedConfig>(RESOLVED_CONFIG);
  }

  get<K extends ConfigKey>(key: K): ConfigValues[K] {
    return this.resolved.values[key];
  }

  isProduction(): boolean {
    return this.resolved.production;
  }

  issuer(): string {
    return this.resolved.values['urls.self.issuer'];
  }

  /** The global access token format, for clients that carry no strategy of their own. */
  accessTokenStrategy(): AccessTokenStrategy {
    return this.resolved.values['strategies.access_token'] as AccessTokenStrategy;
  }

  /** The format stored on clients registered through DCR, or undefined when unset. */
  dcrAccessTokenStrategy(): AccessTokenStrategy | undefined {
    return this.resolved.values['oidc.dynamic_client_registration.strategies.access_token'];
  }

  /** The dynamic client registration keys (oidc.dynamic_client_registration.*), read together. */
  dcr() {
    const k = <K extends ConfigKey & `oidc.dynamic_client_registration.${string}`>(key: K) => this.get(key);
    return {
      enabled: k('oidc.dynamic_client_registration.enabled'),
      initialAccessTokenRequired: k('oidc.dynamic_client_registration.initial_access_token.required'),
      defaultScope: k('oidc.dynamic_client_registration.default_scope'),
      allowedScopes: k('oidc.dynamic_client_registration.allowed_scopes'),
      allowedAudiences: k('oidc.dynamic_client_registration.allowed_audiences'),
      allowLocalhostRedirects: k('oidc.dynamic_client_registration.allow_localhost_redirects'),
      policies: k('oidc.dynamic_client_registration.policies'),
      trustedIssuers: k('oidc.dynamic_client_registration.software_statement.trusted_issuers'),
      registrationAccessToken: {
        enabled: k('oidc.dynamic_client_registration.registration_access_token.enabled'),
        rotate: k('oidc.dynamic_client_registration.registration_access_token.rotate'),
        ttl: k('oidc.dynamic_client_registration.registration_access_token.ttl'),
      },
      clientSecretExpiresIn: k('oidc.dynamic_client_registration.client_secret.expires_in'),
      rateLimit: k('oidc.dynamic_client_registration.rate_limit'),
      inactiveClientTtl: k('oidc.dynamic_client_registration.inactive_client_ttl'),
      accessTokenStrategy: this.dcrAccessTokenStrategy(),
    };
  }

  /** Whether the authorization code flow is served (it needs a login and consent app, or the development pages). */
  authorizationCodeFlowEnabled(): boolean {
    return this.get('oauth2.authorization_code.enabled') === true;
  }

  /** Outside production, a login or consent app left unset is replaced by a built-in development page. */
  developmentPage(kind: 'login' | 'consent'): boolean {
    return this.authorizationCodeFlowEnabled() && !this.resolved.production && this.get(`urls.${kind}`) === undefined;
  }

  loginUrl(): string {
    return this.get('urls.login') ?? `${this.issuer()}/dev/login`;
  }

  consentUrl(): string {
    return this.get('urls.consent') ?? `${this.issuer()}/dev/consent`;
  }

  systemSecrets(): string[] {
    return this.resolved.values['secrets.system'];
  }

  adminApiKeys(): string[] {
    return this.resolved.values['admin.api_keys'];
  }
}
