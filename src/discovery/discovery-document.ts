import { AUTH_METHODS, CLIENT_AUTH_SIGNING_ALGS, JWT_BEARER_GRANT, SERVER_SIGNING_ALGS, TOKEN_EXCHANGE_GRANT } from '../clients/client-metadata.js';
import type { ConfigService } from '../config/config.service.js';
import { DPOP_SIGNING_ALGS } from '../tokens/dpop.service.js';

/** Client authentication methods the token, introspection and revocation endpoints accept. */
const ENDPOINT_AUTH_METHODS = AUTH_METHODS.filter((m) => m !== 'none');

function signingAlgs(config: ConfigService): string[] {
  const configured = config.get('jwt.signing_algorithm');
  return [configured, ...SERVER_SIGNING_ALGS.filter((alg) => alg !== configured)];
}

/**
 * The authorization server metadata (RFC 8414 / OpenID Connect Discovery),
 * built from configuration in this one function. It names only endpoints and
 * values that work on this server: with the authorization code flow turned
 * off (oauth2.authorization_code.enabled), only client_credentials is listed
 * and there is no authorization endpoint to advertise.
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
    subject_types_supported: ['public'],
    token_endpoint_auth_methods_supported: ENDPOINT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: CLIENT_AUTH_SIGNING_ALGS,
    introspection_endpoint_auth_methods_supported: ENDPOINT_AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: CLIENT_AUTH_SIGNING_ALGS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: CLIENT_AUTH_SIGNING_ALGS,
    // RFC 9449 §5.1: DPoP proofs are checked at the token endpoint (and at userinfo, with the flow).
    dpop_signing_alg_values_supported: DPOP_SIGNING_ALGS,
  };
  if (config.get('oidc.dynamic_client_registration.enabled')) {
    doc.registration_endpoint = `${issuer}/oauth2/register`;
  }
  if (config.authorizationCodeFlowEnabled()) {
    Object.assign(doc, {
      authorization_endpoint: `${issuer}/oauth2/auth`,
      userinfo_endpoint: `${issuer}/userinfo`,
      end_session_endpoint: `${issuer}/oauth2/sessions/logout`,
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      code_challenge_methods_supported: ['S256'],
      // OIDC Core §8: pairwise subjects appear in ID tokens and userinfo, which only this flow issues.
      subject_types_supported: ['public', 'pairwise'],
      // Every algorithm a client may register (id_token_signed_response_alg), the configured default first.
      id_token_signing_alg_values_supported: signingAlgs(config),
      userinfo_signing_alg_values_supported: signingAlgs(config),
      claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'at_hash', 'acr', 'amr', 'sid'],
      prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
      authorization_response_iss_parameter_supported: true,
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
      claims_parameter_supported: false,
    });
    const tokenMethods = [...ENDPOINT_AUTH_METHODS, 'none'];
    doc.token_endpoint_auth_methods_supported = tokenMethods;
  }
  // draft-ietf-oauth-client-id-metadata-document §6: only while some host's client_id URLs are accepted.
  if (config.get('oidc.client_id_metadata_document.enabled') && config.get('oidc.client_id_metadata_document.allowed_hosts').length > 0) {
    doc.client_id_metadata_document_supported = true;
  }
  // RFC 7523 §2.1 and RFC 8693: listed while switched on (each also needs an admin to give clients the grant type).
  const extraGrants = [
    ...(config.get('oauth2.grant.jwt.enabled') ? [JWT_BEARER_GRANT] : []),
    ...(config.get('oauth2.grant.token_exchange.enabled') ? [TOKEN_EXCHANGE_GRANT] : []),
  ];
  doc.grant_types_supported = [...(doc.grant_types_supported as string[]), ...extraGrants];
  const scopes = config.get('oidc.dynamic_client_registration.allowed_scopes');
  if (scopes) doc.scopes_supported = scopes;
  return doc;
}
