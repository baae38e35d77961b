// The table of client metadata fields: what each field holds, its default, who
// may set it and where it is shown. The validator (client-validator.ts), the
// admin API and the registration endpoints all read this one table.

/** RFC 7523 §2.1: an assertion from a trusted issuer as the authorization grant. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** RFC 8693 §2.1: token exchange. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'implicit', JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT] as const;
export const RESPONSE_TYPES = [
  'code',
  'id_token',
  'token',
  'code id_token',
  'code token',
  'id_token token',
  'code id_token token',
  'none',
] as const;
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** Algorithms accepted from clients (assertions, request objects); also advertised in discovery. */
export const CLIENT_SIGNING_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
/** HMAC algorithms of client_secret_jwt assertions, keyed with the client secret (RFC 7523 §2.2, OIDC Core §9). */
export const SECRET_SIGNING_ALGS = ['HS256', 'HS384', 'HS512'];
/** Algorithms of client assertions at the token, introspection and revocation endpoints; also advertised in discovery. */
export const CLIENT_AUTH_SIGNING_ALGS = [...CLIENT_SIGNING_ALGS, ...SECRET_SIGNING_ALGS];
/** Algorithms Registrar can sign ID tokens and userinfo responses with. */
export const SERVER_SIGNING_ALGS = ['RS256', 'ES256', 'EdDSA'];

export type FieldKind =
  | 'string'
  | 'url' // absolute https URL
  | 'redirect_uris'
  | 'urls' // list of absolute https URLs
  | 'strings'
  | 'boolean'
  | 'max_age' // non-negative integer or null
  | 'enum'
  | 'enum_list'
  | 'scope'
  | 'jwks'
  | 'origins'
  | 'lifespan'
  | 'object';

/**
 * Who may set a field:
 * - `registrant`: anyone, through DCR or the admin API;
 * - `admin`: only through the admin API (a DCR body carrying it is refused);
 * - `server`: nobody; the server computes it (the admin API ignores it, DCR refuses it).
 */
export type SetBy = 'registrant' | 'admin' | 'server';

export interface FieldDef {
  kind: FieldKind;
  setBy: SetBy;
  /** Shown in RFC 7591/7592 responses (admin responses show every field). */
  dcrVisible: boolean;
  values?: readonly string[];
  /** Accepts BCP 47 language-tagged variants, e.g. `client_name#fr`. */
  localizable?: boolean;
  /** Longest list accepted. */
  maxItems?: number;
  /** Longest string accepted, when not the default. */
  maxLength?: number;
  /**
   * Set for a standard field whose feature Registrar does not serve: a value
   * that would ask for it (a URI, `true`, a non-empty list) is refused with
   * this reason instead of being stored and ignored.
   */
  unserved?: string;
}

const registrant = (kind: FieldKind, extra: Partial<FieldDef> = {}): FieldDef => ({
  kind,
  setBy: 'registrant',
  dcrVisible: true,
  ...extra,
});
// Operator fields are not shown to registrants: what RFC 7592 GET returns, a PUT may send back.
const adminOnly = (kind: FieldKind, extra: Partial<FieldDef> = {}): FieldDef => ({
  kind,
  setBy: 'admin',
  dcrVisible: false,
  ...extra,
});
// Standard fields of features Registrar does not serve (README, "Where Registrar differs from Hydra").
const NO_REQUEST_OBJECTS = 'request objects are not supported (/oauth2/auth refuses request and request_uri)';
const NO_FRONTCHANNEL = 'front-channel logout is not supported: no logout notification would be sent';
const NO_BACKCHANNEL = 'back-channel logout is not supported: no logout token would be sent';
const serverSet = (dcrVisible: boolean): FieldDef => ({ kind: 'string', setBy: 'server', dcrVisible });

/** Hydra's per-client token lifespans, `<grant>_grant_<token>_lifespan` (lifespans.ts reads them). */
export const LIFESPANS = [
  'authorization_code_grant_access_token_lifespan',
  'authorization_code_grant_id_token_lifespan',
  'authorization_code_grant_refresh_token_lifespan',
  'client_credentials_grant_access_token_lifespan',
  'device_authorization_grant_access_token_lifespan',
  'device_authorization_grant_id_token_lifespan',
  'device_authorization_grant_refresh_token_lifespan',
  'implicit_grant_access_token_lifespan',
  'implicit_grant_id_token_lifespan',
  'jwt_bearer_grant_access_token_lifespan',
  'refresh_token_grant_access_token_lifespan',
  'refresh_token_grant_id_token_lifespan',
  'refresh_token_grant_refresh_token_lifespan',
];

