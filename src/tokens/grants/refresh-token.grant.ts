// RFC 6749 §6 with rotation (RFC 9700 §4.14.2): the presented refresh token is
// spent, and presenting a spent one revokes the whole grant.
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../../clients/client.entity.js';
import { OAuthError } from '../../common/oauth-error.js';
import { splitScope } from '../../common/scopes.js';
import { ConfigService } from '../../config/config.service.js';
import type { TokenResponse } from '../access-tokens.service.js';
import { GrantTokensService } from '../grant-tokens.service.js';
import { GrantsService } from '../grants.service.js';
import { RefreshTokensRepository } from '../refresh-tokens.repository.js';
import { invalidGrant, type GrantHandler, type TokenRequest } from './grant-handler.js';
import { requestedTokenAudience } from './token-audience.js';

const REUSED = 'the refresh token was already used; every token of its grant is revoked';

@Injectable()
export class RefreshTokenGrant implements GrantHandler {
  readonly grantType = 'refresh_token';
  readonly allowsPublicClients = true;

  constructor(
    private readonly config: ConfigService,
    private readonly grants: GrantsService,
    private readonly repository: RefreshTokensRepository,
    private readonly tokens: GrantTokensService,
  ) {}

  enabled(): boolean {
    return this.config.authorizationCodeFlowEnabled();
  }

  async handle(client: ClientEntity, request: TokenRequest): Promise<TokenResponse> {
    const { params, dpop } = request;
    if (!params.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
    const row = await this.repository.findByHash(this.grants.hashes(params.refresh_token));
    if (!row || row.token_client !== client.id) throw invalidGrant('the refresh token is unknown or was issued to another client');
    // RFC 9449 §5: only the holder of the key may use a bound token. Checked before reuse detection, so that
    // whoever stole a bound token can neither use it nor, by presenting it, revoke its grant.
    if (row.dpop_jkt !== null && dpop?.jkt !== row.dpop_jkt) {
      throw invalidGrant(
        dpop ? 'the refresh token is bound to another DPoP key' : 'the refresh token is DPoP-bound: send a DPoP proof signed with its key',
      );
    }
    if (row.token_revoked) throw invalidGrant('the refresh token was revoked');
    if (row.used_at) {
      await this.grants.revokeGrants([row.grant_id]);
      throw invalidGrant(REUSED);
    }
    if (!row.live) throw invalidGrant('the refresh token has expired');
    // RFC 6749 §6: the scope may narrow the refresh token's, never widen it.
    const tokenScope = splitScope(row.token_scope);
    const requested = params.scope === undefined ? tokenScope : splitScope(params.scope);
    const wider = requested.filter((s) => !tokenScope.includes(s));
    if (wider.length > 0) throw new OAuthError('invalid_scope', `the refresh token was not granted: ${wider.join(' ')}`);
    // RFC 8707 §2.2: checked before the token is spent, so a refused request leaves it usable.
    const audience = await this.narrowedAudience(request, row.grant_id);
    if (!(await this.repository.spend(row.token_id))) {
      // Another request spent it a moment ago: two holders of one token.
      await this.grants.revokeGrants([row.grant_id]);
      throw invalidGrant(REUSED);
    }
    const grant = await this.grants.findLive(row.grant_id);
    if (!grant) throw invalidGrant('the grant was revoked');
    await this.grants.extend(grant.id, client.fields, tokenScope);
    return this.tokens.issue(client, grant, { grantType: this.grantType, scope: requested, refreshScope: tokenScope, audience, jkt: dpop?.jkt });
  }

  /**
   * The access token's audience when the request names resources (or
   * audiences): within the grant's, which the new refresh token keeps, so a
   * later refresh may ask for any of it again. Undefined: all of the grant's.
   */
  private async narrowedAudience(request: TokenRequest, grantId: string): Promise<string[] | undefined> {
    if (!request.lists.resource && !request.lists.audience) return undefined;
    const grant = await this.grants.findLive(grantId);
    if (!grant) throw invalidGrant('the grant was revoked');
    return requestedTokenAudience(request, grant.audience, 'was not granted');
  }
}
