// RFC 6749 §4.1.3 with PKCE (RFC 7636): redeeming an authorization code.
import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../../clients/client.entity.js';
import { OAuthError } from '../../common/oauth-error.js';
import { splitScope } from '../../common/scopes.js';
import { safeEqual } from '../../common/secrets.js';
import { ConfigService } from '../../config/config.service.js';
import type { TokenResponse } from '../access-tokens.service.js';
import { GrantTokensService } from '../grant-tokens.service.js';
import { GrantsRepository } from '../grants.repository.js';
import { GrantsService } from '../grants.service.js';
import { invalidGrant, type GrantHandler, type TokenRequest } from './grant-handler.js';
import { requestedTokenAudience } from './token-audience.js';

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** RFC 7636 §4.6; RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a downgrade attempt. */
function checkVerifier(challenge: string | null, verifier: string | undefined): void {
  if (challenge === null) {
    if (verifier !== undefined) throw invalidGrant('code_verifier was sent but the authorization request had no code_challenge');
    return;
  }
  if (verifier === undefined) throw invalidGrant('code_verifier is required');
  if (!CODE_VERIFIER.test(verifier)) throw invalidGrant('code_verifier must be 43 to 128 unreserved characters');
  const computed = createHash('sha256').update(verifier).digest('base64url');
  if (!safeEqual(computed, challenge)) throw invalidGrant('code_verifier does not match the code_challenge');
}

@Injectable()
export class AuthorizationCodeGrant implements GrantHandler {
  readonly grantType = 'authorization_code';
  readonly allowsPublicClients = true;

  constructor(
    private readonly config: ConfigService,
    private readonly grants: GrantsService,
    private readonly repository: GrantsRepository,
    private readonly tokens: GrantTokensService,
  ) {}

  enabled(): boolean {
    return this.config.authorizationCodeFlowEnabled();
  }

  /** The code is spent first, then checked, so a wrong verifier or redirect_uri burns it. */
  async handle(client: ClientEntity, request: TokenRequest): Promise<TokenResponse> {
    const { params, dpop } = request;
    if (!params.code) throw new OAuthError('invalid_request', 'code is required');
    const hashes = this.grants.hashes(params.code);
    const used = await this.repository.redeemCode(hashes, client.id);
    if (!used) {
      // Another client's code is refused without spending it; its own client's second use is a replay.
      const replayed = await this.repository.grantOfSpentCode(hashes, client.id);
      if (replayed) {
        // RFC 6749 §4.1.2: a code used twice revokes what its first use issued.
        await this.grants.revokeGrants([replayed]);
        throw invalidGrant('the authorization code was already used; the tokens issued for it are revoked');
      }
      throw invalidGrant('the authorization code is unknown, expired or was issued to another client');
    }
    if (!used.live) throw invalidGrant('the authorization code has expired');
    if (used.redirect_uri !== null && params.redirect_uri !== used.redirect_uri) {
      throw invalidGrant('redirect_uri does not match the one of the authorization request');
    }
    checkVerifier(used.code_challenge, params.code_verifier);
    // RFC 9449 §10: a code requested with dpop_jkt is redeemed only with a proof signed by that key.
    if (used.dpop_jkt !== null && dpop?.jkt !== used.dpop_jkt) {
      throw invalidGrant(dpop ? 'the DPoP proof is signed by another key than the dpop_jkt of the authorization request' : 'the authorization request named dpop_jkt: send a DPoP proof signed by that key');
    }
    const grant = await this.grants.findLive(used.grant_id);
    if (!grant) throw invalidGrant('the grant was revoked');
    // RFC 8707 §2.2: resource narrows the token to part of what was granted.
    const audience = requestedTokenAudience(request, grant.audience, 'was not granted');
    return this.tokens.issue(client, grant, {
      grantType: this.grantType,
      scope: splitScope(grant.scope),
      audience,
      nonce: used.nonce ?? undefined,
      jkt: dpop?.jkt,
    });
  }
}
