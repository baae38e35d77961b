// The one configuration schema: every key Registrar reads, its parser, its
// default and a line saying what it means. `.env.example` is generated from it
// (test/unit/config.spec.ts keeps the two in step).
import { auditWebhooks } from '../audit/webhook-config.js';
import { boolean, duration, httpUrl, integer, list, oneOf, postgresUrl, rateLimit, scopeToken, text, trustedIssuers, type Parser } from './parsers.js';

export interface KeyDef<T> {
  parse: Parser<T>;
  default: T | undefined;
  doc: string;
  /** Extra environment variable names accepted for this key (the canonical one wins). */
  aliases?: string[];
  /** How the default reads in documentation, when it is computed rather than fixed. */
  defaultText?: string;
  /** Never printed in errors or documentation examples. */
  secret?: boolean;
}

/** A key's definition; its type remembers whether there is a default, so a key with one reads as never undefined. */
function key<T, D extends T | undefined>(parse: Parser<T>, dflt: D, doc: string, extra: Partial<KeyDef<T>> = {}): KeyDef<T> & { default: D } {
  return { parse, doc, ...extra, default: dflt };
}

export const ACCESS_TOKEN_STRATEGIES = ['opaque', 'jwt'] as const;
export type AccessTokenStrategy = (typeof ACCESS_TOKEN_STRATEGIES)[number];

const strategy = oneOf(...ACCESS_TOKEN_STRATEGIES);

