// The tokens a grant of the authorization code flow yields at the token
// endpoint: an access token, a refresh token when offline access was granted
// (OIDC Core §11), and an ID token when openid was (OIDC Core §3.1.3.3).
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientActivityService } from '../clients/client-activity.service.js';
import { OAuthError } from '../common/oauth-error.js';
import { AccessTokensService, type TokenResponse } from './access-tokens.service.js';
import type { GrantRow } from './grants.repository.js';
import { GrantsService, wantsOffline, type CodeFlowGrantType } from './grants.service.js';
import { IdTokensService } from './id-tokens.service.js';
import { RefreshTokensService } from './refresh-tokens.service.js';
import type { SigningAlgorithm } from './signing-key.entity.js';
import { SubjectIdentifiersService } from './subject-identifiers.service.js';

/** What the grant type settled about this issuance. */
export interface Issuance {
  grantType: CodeFlowGrantType;
  /** The scope of the access (and ID) token. */
  scope: string[];
  /** The scope of the new refresh token: a refresh keeps the old token's even when it narrows the access token's. */
  refreshScope?: string[];
  /** The access token's audience when the request narrowed the grant's (RFC 8707 §2.2); the grant keeps all of it. */
  audience?: string[];
  /** The nonce of the authorization request (OIDC Core §3.1.2.1), for the ID token of a code exchange. */
  nonce?: string;
  /** The key of the request's DPoP proof: the access token is bound to it, and a public client's refresh token too (RFC 9449 §5). */
  jkt?: string;
}

@Injectable()
export class GrantTokensService {
  constructor(
    private readonly grants: GrantsService,
    private readonly accessTokens: AccessTokensService,
    private readonly refreshTokens: RefreshTokensService,
    private readonly idTokens: IdTokensService,
    private readonly subjects: SubjectIdentifiersService,
    private readonly activity: ClientActivityService,
  ) {}

  async issue(client: ClientEntity, grant: GrantRow, { grantType, scope, refreshScope = scope, audience = grant.audience, nonce, jkt }: Issuance): Promise<TokenResponse> {
    const response = await this.accessTokens.issue(client, grantType, {
      subject: grant.subject,
      scope: scope.join(' '),
      audience,
      grantId: grant.id,
      ext: grant.session.access_token,
      jkt,
    });
    const grantTypes = client.fields.grant_types as string[];
    if (wantsOffline(refreshScope) && grantTypes.includes('refresh_token')) {
      const lifetime = this.grants.ttl(client.fields, grantType, 'refresh_token');
      // RFC 9449 §5: a public client's refresh token is bound to its DPoP key; a confidential client's is bound by its authentication.
      const bindRefresh = client.fields.token_endpoint_auth_method === 'none' ? jkt : undefined;
      response.refresh_token = await this.refreshTokens.issue(client, grant.id, refreshScope, lifetime, bindRefresh);
    }
    if (scope.includes('openid')) {
      response.id_token = await this.idTokens.sign({
        clientId: client.id,
        subject: await this.subjects.forClient(client, grant.subject),
        lifetime: this.grants.ttl(client.fields, grantType, 'id_token'),
        alg: client.fields.id_token_signed_response_alg as SigningAlgorithm | undefined,
        authTime: grant.auth_time,
        nonce,
        acr: grant.acr || undefined,
        amr: grant.amr,
        sessionId: grant.login_session_id ?? undefined,
        accessToken: response.access_token,
        extra: grant.session.id_token,
      });
    }
    // Checked after the writes: a revocation that raced this request either saw the new tokens or is seen here.
    if (!(await this.grants.findLive(grant.id))) {
      await this.grants.revokeGrants([grant.id]);
      throw new OAuthError('invalid_grant', 'the grant was revoked');
    }
    await this.activity.touch(client);
    return response;
  }
}
