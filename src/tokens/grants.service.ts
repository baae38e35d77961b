// Grants of the authorization code flow: what a subject consented to for a
// client, the single-use code that redeems it, how long it lives, and
// revocation of everything issued from it (RFC 6749 §4.1, §10.5; RFC 9700 §4.14).
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ClientsService } from '../clients/clients.service.js';
import { clientLifespan, type LifespanToken } from '../clients/lifespans.js';
import { keyedHashes, randomToken } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { AccessTokenCache } from './access-token-cache.js';
import { AccessTokensRepository } from './access-tokens.repository.js';
import { GrantsRepository, type GrantRow } from './grants.repository.js';
import { RefreshTokensRepository } from './refresh-tokens.repository.js';

/** The consent app's extra claims for ID tokens / userinfo and for access tokens. */
export interface GrantSession {
  id_token: Record<string, unknown>;
  access_token: Record<string, unknown>;
}

/** Everything the flow settled, handed over when consent completes. */
export interface NewGrant {
  clientId: string;
  subject: string;
  scope: string[];
  audience: string[];
  authTime: Date;
  acr: string;
  amr: string[];
  loginSessionId?: string;
  session: GrantSession;
  /** The redirect_uri parameter of the authorization request, when it carried one (RFC 6749 §4.1.3). */
  redirectUri?: string;
  codeChallenge?: string;
  nonce?: string;
  /** RFC 9449 §10: the DPoP key thumbprint the code is bound to. */
  dpopJkt?: string;
}

/** The grant types whose tokens come from a grant. */
export type CodeFlowGrantType = 'authorization_code' | 'refresh_token';

/** The scope values that ask for a refresh token (OIDC Core §11; Hydra also accepts `offline`). */
export const OFFLINE_SCOPES = ['offline_access', 'offline'];

export function wantsOffline(scope: string[]): boolean {
  return scope.some((s) => OFFLINE_SCOPES.includes(s));
}

@Injectable()
export class GrantsService {
  constructor(
    private readonly database: Database,
    private readonly config: ConfigService,
    private readonly clients: ClientsService,
    private readonly grants: GrantsRepository,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly accessTokens: AccessTokensRepository,
    private readonly tokenCache: AccessTokenCache,
  ) {}

  /** The keyed hashes of a code or refresh token, one per system secret (the first is the one stored). */
  hashes(token: string): string[] {
    return keyedHashes(this.config.systemSecrets(), token);
  }

  /** How long a token of this grant type lives for this client: its Hydra lifespan, else ttl.* (README "Token lifetimes"). */
  ttl(fields: Record<string, unknown>, grantType: CodeFlowGrantType, token: LifespanToken): number {
    return clientLifespan(fields, grantType, token) ?? this.config.get(`ttl.${token}`);
  }

  /** How long the grant must outlive a code exchange or refresh: as long as any token either may issue. */
  lifetime(fields: Record<string, unknown>, scope: string[]): number {
    const longest = (token: LifespanToken) => Math.max(this.ttl(fields, 'authorization_code', token), this.ttl(fields, 'refresh_token', token));
    const refresh = wantsOffline(scope) ? longest('refresh_token') : 0;
    // Counted from consent: the tokens are issued when the code is redeemed, up to ttl.auth_code later.
    return Math.max(longest('access_token'), refresh) + this.config.get('ttl.auth_code');
  }

  /** Records the grant and returns the authorization code that redeems it. */
  async createGrant(grant: NewGrant): Promise<string> {
    const code = randomToken(32);
    const client = await this.clients.find(grant.clientId);
    const lifetime = this.lifetime(client?.fields ?? {}, grant.scope);
    await this.grants.insertWithCode(randomUUID(), grant, lifetime, this.hashes(code)[0], this.config.get('ttl.auth_code'));
    return code;
  }

  findLive(id: string): Promise<GrantRow | undefined> {
    return this.grants.findLive(id);
  }

  /** A refresh keeps the grant alive as long as the tokens it may issue; never shortens it. */
  async extend(id: string, fields: Record<string, unknown>, scope: string[]): Promise<void> {
    await this.grants.extend(id, this.lifetime(fields, scope));
  }

  /** Revokes grants and every token issued from them, in both formats. */
  async revokeGrants(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.database.transaction(async () => {
      // The grant first: a refresh racing this sees it revoked after its own writes (see GrantTokensService.issue).
      await this.grants.revoke(ids);
      await this.refreshTokens.revokeOfGrants(ids);
      await this.accessTokens.revokeIssuedFrom(ids);
      await this.tokenCache.invalidate();
    });
  }

  /** Revokes every grant a subject gave a client (or every client, when none is named); returns how many. */
  async revokeGrantsOf(subject: string, clientId?: string): Promise<number> {
    const ids = await this.grants.liveIdsOf(subject, clientId);
    await this.revokeGrants(ids);
    return ids.length;
  }
}
