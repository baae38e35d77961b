// Refresh tokens (RFC 6749 §1.5, §6): issued with a grant that asked for
// offline access, and revoked (RFC 7009) with it; introspection (RFC 7662)
// reads them with access tokens (AccessTokensService.introspect).
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../clients/client.entity.js';
import { OAuthError } from '../common/oauth-error.js';
import { randomToken } from '../common/secrets.js';
import { GrantsService } from './grants.service.js';
import { RefreshTokensRepository, type ActiveRefreshToken } from './refresh-tokens.repository.js';

/** Longer than any token this server issues: such a value is not looked up. */
const MAX_TOKEN_LENGTH = 512;

@Injectable()
export class RefreshTokensService {
  constructor(
    private readonly repository: RefreshTokensRepository,
    private readonly grants: GrantsService,
  ) {}

  /** A new refresh token of the grant, living `lifetime` seconds, bound to the DPoP key `jkt` if given; only its keyed hash is stored. */
  async issue(client: ClientEntity, grantId: string, scope: string[], lifetime: number, jkt?: string): Promise<string> {
    const token = randomToken(32);
    await this.repository.insert(randomUUID(), this.grants.hashes(token)[0], grantId, client.id, scope, lifetime, jkt);
    return token;
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
