import type { HttpRequest } from './http.js';
import { OAuthError } from './oauth-error.js';

/** The token of an `Authorization: Bearer` header, or undefined when there is none. */
export function bearerToken(req: HttpRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return match ? match[1] : '';
}

/** RFC 6750 §3: no credentials -> plain challenge; bad credentials -> error="invalid_token". */
export function invalidBearer(presented: boolean, description = 'missing or invalid bearer token'): OAuthError {
  return new OAuthError('invalid_token', description, {
    headers: { 'WWW-Authenticate': presented ? 'Bearer error="invalid_token"' : 'Bearer' },
  });
}

/**
 * The access token of an `Authorization: DPoP` header (RFC 9449 §7.1): '' when
 * the header uses that scheme but is malformed, undefined when it uses another.
 */
export function dpopToken(req: HttpRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header || !/^DPoP(\s|$)/i.test(header)) return undefined;
  const match = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  return match ? match[1] : '';
}