export const SCHEMA = {
  'serve.public.port': key(integer(1, 65535), 4444, 'TCP port of the HTTP server', {
    aliases: ['PORT'],
  }),
  'serve.public.host': key(text, undefined, 'Interface the HTTP server listens on', {
    defaultText: '127.0.0.1 outside production (the development pages sign anyone in), 0.0.0.0 in production',
  }),
  'serve.public.request_body_limit': key(
    integer(1024, 10 * 1024 * 1024),
    65536,
    'Largest accepted request body in bytes; larger bodies get 413',
  ),
  'serve.public.cors.allowed_origins': key(
    list(text),
    [],
    'Origins (or *) whose browsers may call the registration, token, introspection, revocation, userinfo, discovery and JWKS endpoints',
  ),
  'serve.public.trusted_proxies': key(
    list(text),
    [],
    'Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed (for rate limiting)',
  ),
  'serve.admin.port': key(
    integer(1, 65535),
    undefined,
    'TCP port of a private admin listener; when set, /admin/*, /metrics and /docs* answer only there (404 on the public port) and every other route only on the public port',
  ),
  'serve.admin.host': key(text, undefined, 'Interface the admin listener listens on', {
    defaultText: '127.0.0.1 outside production, 0.0.0.0 in production',
  }),
  'serve.docs.enabled': key(boolean, true, 'Serve Swagger UI at /docs and the OpenAPI document at /docs-json and /docs-yaml; false = 404'),
  'serve.shutdown_delay': key(duration(false), 0, 'On SIGTERM, how long readiness answers 503 before the server stops accepting'),
  'serve.shutdown_timeout': key(duration(), 10, 'On SIGTERM, how long in-flight requests may take before connections are closed', {
    defaultText: '10s',
  }),
  'urls.self.issuer': key(httpUrl, undefined, 'Issuer URL; also the base of registration_client_uri', {
    defaultText: 'http://127.0.0.1:<serve.public.port>',
  }),
  'urls.self.allow_insecure_issuer': key(
    boolean,
    false,
    'Let NODE_ENV=production start with an http issuer (e.g. behind a TLS-terminating proxy that rewrites nothing)',
  ),
  'urls.login': key(httpUrl, undefined, 'Login app: /oauth2/auth sends the browser here with a login_challenge', {
    defaultText: 'the built-in development page outside production',
  }),
  'urls.consent': key(httpUrl, undefined, 'Consent app: the browser is sent here with a consent_challenge', {
    defaultText: 'the built-in development page outside production',
  }),
  'urls.post_logout_redirect': key(
    httpUrl,
    undefined,
    'Where logout ends when the client names no post_logout_redirect_uri; unset = a built-in signed-out page',
  ),
  'oauth2.authorization_code.enabled': key(
    boolean,
    true,
    'Serve the authorization code flow (/oauth2/auth, login and consent, refresh tokens, ID tokens, userinfo)',
  ),
  'oauth2.client_secret.rotation_overlap': key(
    duration(false),
    86400,
    'After a client secret rotation, how long the previous secret keeps authenticating; 0 = it stops at once',
    { defaultText: '24h' },
  ),
  'oauth2.pkce.enforced': key(boolean, false, 'Require PKCE (S256) from every client, not only from public ones'),
  'oauth2.dpop.proof_max_age': key(
    duration(),
    60,
    'How old a DPoP proof (RFC 9449) may be, by its iat, at the token and userinfo endpoints; 5 s of clock skew are allowed on top',
    { defaultText: '60s' },
  ),
  'oauth2.dpop.require_nonce': key(
    boolean,
    false,
    'Require a server-provided nonce in every DPoP proof (RFC 9449 §8): a proof without the current one gets use_dpop_nonce and a DPoP-Nonce header',
  ),
  'oauth2.untrusted_client_errors': key(
    oneOf('redirect', 'page'),
    'redirect',
    'How /oauth2/auth reports errors for DCR clients before the user interacted: redirect (RFC 6749) or an HTML error page (no open redirector, RFC 9700 §4.11.2)',
  ),
  'oauth2.grant.jwt.enabled': key(
    boolean,
    true,
    'Serve the JWT bearer grant (RFC 7523 §2.1) to clients an admin gave urn:ietf:params:oauth:grant-type:jwt-bearer, for issuers trusted under /admin/trust/grants/jwt-bearer/issuers',
  ),
  'oauth2.grant.jwt.max_ttl': key(duration(), 3600, 'Latest exp accepted in a JWT bearer grant assertion, counted from now', {
    defaultText: '1h',
  }),
  'oauth2.grant.jwt.allow_dynamic_registration': key(
    boolean,
    false,
    'Let DCR registrants put the jwt-bearer grant type in grant_types; false = only admins can give it',
  ),
  'oauth2.grant.token_exchange.enabled': key(
    boolean,
    true,
    'Serve token exchange (RFC 8693) to clients an admin gave urn:ietf:params:oauth:grant-type:token-exchange',
  ),
  dsn: key(postgresUrl, undefined, 'PostgreSQL connection URL; unset = the embedded database in data_dir', {
    aliases: ['DATABASE_URL'],
    secret: true,
  }),
  data_dir: key(text, './data', 'Directory of the embedded database and of generated development secrets', {
    aliases: ['DATA_DIR'],
  }),
  'database.migrate_on_start': key(boolean, true, 'Apply pending migrations when the service starts'),
  'database.pool_size': key(integer(1, 200), 10, 'PostgreSQL connection pool size (the embedded database uses 1)'),
  'secrets.system': key(list(text), undefined, 'System secrets: the first encrypts and keys hashes, all decrypt', {
    defaultText: 'generated into data_dir outside production',
    secret: true,
  }),
  'admin.api_keys': key(list(text), undefined, 'Bearer keys accepted on /admin routes', {
    defaultText: 'generated into data_dir outside production',
    secret: true,
  }),
  'strategies.access_token': key(strategy, 'opaque', 'Access token format for clients that carry no strategy of their own'),
  'ttl.access_token': key(duration(), 3600, 'Access token lifetime', { defaultText: '1h' }),
  'ttl.refresh_token': key(duration(), 720 * 3600, 'Refresh token lifetime', { defaultText: '720h' }),
  'ttl.id_token': key(duration(), 3600, 'ID token lifetime', { defaultText: '1h' }),
  'ttl.auth_code': key(duration(), 600, 'Authorization code lifetime', { defaultText: '10m' }),
  'ttl.login_consent_request': key(duration(), 1800, 'How long a login or consent challenge can be answered', {
    defaultText: '30m',
  }),
  'oidc.dynamic_client_registration.enabled': key(boolean, true, 'Serve the RFC 7591/7592 registration endpoints'),
  'oidc.dynamic_client_registration.default_scope': key(
    list(text),
    [],
    'Scopes given to a client registered through DCR that asks for none',
  ),
  'oidc.dynamic_client_registration.allowed_scopes': key(
    list(text),
    undefined,
    'Scopes a registrant may ask for; unset = any syntactically valid scope',
  ),
  'oidc.dynamic_client_registration.allowed_audiences': key(
    list(text),
    undefined,
    'Audiences a registrant may name; unset = a DCR client may name no audience (admins may set any)',
  ),
  'oidc.dynamic_client_registration.allow_localhost_redirects': key(
    boolean,
    false,
    'Accept http://localhost redirect URIs from web clients (loopback IPs are always accepted)',
  ),
  'oidc.dynamic_client_registration.initial_access_token.required': key(
    boolean,
    true,
    'Registration needs an initial access token; false opens anonymous registration',
  ),
  'oidc.dynamic_client_registration.access_token.scope': key(
    scopeToken,
    undefined,
    'Scope of an access token issued by this server that authorises POST /oauth2/register in place of an initial access token (README "Registering with an access token"); unset = off',
  ),
  'oidc.dynamic_client_registration.registration_access_token.enabled': key(
    boolean,
    true,
    'Issue registration access tokens and serve the RFC 7592 management endpoints',
  ),
  'oidc.dynamic_client_registration.registration_access_token.rotate': key(
    boolean,
    true,
    'Replace the registration access token on every RFC 7592 update',
  ),
  'oidc.dynamic_client_registration.registration_access_token.recovery': key(
    boolean,
    true,
    'A DCR client on private_key_jwt that lost its registration access token may get a new one with a client assertion',
  ),
  'oidc.dynamic_client_registration.registration_access_token.ttl': key(
    duration(),
    undefined,
    'Lifetime of registration access tokens; unset = they do not expire',
  ),
  'oidc.dynamic_client_registration.client_secret.expires_in': key(
    duration(),
    undefined,
    'Lifetime of secrets of clients registered through DCR; unset = they do not expire',
  ),
  'oidc.dynamic_client_registration.policies': key(
    list(text),
    [],
    'Policies applied to every DCR request, before those named by the initial access token',
  ),
  'oidc.dynamic_client_registration.software_statement.trusted_issuers': key(
    trustedIssuers,
    [],
    'Issuers whose software statements are accepted: JSON array of {"issuer", "jwks" | "jwks_uri"}',
  ),
  'oidc.dynamic_client_registration.software_statement.on_invalid': key(
    oneOf('suspend', 'delete', 'report'),
    'suspend',
    'What the janitor does with a client whose software statement expired or whose issuer is no longer trusted: suspend, delete, or report (log only)',
  ),
  'oidc.dynamic_client_registration.rate_limit': key(
    rateLimit,
    { limit: 60, windowSeconds: 60 },
    'Registrations allowed per caller address, e.g. 20/1m; 0 = no limit',
    { defaultText: '60/1m' },
  ),
  'oidc.dynamic_client_registration.inactive_client_ttl': key(
    duration(),
    undefined,
    'Delete DCR clients with no token issued and no management call for this long; unset = never',
  ),
  'oidc.dynamic_client_registration.strategies.access_token': key(
    strategy,
    undefined,
    'Access token format stored on clients registered through DCR; unset = they follow strategies.access_token',
  ),
  'oidc.client_id_metadata_document.enabled': key(
    boolean,
    false,
    'Accept an https URL as client_id and read the client from the Client ID Metadata Document it serves (never stored as a client)',
  ),
  'oidc.client_id_metadata_document.allowed_hosts': key(
    list(text),
    [],
    'Hosts whose client_id URLs are accepted: exact names, *.example.com for any subdomain, or * for any host; empty = none',
  ),
  'oidc.client_id_metadata_document.max_bytes': key(
    integer(256, 1024 * 1024),
    5120,
    'Size limit of a Client ID Metadata Document, in bytes; a larger one is refused',
  ),
  'oidc.client_id_metadata_document.cache.min_ttl': key(
    duration(false),
    60,
    'Shortest time a fetched document is reused, whatever its Cache-Control or Expires says (except no-store and no-cache)',
    { defaultText: '1m' },
  ),
  'oidc.client_id_metadata_document.cache.max_ttl': key(
    duration(false),
    3600,
    'Longest time a fetched document is reused before it is fetched again',
    { defaultText: '1h' },
  ),
  'janitor.interval': key(duration(false), 300, 'How often expired tokens, used-up IATs and inactive clients are deleted; 0 = never', {
    defaultText: '5m',
  }),
  'janitor.batch_size': key(integer(10, 100_000), 1000, 'Rows deleted per statement by the janitor'),
  'redis.url': key(text, undefined, 'Redis URL (redis://host:6379) for shared rate-limit counters; unset = PostgreSQL'),
  'fetch.allow_private_networks': key(
    boolean,
    false,
    'Let server-side fetches (sector_identifier_uri, jwks_uri) reach private, loopback and link-local addresses',
  ),
  'fetch.timeout': key(duration(), 5, 'Time limit of one server-side fetch', { defaultText: '5s' }),
  'fetch.max_bytes': key(integer(1024, 100 * 1024 * 1024), 5 * 1024 * 1024, 'Size limit of one server-side fetch, in bytes'),
  'fetch.max_concurrent': key(
    integer(1, 1000),
    16,
    'Server-side fetches in flight at once per instance; a registration that needs one beyond it gets 503 temporarily_unavailable',
  ),
  'fetch.ca_file': key(text, undefined, 'PEM file of extra CA certificates trusted by server-side fetches'),
  'jwt.signing_algorithm': key(
    oneOf('RS256', 'ES256', 'EdDSA'),
    'RS256',
    'Algorithm of the signing key for JWT access tokens',
  ),
  'audit.log.enabled': key(boolean, true, 'Also write every audit event to the JSON log, as a line with msg "audit" (README "Audit events")'),
  'audit.retention': key(duration(), 90 * 86400, 'How long audit events and finished webhook deliveries are kept; the janitor deletes older ones', {
    defaultText: '90d',
  }),
  'audit.webhooks': key(
    auditWebhooks,
    [],
    'Receivers of audit events, signed with their secret: JSON array of {"url": "https://...", "secret": "...", "types": [...] (optional)}',
    { secret: true, defaultText: 'none' },
  ),
  'audit.delivery.interval': key(duration(), 5, 'How often each instance looks for audit webhook deliveries that are due', {
    defaultText: '5s',
  }),
  'audit.delivery.backoff': key(
    duration(),
    10,
    'Wait before the first retry of a failed audit webhook delivery; doubled at each attempt, with jitter, up to 1h',
    { defaultText: '10s' },
  ),
  'audit.delivery.max_attempts': key(integer(1, 100), 12, 'Attempts at one audit webhook delivery before it is marked failed'),
  'audit.delivery.max_age': key(duration(), 86400, 'Age after which an undelivered audit event is marked failed, whatever its attempts', {
    defaultText: '24h',
  }),
  'metrics.enabled': key(boolean, true, 'Serve Prometheus metrics at /metrics; false = 404'),
  'log.level': key(oneOf('debug', 'info', 'warn', 'error', 'silent'), 'info', 'Lowest level written to the JSON log'),
} satisfies Record<string, KeyDef<unknown>>;

export type ConfigKey = keyof typeof SCHEMA;
type ValueOf<D> = D extends KeyDef<infer T> ? T : never;
/** Keys with a default (and those load-config always fills in) are never undefined once loaded. */
type Filled = 'urls.self.issuer' | 'secrets.system' | 'admin.api_keys' | 'serve.public.host' | 'serve.admin.host';
type Loaded<K extends ConfigKey> = K extends Filled
  ? ValueOf<(typeof SCHEMA)[K]>
  : (typeof SCHEMA)[K] extends { default: undefined }
    ? ValueOf<(typeof SCHEMA)[K]> | undefined
    : ValueOf<(typeof SCHEMA)[K]>;
export type ConfigValues = { [K in ConfigKey]: Loaded<K> };

/** The environment variable name of a key: upper-cased, dots to underscores. */
export function envName(k: string): string {
  return k.toUpperCase().replace(/\./g, '_');
}
