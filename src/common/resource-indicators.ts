// Resource indicators (RFC 8707): the `resource` parameter of authorization
// and token requests. A resource is a value of the client's `audience` list
// (README "Resource indicators (RFC 8707)"), so the rules that decide which
// audiences a client may have decide which resources it may reach.
import { OAuthError } from './oauth-error.js';

/** More than any client needs (a client has at most 50 audiences); bounds the work a request can cause. */
export const MAX_RESOURCES = 50;
const MAX_LENGTH = 2048;
/** RFC 3986 §3.1: scheme ":" ... */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** RFC 3986 §2: unreserved, reserved (but "#") and percent-encoded octets only. */
const URI_CHARS = /^(?:[A-Za-z0-9\-._~:/?[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/;

/** The value as quoted in an error: bounded, so a hostile value cannot make a huge answer. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}...` : value);
}

/**
 * RFC 8707 §2: an absolute URI (RFC 3986 §4.3) without a fragment. A query is
 * allowed (the RFC only discourages it). Nothing is normalised: the value is
 * compared exactly with the client's audience values.
 */
export function isResourceIndicator(value: string): boolean {
  if (value.length === 0 || value.length > MAX_LENGTH || !SCHEME.test(value) || !URI_CHARS.test(value)) return false;
  const rest = value.slice(value.indexOf(':') + 1);
  if (rest.length === 0) return false;
  try {
    new URL(value);
  } catch {
    return false;
  }
  return true;
}

/** RFC 8707 §2: invalid_target, naming the value. */
export function invalidTarget(value: string, why: string): OAuthError {
  return new OAuthError('invalid_target', `resource ${quoted(value)} ${why}`);
}

/**
 * The requested resources, each well-formed and one of `allowed`; the first
 * that is not is refused with invalid_target naming it. `allowed` is the
 * client's audience at the authorization endpoint and for client_credentials,
 * and the grant's audience when a code or refresh token is redeemed
 * (RFC 8707 §2.2).
 */
export function checkedResources(requested: readonly string[], allowed: readonly string[], notAllowed: string): string[] {
  if (requested.length > MAX_RESOURCES) throw new OAuthError('invalid_target', `at most ${MAX_RESOURCES} resource parameters are accepted`);
  for (const value of requested) {
    if (!isResourceIndicator(value)) throw invalidTarget(value, 'must be an absolute URI without a fragment (RFC 8707 §2)');
  }
  for (const value of requested) {
    if (!allowed.includes(value)) throw invalidTarget(value, notAllowed);
  }
  return [...new Set(requested)];
}

/** The client's audience list as stored (always an array of strings once validated). */
export function clientAudience(fields: Record<string, unknown>): string[] {
  return Array.isArray(fields.audience) ? (fields.audience as string[]) : [];
}
