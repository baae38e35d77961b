// The one semantic validator of client metadata, driven by CLIENT_FIELDS. Both
// doors (the admin API and DCR) call it after their own restrictions; it
// returns the normalised metadata with defaults applied or throws an OAuthError.
import { clientMetadataError, redirectUriError } from '../common/oauth-error.js';
import { fieldDef, JWT_BEARER_GRANT, SECRET_SIGNING_ALGS, splitLocalized, TOKEN_EXCHANGE_GRANT, type ClientFields, type FieldDef } from './client-metadata.js';
import { goDurationSeconds, MAX_LIFESPAN_SECONDS, UNSERVED_LIFESPANS } from './lifespans.js';

export interface ValidationOptions {
  /** Scope given to a client that asks for none. */
  defaultScope: string;
  /** Accept `http://localhost` redirect URIs for web clients. */
  allowLocalhostRedirects: boolean;
  /** When set, every requested scope must be in this list. */
  allowedScopes?: readonly string[];
  /**
   * When set, every audience the client names must be in this list (an empty
   * list allows none); unset = any audience (the admin door).
   */
  allowedAudiences?: readonly string[];
  /**
   * Grant types this caller may not put in grant_types, each with the reason
   * (the DCR door: grants that only an admin may give a client).
   */
  refusedGrantTypes?: Readonly<Record<string, string>>;
}

const MAX_STRING = 2000;
const MAX_URL = 2048;
const MAX_METADATA_BYTES = 16 * 1024;
const MAX_JWKS_KEYS = 20;
const LANGUAGE_TAG = /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const LOOPBACK_IPS = new Set(['127.0.0.1', '[::1]']);

type Normaliser = (name: string, value: unknown, def: FieldDef) => unknown;

function fail(name: string, message: string): never {
  throw clientMetadataError(`${name} ${message}`);
}

function stringValue(name: string, value: unknown, max = MAX_STRING): string {
  if (typeof value !== 'string') fail(name, 'must be a string');
  if (value.length > max) fail(name, `must be at most ${max} characters`);
  return value;
}

function listValue(name: string, value: unknown, def: FieldDef): unknown[] {
  if (!Array.isArray(value)) fail(name, 'must be an array');
  const max = def.maxItems ?? 50;
  if (value.length > max) fail(name, `must have at most ${max} entries`);
  return value;
}

function parseAbsoluteUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function httpsUrl(name: string, value: unknown): string {
  const s = stringValue(name, value, MAX_URL);
  const url = parseAbsoluteUrl(s);
  if (!url || url.protocol !== 'https:') fail(name, 'must be an absolute https URL');
  if (url.hash) fail(name, 'must not contain a fragment');
  return s;
}

function isLoopbackHost(hostname: string, allowLocalhost: boolean): boolean {
  return LOOPBACK_IPS.has(hostname) || (allowLocalhost && hostname === 'localhost');
}

/** RFC 7591 §2 + RFC 8252 §7: what a redirect URI may look like for each application type. */
function checkRedirectUri(name: string, uri: string, nativeApp: boolean, allowLocalhost: boolean): void {
  const url = parseAbsoluteUrl(uri);
  if (!url) throw redirectUriError(`${name}: ${JSON.stringify(uri)} is not an absolute URI`);
  if (url.hash || uri.includes('#')) throw redirectUriError(`${name}: ${uri} must not contain a fragment`);
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:') {
    if (isLoopbackHost(url.hostname, nativeApp || allowLocalhost)) return;
    throw redirectUriError(
      `${name}: ${uri} uses http; only https${nativeApp ? ', loopback http' : ', or http on 127.0.0.1 or [::1],'} is allowed`,
    );
  }
  const scheme = url.protocol.slice(0, -1);
  if (nativeApp && scheme.includes('.')) return;
  throw redirectUriError(
    nativeApp
      ? `${name}: ${uri} uses a private-use scheme that is not in reverse domain notation (RFC 8252 §7.1)`
      : `${name}: ${uri} uses the ${scheme} scheme; web clients need https`,
  );
}

