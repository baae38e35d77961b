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

  systemSecrets(): string[] {
    return this.resolved.values['secrets.system'] as string[];
  }

  adminApiKeys(): string[] {
    return this.resolved.values['admin.api_keys'] as string[];
  }
}