export const CLIENT_FIELDS: Record<string, FieldDef> = {
  // RFC 7591 §2 and OpenID Connect Dynamic Client Registration §2
  redirect_uris: registrant('redirect_uris', { maxItems: 100 }),
  token_endpoint_auth_method: registrant('enum', { values: AUTH_METHODS }),
  grant_types: registrant('enum_list', { values: GRANT_TYPES }),
  response_types: registrant('enum_list', { values: RESPONSE_TYPES }),
  client_name: registrant('string', { localizable: true }),
  client_uri: registrant('url', { localizable: true }),
  logo_uri: registrant('url', { localizable: true }),
  policy_uri: registrant('url', { localizable: true }),
  tos_uri: registrant('url', { localizable: true }),
  scope: registrant('scope'),
  contacts: registrant('strings', { maxItems: 20 }),
  jwks: registrant('jwks'),
  jwks_uri: registrant('url'),
  software_id: registrant('string'),
  software_version: registrant('string'),
  // One running installation of the software (README "Re-registration and recovering a registration
  // access token"): with software_id, the key a policy's reregistration rule may match clients by.
  software_instance_id: registrant('string', { maxLength: 255 }),
  // RFC 7591 §2.3: kept as sent and returned unmodified; its verified claims are applied at registration.
  software_statement: registrant('string', { maxLength: 16_384 }),
  application_type: registrant('enum', { values: ['web', 'native'] }),
  sector_identifier_uri: registrant('url'),
  subject_type: registrant('enum', { values: ['public', 'pairwise'] }),
  id_token_signed_response_alg: registrant('enum', { values: SERVER_SIGNING_ALGS }),
  userinfo_signed_response_alg: registrant('enum', { values: ['none', ...SERVER_SIGNING_ALGS] }),
  request_object_signing_alg: registrant('enum', { values: ['none', ...CLIENT_SIGNING_ALGS], unserved: NO_REQUEST_OBJECTS }),
  token_endpoint_auth_signing_alg: registrant('enum', { values: CLIENT_AUTH_SIGNING_ALGS }),
  default_max_age: registrant('max_age'),
  require_auth_time: registrant('boolean'),
  default_acr_values: registrant('strings', { maxItems: 20 }),
  initiate_login_uri: registrant('url'),
  request_uris: registrant('urls', { maxItems: 20, unserved: NO_REQUEST_OBJECTS }),
  post_logout_redirect_uris: registrant('redirect_uris', { maxItems: 100 }),
  frontchannel_logout_uri: registrant('url', { unserved: NO_FRONTCHANNEL }),
  frontchannel_logout_session_required: registrant('boolean', { unserved: NO_FRONTCHANNEL }),
  backchannel_logout_uri: registrant('url', { unserved: NO_BACKCHANNEL }),
  backchannel_logout_session_required: registrant('boolean', { unserved: NO_BACKCHANNEL }),
  allowed_cors_origins: registrant('origins', { maxItems: 50 }),
  audience: registrant('strings', { maxItems: 50 }),
  // RFC 9449 §5.2: the client always sends DPoP proofs; its token requests without one are refused.
  dpop_bound_access_tokens: registrant('boolean'),

  // Operator-controlled (Hydra's privileged fields)
  owner: adminOnly('string'),
  metadata: adminOnly('object'),
  skip_consent: adminOnly('boolean'),
  skip_logout_consent: adminOnly('boolean'),
  ...Object.fromEntries(LIFESPANS.map((name) => [name, adminOnly('lifespan')])),
  // Policies applied to the clients this client registers with its access tokens (README "Registering with an access token").
  registered_client_policies: adminOnly('strings', { maxItems: 20 }),

  // Computed by the server
  client_id: serverSet(true),
  client_secret: serverSet(true),
  client_id_issued_at: serverSet(true),
  client_secret_expires_at: serverSet(true),
  // When each valid secret was issued and expires (README "Rotating client secrets"); admin responses only.
  client_secrets: serverSet(false),
  registration_access_token: serverSet(true),
  registration_client_uri: serverSet(true),
  access_token_strategy: serverSet(false),
  // The access token's client and subject that authorised a registration; admin responses only.
  registered_by: serverSet(false),
  created_at: serverSet(false),
  updated_at: serverSet(false),
};


/** Splits `client_name#fr` into its base field and language tag. */
export function splitLocalized(name: string): { base: string; tag?: string } {
  const i = name.indexOf('#');
  return i < 0 ? { base: name } : { base: name.slice(0, i), tag: name.slice(i + 1) };
}

/** The table entry for a field name, including language-tagged variants of localizable fields. */
export function fieldDef(name: string): FieldDef | undefined {
  // Own properties only: "constructor" or "__proto__" in a body are unknown fields, not table entries.
  if (Object.hasOwn(CLIENT_FIELDS, name)) return CLIENT_FIELDS[name];
  const { base, tag } = splitLocalized(name);
  const def = Object.hasOwn(CLIENT_FIELDS, base) ? CLIENT_FIELDS[base] : undefined;
  return tag !== undefined && def?.localizable ? def : undefined;
}

/** Any field name that would let a caller choose how tokens are formatted. */
export function isStrategyField(name: string): boolean {
  return /strateg/i.test(name);
}

export type ClientFields = Record<string, unknown>;
