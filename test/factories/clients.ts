// Client metadata builders for tests.
let counter = 0;

export function machineClient(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    client_name: `machine-${process.pid}-${counter}`,
    grant_types: ['client_credentials'],
    scope: 'read write',
    ...overrides,
  };
}

export function webClient(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    client_name: `web-${process.pid}-${counter}`,
    redirect_uris: ['https://app.example.com/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid offline_access',
    ...overrides,
  };
}

/** A public native app (RFC 8252): loopback redirect, no client secret, PKCE, openid and offline_access. */
export function nativeAppClient(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    client_name: `native-${process.pid}-${counter}`,
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'openid offline_access',
    ...overrides,
  };
}

/** A public EC P-256 JWK (the private half was discarded). */
export const PUBLIC_JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
  kid: 'test-key',
  use: 'sig',
  alg: 'ES256',
};

/** Every Hydra OAuth2Client field an admin may set, with a valid value. */
export function everyHydraField(): Record<string, unknown> {
  counter += 1;
  return {
    client_name: `full-${process.pid}-${counter}`,
    client_uri: 'https://app.example.com',
    logo_uri: 'https://app.example.com/logo.png',
    policy_uri: 'https://app.example.com/policy',
    tos_uri: 'https://app.example.com/tos',
    redirect_uris: ['https://app.example.com/cb', 'http://127.0.0.1:8080/cb'],
    post_logout_redirect_uris: ['https://app.example.com/bye'],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    scope: 'openid offline_access read',
    audience: ['https://api.example.com'],
    owner: 'team-a',
    contacts: ['ops@example.com'],
    jwks_uri: 'https://app.example.com/jwks.json',
    token_endpoint_auth_method: 'client_secret_post',
    metadata: { tier: 'gold', nested: { a: [1, 2] } },
    access_token_strategy: 'jwt',
    allowed_cors_origins: ['https://app.example.com'],
    subject_type: 'public',
    userinfo_signed_response_alg: 'RS256',
    default_acr_values: ['urn:example:loa:2'],
    // Features Registrar does not serve take only empty values, as Hydra's SDK may send them.
    request_uris: [],
    frontchannel_logout_uri: '',
    frontchannel_logout_session_required: false,
    backchannel_logout_uri: '',
    backchannel_logout_session_required: false,
    skip_consent: true,
    skip_logout_consent: false,
    authorization_code_grant_access_token_lifespan: '1h',
    authorization_code_grant_id_token_lifespan: '1h',
    authorization_code_grant_refresh_token_lifespan: '720h',
    client_credentials_grant_access_token_lifespan: '30m',
    // Grants Registrar does not implement take only an empty lifespan, as Hydra's SDK sends them.
    device_authorization_grant_access_token_lifespan: '',
    device_authorization_grant_id_token_lifespan: '',
    device_authorization_grant_refresh_token_lifespan: '',
    implicit_grant_access_token_lifespan: '',
    implicit_grant_id_token_lifespan: '',
    jwt_bearer_grant_access_token_lifespan: '',
    refresh_token_grant_access_token_lifespan: '1h',
    refresh_token_grant_id_token_lifespan: '1h',
    refresh_token_grant_refresh_token_lifespan: '720h',
  };
}