function checkJwks(name: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(name, 'must be a JWK Set object');
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) fail(name, 'must have a non-empty "keys" array');
  if (keys.length > MAX_JWKS_KEYS) fail(name, `must have at most ${MAX_JWKS_KEYS} keys`);
  keys.forEach((key: unknown, i) => {
    if (key === null || typeof key !== 'object' || Array.isArray(key)) fail(name, `key ${i} must be a JWK object`);
    const jwk = key as Record<string, unknown>;
    const priv = PRIVATE_JWK_MEMBERS.find((m) => m in jwk);
    if (priv) fail(name, `key ${i} carries the private or symmetric member "${priv}"; register public keys only`);
    const needs: Record<string, string[]> = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'] };
    const required = typeof jwk.kty === 'string' ? needs[jwk.kty] : undefined;
    if (!required) fail(name, `key ${i} has an unsupported kty (RSA, EC or OKP)`);
    for (const m of required) {
      if (typeof jwk[m] !== 'string' || jwk[m] === '') fail(name, `key ${i} lacks its "${m}" member`);
    }
  });
  if (JSON.stringify(value).length > MAX_METADATA_BYTES * 4) fail(name, 'is too large');
  return value as Record<string, unknown>;
}

function checkScope(name: string, value: unknown): string {
  const s = stringValue(name, value).trim();
  const scopes = s.split(/ +/).filter((t) => t !== '');
  for (const token of scopes) if (!SCOPE_TOKEN.test(token)) fail(name, `contains the invalid scope token ${JSON.stringify(token)}`);
  return [...new Set(scopes)].join(' ');
}

/**
 * Hydra's per-client lifespans: empty means the ttl.* default. One for a grant
 * Registrar does not implement could change nothing, so it is refused rather
 * than stored and ignored.
 */
function lifespanValue(name: string, value: unknown): string {
  const s = stringValue(name, value, 64);
  if (s === '') return s;
  const seconds = goDurationSeconds(s);
  if (seconds === undefined) fail(name, 'must be a duration such as 1h, 30m or 1h30m0s');
  if (UNSERVED_LIFESPANS.includes(name)) {
    fail(name, 'names a grant this server does not implement; leave it out or send an empty string');
  }
  if (seconds < 1 || seconds > MAX_LIFESPAN_SECONDS) fail(name, `must be between 1s and ${MAX_LIFESPAN_SECONDS / 3600}h`);
  return s;
}

const NORMALISERS: Record<FieldDef['kind'], Normaliser> = {
  string: (name, value, def) => stringValue(name, value, def.maxLength),
  url: (name, value) => httpsUrl(name, value),
  urls: (name, value, def) => listValue(name, value, def).map((v) => httpsUrl(name, v)),
  // Redirect URI rules depend on application_type; they are checked once all fields are known.
  redirect_uris: (name, value, def) => listValue(name, value, def).map((v) => stringValue(name, v, MAX_URL)),
  strings: (name, value, def) => listValue(name, value, def).map((v) => stringValue(name, v)),
  boolean: (name, value) => {
    if (typeof value !== 'boolean') fail(name, 'must be a boolean');
    return value;
  },
  max_age: (name, value) => {
    if (value === null) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      fail(name, 'must be a non-negative integer or null');
    }
    return value;
  },
  enum: (name, value, def) => {
    if (typeof value !== 'string' || !def.values!.includes(value)) {
      fail(name, `must be one of ${def.values!.join(', ')}`);
    }
    return value;
  },
  enum_list: (name, value, def) => {
    const items = listValue(name, value, def);
    for (const v of items) {
      if (typeof v !== 'string' || !def.values!.includes(v)) {
        fail(name, `has the unsupported value ${JSON.stringify(v)}; supported: ${def.values!.join(', ')}`);
      }
    }
    return [...new Set(items as string[])];
  },
  scope: checkScope,
  jwks: checkJwks,
  origins: (name, value, def) =>
    listValue(name, value, def).map((v) => {
      const s = stringValue(name, v, MAX_URL);
      const url = parseAbsoluteUrl(s);
      if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== s.replace(/\/$/, '')) {
        fail(name, `entry ${JSON.stringify(s)} must be an origin such as https://app.example.com`);
      }
      return url.origin;
    }),
  lifespan: lifespanValue,
  object: (name, value) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(name, 'must be a JSON object');
    if (JSON.stringify(value).length > MAX_METADATA_BYTES) fail(name, `must serialise to at most ${MAX_METADATA_BYTES} bytes`);
    return value;
  },
};

