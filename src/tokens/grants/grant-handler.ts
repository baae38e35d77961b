// The token endpoint's grant types (RFC 6749 §4, §6), each a handler keyed by
// its grant_type value.
import type { ClientEntity } from '../../clients/client.entity.js';
import { OAuthError } from '../../common/oauth-error.js';
import type { TokenResponse } from '../access-tokens.service.js';
import type { DPoPProof } from '../dpop.service.js';

/** The form parameters of a token request: single values, and the repeatable `audience` and `resource` (RFC 8707); the DPoP proof it carried, if any. */
export interface TokenRequest {
  params: Record<string, string>;
  lists: Record<string, string[]>;
  /** A verified DPoP proof (RFC 9449 §5): the access token is bound to its key. */
  dpop?: DPoPProof;
}

export interface GrantHandler {
  /** The grant_type parameter value this handler answers. */
  readonly grantType: string;
  /** Whether public clients (token_endpoint_auth_method none) may use it; PKCE or rotation binds them instead. */
  readonly allowsPublicClients: boolean;
  /** False when configuration turns the grant type off: it is then unsupported. */
  enabled(): boolean;
  /** Issues tokens to an authenticated client registered for this grant type. */
  handle(client: ClientEntity, request: TokenRequest): Promise<TokenResponse>;
}

/** The injection token of the map from grant_type to handler. */
export const GRANT_HANDLERS = Symbol('GRANT_HANDLERS');

/** RFC 6749 §5.2: the code or refresh token is invalid, expired, revoked, spent or another client's. */
export function invalidGrant(why: string): OAuthError {
  return new OAuthError('invalid_grant', why);
}
