import { AUTH_METHODS, CLIENT_SIGNING_ALGS } from '../clients/client-metadata.js';
import type { ConfigService } from '../config/config.service.js';

/** Client authentication methods the token, introspection and revocation endpoints accept. */
const ENDPOINT_AUTH_METHODS = AUTH_METHODS.filter((m) => m !== 'none');

/**
 * The authorization server metadata (RFC 8414 / OpenID Connect Discovery),
 * built from configuration in this one function. It names only endpoints and
 * values that work on this server: while the token endpoint serves only the
 * client_credentials grant, there is no authorization endpoint to advertise.
 */
export function buildDiscoveryDocument(config: ConfigService): Record<string, unknown> {
  const issuer = config.issuer();
  const doc: Record<string, unknown> = {
    issuer,
    token_endpoint: `${issuer}/oauth2/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    introspection_endpoint: `${issuer}/oauth2/introspect`,
    revocation_endpoint: `${issuer}/oauth2/revoke`,
    grant_types_supported: ['client_credentials'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ENDPOINT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: CLIENT_SIGNING_ALGS,
    introspection_endpoint_auth_methods_supported: ENDPOINT_AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: CLIENT_SIGNING_ALGS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: CLIENT_SIGNING_ALGS,
  };
  if (config.get('oidc.dynamic_client_registration.enabled')) {
    doc.registration_endpoint = `${issuer}/oauth2/register`;
  }
  const scopes = config.get('oidc.dynamic_client_registration.allowed_scopes');
  if (scopes) doc.scopes_supported = scopes;
  return doc;
}