function normaliseFields(input: Record<string, unknown>): ClientFields {
  const out: ClientFields = {};
  for (const [name, value] of Object.entries(input)) {
    const def = fieldDef(name);
    if (!def || def.setBy === 'server') continue; // unknown fields are ignored (RFC 7591 §2)
    if (value === undefined || (value === null && def.kind !== 'max_age')) continue;
    const { tag } = splitLocalized(name);
    if (tag !== undefined && !LANGUAGE_TAG.test(tag)) fail(name, `has an invalid BCP 47 language tag "${tag}"`);
    if (def.unserved !== undefined) {
      if (asksForFeature(value)) fail(name, `is refused: ${def.unserved}`);
      out[name] = value; // an empty value asks for nothing; kept as sent, so clients round-trip
      continue;
    }
    out[name] = NORMALISERS[def.kind](name, value, def);
  }
  return out;
}

/** A value that would ask for a feature: anything but empty, false or an empty list (which Hydra's SDK may send). */
function asksForFeature(value: unknown): boolean {
  return !(value === '' || value === false || (Array.isArray(value) && value.length === 0));
}

function applyDefaults(fields: ClientFields, opts: ValidationOptions): void {
  fields.grant_types ??= ['authorization_code'];
  const grants = fields.grant_types as string[];
  // A machine client (no browser-based grant) needs no response types and no redirect URIs.
  fields.response_types ??= grants.includes('authorization_code') ? ['code'] : [];
  fields.redirect_uris ??= [];
  fields.token_endpoint_auth_method ??= 'client_secret_basic';
  fields.application_type ??= 'web';
  fields.subject_type ??= 'public';
  fields.scope ??= opts.defaultScope;
  for (const name of ['audience', 'contacts', 'allowed_cors_origins', 'post_logout_redirect_uris']) fields[name] ??= [];
}

function checkGrantsAndResponses(fields: ClientFields): void {
  const grants = fields.grant_types as string[];
  for (const rt of fields.response_types as string[]) {
    const parts = rt.split(' ');
    if (parts.includes('code') && !grants.includes('authorization_code')) {
      fail('response_types', `value "${rt}" needs the authorization_code grant type`);
    }
    if ((parts.includes('token') || parts.includes('id_token')) && !grants.includes('implicit')) {
      fail('response_types', `value "${rt}" needs the implicit grant type`);
    }
  }
  if (grants.includes('refresh_token') && !grants.includes('authorization_code')) {
    fail('grant_types', 'refresh_token needs the authorization_code grant type');
  }
}

function checkRedirects(fields: ClientFields, opts: ValidationOptions): void {
  const grants = fields.grant_types as string[];
  const redirects = fields.redirect_uris as string[];
  if ((grants.includes('authorization_code') || grants.includes('implicit')) && redirects.length === 0) {
    throw redirectUriError('redirect_uris is required for the authorization_code and implicit grant types');
  }
  const native = fields.application_type === 'native';
  for (const name of ['redirect_uris', 'post_logout_redirect_uris']) {
    for (const uri of fields[name] as string[]) checkRedirectUri(name, uri, native, opts.allowLocalhostRedirects);
  }
  if (fields.subject_type === 'pairwise' && fields.sector_identifier_uri === undefined) {
    const hosts = new Set(redirects.map((u) => new URL(u).host));
    if (hosts.size > 1) {
      throw redirectUriError('pairwise clients whose redirect_uris span several hosts need a sector_identifier_uri');
    }
  }
}

