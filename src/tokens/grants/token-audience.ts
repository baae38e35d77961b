// The audience of the access token a token request asks for: Hydra's
// `audience` parameter and RFC 8707's `resource` parameter, read together
// (README "Resource indicators (RFC 8707)").
import { checkedResources } from '../../common/resource-indicators.js';
import { grantedAudience } from '../../common/scopes.js';
import type { TokenRequest } from './grant-handler.js';

/**
 * The union of the requested audiences and resources, every one within
 * `allowed` (the client's audience for client_credentials, the grant's for a
 * code or refresh token, RFC 8707 §2.2), or undefined when the request names
 * neither. An audience outside is invalid_request (as in Hydra); a resource
 * outside, or malformed, is invalid_target (RFC 8707 §2).
 */
export function requestedTokenAudience({ lists }: TokenRequest, allowed: string[], notAllowed: string): string[] | undefined {
  const audience = lists.audience ?? [];
  const resource = lists.resource ?? [];
  if (audience.length === 0 && resource.length === 0) return undefined;
  return [...new Set([...grantedAudience(audience, allowed), ...checkedResources(resource, allowed, notAllowed)])];
}
