// Refresh tokens (RFC 6749 §1.5, §6): issued with a grant that asked for
// offline access, introspected (RFC 7662) and revoked (RFC 7009) with it.
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { OAuthError } from '../common/oauth-error.js';
import { randomToken } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { binding, type IntrospectionResponse } from './access-tokens.service.js';
import { GrantsService } from './grants.service.js';
import { RefreshTokensRepository, type ActiveRefreshToken } from './refresh-tokens.repository.js';

/** Longer than any token this server issues: such a value is not looked up. */
const MAX_TOKEN_LENGTH = 512;

@Injectable()
export class RefreshTokensService {
  constructor(
    private readonly repository: RefreshTokensRepository,
    private readonly grants: GrantsService,
    private readonly config: ConfigService,
    private readonly clients: ClientsService,
  ) {}

  /** A new refresh token of the grant, living `lifetime` seconds, bound to the DPoP key `jkt` if given; only its keyed hash is stored. */
  async issue(client: ClientEntity, grantId: string, scope: string[], lifetime: number, jkt?: string): Promise<string> {
    const token = randomToken(32);
    await this.repository.insert(randomUUID(), this.grants.hashes(token)[0], grantId, client.id, scope, lifetime, jkt);
    return token;
  }

  /** RFC 7662 for refresh tokens. */
  async introspect(token: string, caller?: ClientEntity): Promise<IntrospectionResponse> {
    const row = await this.active(token);
    if (!row || (caller && caller.id !== row.client_id)) return { active: false };
    // README "Operating a fleet of dynamic clients": inactive while the client is suspended.
    if (await this.clients.suspended(row.client_id)) return { active: false };
    return {
      active: true,
      client_id: row.client_id,
      sub: row.subject,
      scope: row.token_scope,
      aud: row.audience,
      iss: this.config.issuer(),
      exp: Number(row.exp),
      iat: Number(row.iat),
      jti: row.token_id,
      ...binding(row.dpop_jkt ?? undefined),
      token_use: 'refresh_token',
    };
  }

  /** RFC 7009 §2.1: revoking a refresh token revokes its grant, access tokens included. False when it is not an active one. */
  async revoke(token: string, caller: ClientEntity): Promise<boolean> {
    const row = await this.active(token);
    if (!row) return false;
    if (row.client_id !== caller.id) throw new OAuthError('unauthorized_client', 'the token was not issued to this client');
    await this.grants.revokeGrants([row.grant_id]);
    return true;
  }

  private active(token: string): Promise<ActiveRefreshToken | undefined> {
    if (token.length > MAX_TOKEN_LENGTH) return Promise.resolve(undefined);
    return this.repository.findActiveByHash(this.grants.hashes(token));
  }
}