function checkAuthentication(fields: ClientFields): void {
  const method = fields.token_endpoint_auth_method;
  const grants = fields.grant_types as string[];
  if (fields.jwks !== undefined && fields.jwks_uri !== undefined) fail('jwks', 'and jwks_uri are mutually exclusive');
  // These grants issue tokens on the strength of the client's own authentication, which a public client has not.
  for (const grant of ['client_credentials', JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT]) {
    if (method === 'none' && grants.includes(grant)) {
      fail('token_endpoint_auth_method', `none cannot be used with the ${grant} grant type`);
    }
  }
  if (method === 'private_key_jwt' && fields.jwks === undefined && fields.jwks_uri === undefined) {
    fail('token_endpoint_auth_method', 'private_key_jwt needs jwks or jwks_uri');
  }
  const alg = fields.token_endpoint_auth_signing_alg;
  if (alg !== undefined) {
    if (method !== 'private_key_jwt' && method !== 'client_secret_jwt') {
      fail('token_endpoint_auth_signing_alg', 'only applies to private_key_jwt and client_secret_jwt');
    }
    // An HMAC is keyed with the secret, a signature with the client's public key: each method takes only its own.
    const hmac = SECRET_SIGNING_ALGS.includes(alg as string);
    if (method === 'client_secret_jwt' && !hmac) {
      fail('token_endpoint_auth_signing_alg', `must be one of ${SECRET_SIGNING_ALGS.join(', ')} for client_secret_jwt`);
    }
    if (method === 'private_key_jwt' && hmac) {
      fail('token_endpoint_auth_signing_alg', `${String(alg)} is an HMAC algorithm; private_key_jwt needs an asymmetric one`);
    }
  }
}

function checkScopesAllowed(fields: ClientFields, opts: ValidationOptions): void {
  if (!opts.allowedScopes) return;
  const scope = fields.scope as string;
  const refused = scope.split(' ').filter((s) => s !== '' && !opts.allowedScopes!.includes(s));
  if (refused.length > 0) fail('scope', `contains scopes that are not allowed: ${refused.join(' ')}`);
}

function checkGrantTypesAllowed(fields: ClientFields, opts: ValidationOptions): void {
  const refused = opts.refusedGrantTypes ?? {};
  for (const grant of fields.grant_types as string[]) {
    if (Object.hasOwn(refused, grant)) fail('grant_types', `may not contain ${grant}: ${refused[grant]}`);
  }
}

function checkAudiencesAllowed(fields: ClientFields, opts: ValidationOptions): void {
  if (!opts.allowedAudiences) return;
  const refused = (fields.audience as string[]).filter((a) => !opts.allowedAudiences!.includes(a));
  if (refused.length > 0) {
    fail(
      'audience',
      `names audiences a registrant may not request: ${refused.join(' ')} (oidc.dynamic_client_registration.allowed_audiences or a policy's allowed_audiences decides)`,
    );
  }
}

/** Validates metadata and applies defaults; server-computed and unknown fields are dropped. */
export function validateClientMetadata(input: Record<string, unknown>, opts: ValidationOptions): ClientFields {
  const fields = normaliseFields(input);
  applyDefaults(fields, opts);
  checkGrantsAndResponses(fields);
  checkRedirects(fields, opts);
  checkAuthentication(fields);
  checkGrantTypesAllowed(fields, opts);
  checkScopesAllowed(fields, opts);
  checkAudiencesAllowed(fields, opts);
  return fields;
}

/** Validates one field's value on its own (values an operator stores in a policy's defaults or force). */
export function normaliseField(name: string, value: unknown): unknown {
  const def = fieldDef(name);
  if (!def || def.setBy !== 'registrant') fail(name, 'is not client metadata a registrant may set');
  if (value === null && def.kind !== 'max_age') fail(name, 'must not be null');
  return NORMALISERS[def.kind](name, value, def);
}

/** True when a client authenticates with a shared secret. */
export function usesClientSecret(fields: ClientFields): boolean {
  const method = fields.token_endpoint_auth_method;
  return method === 'client_secret_basic' || method === 'client_secret_post' || method === 'client_secret_jwt';
}
