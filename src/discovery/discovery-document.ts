import type { ConfigService } from '../config/config.service.js';

/**
 * The authorization server metadata (RFC 8414 / OpenID Connect Discovery),
 * built from configuration in this one function. It names only endpoints and
 * values that work on this server.
 */
export function buildDiscoveryDocument(config: ConfigService): Record<string, unknown> {
  const issuer = config.issuer();
  const doc: Record<string, unknown> = { issuer };
  if (config.get('oidc.dynamic_client_registration.enabled')) {
    doc.registration_endpoint = `${issuer}/oauth2/register`;
  }
  const scopes = config.get('oidc.dynamic_client_registration.allowed_scopes');
  if (scopes) doc.scopes_supported = scopes;
  return doc;
}
