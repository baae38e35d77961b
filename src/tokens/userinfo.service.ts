// OIDC Core §5.3: the claims about the subject of an access token, taken from
// the consent session of the grant the token was issued from.
import { Injectable } from '@nestjs/common';
import { ClientsService } from '../clients/clients.service.js';
import { splitScope } from '../common/scopes.js';
import { AccessTokensRepository } from './access-tokens.repository.js';
import type { TokenInfo } from './access-tokens.service.js';
import { GrantsService } from './grants.service.js';
import { extraClaims, IdTokensService } from './id-tokens.service.js';
import type { SigningAlgorithm } from './signing-key.entity.js';
import { SubjectIdentifiersService } from './subject-identifiers.service.js';

@Injectable()
export class UserinfoService {
  constructor(
    private readonly grants: GrantsService,
    private readonly accessTokens: AccessTokensRepository,
    private readonly clients: ClientsService,
    private readonly idTokens: IdTokensService,
    private readonly subjects: SubjectIdentifiersService,
  ) {}

  /**
   * For an active access token: the consent session's ID token claims and the
   * subject as the client knows it, as JSON or, when the client registered
   * userinfo_signed_response_alg, as a signed JWT (OIDC Core §5.3.2).
   * Undefined when the token was not issued with openid or its grant is gone.
   */
  async claims(info: TokenInfo): Promise<{ claims: Record<string, unknown> } | { jwt: string } | undefined> {
    if (!splitScope(info.scope).includes('openid')) return undefined;
    // JWTs are listed in grant_jwts; opaque tokens carry their grant.
    const grantId = info.grantId ?? (await this.accessTokens.grantOfJwt(info.jti));
    const grant = grantId ? await this.grants.findLive(grantId) : undefined;
    const client = grant ? await this.clients.find(info.clientId) : null;
    if (!grant || !client) return undefined;
    const claims = { ...extraClaims(grant.session.id_token), sub: await this.subjects.forClient(client, info.subject) };
    const alg = client.fields.userinfo_signed_response_alg;
    if (typeof alg !== 'string' || alg === 'none') return { claims };
    return { jwt: await this.idTokens.signUserinfo(client.id, alg as SigningAlgorithm, claims) };
  }
}
