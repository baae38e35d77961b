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
    return this.resolved.values['urls.self.issuer'] as string;
  }

  /** The global access token format, for clients that carry no strategy of their own. */
  accessTokenStrategy(): AccessTokenStrategy {
    return this.resolved.values['strategies.access_token'] as AccessTokenStrategy;
  }

  /** The format stored on clients registered through DCR, or undefined when unset. */
  dcrAccessTokenStrategy(): AccessTokenStrategy | undefined {
    return this.resolved.values['oidc.dynamic_client_registration.strategies.access_token'];
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
    return this.resolved.values['secrets.system'] as string[];
  }

  adminApiKeys(): string[] {
    return this.resolved.values['admin.api_keys'] as string[];
  }
}
