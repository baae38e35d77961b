// Validation of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3,
// OIDC Core §3.1.2.1). Problems with the client or the redirect URI are
// answered as JSON; once the redirect URI is known, the rest are sent back to it.
import type { ClientEntity } from '../clients/client.entity.js';
import type { HttpRequest } from '../common/http.js';
import { OAuthError, type OAuthErrorCode } from '../common/oauth-error.js';
import { checkedResources, clientAudience } from '../common/resource-indicators.js';
import { grantedAudience, grantedScope, splitScope } from '../common/scopes.js';

/** What the flow keeps of a validated request (stored with the flow as JSON). */
export interface AuthorizationRequest {
  client_id: string;
  /** The redirect URI the response goes to. */
  redirect_uri: string;
  /** Whether the request named it (then the token request must repeat it, RFC 6749 §4.1.3). */
  redirect_uri_sent: boolean;
  scope: string[];
  /** The access token audience asked for: the `audience` values, then the `resource` values (RFC 8707). */
  audience: string[];
  state?: string;
  nonce?: string;
  code_challenge?: string;
  /** RFC 9449 §10: the thumbprint of the DPoP key the code is bound to. */
  dpop_jkt?: string;
  prompt: string[];
  max_age?: number;
  acr_values: string[];
  ui_locales: string[];
  login_hint?: string;
  display?: string;
  id_token_hint?: string;
  request_url: string;
}

/**
 * An error the authorization endpoint finds on its own, before the user has
 * been asked anything, and sends back to the client's redirect URI (RFC 6749
 * §4.1.2.1). Answers the login or consent app gave are not thrown: they always
 * go back to the client. With `oauth2.untrusted_client_errors: page`, these
 * errors are shown as a page for dynamically registered clients instead
 * (RFC 9700 §4.11.2: a redirect the user never took part in, to a URI anyone
 * could register, would make the endpoint an open redirector).
 */
export class RedirectableError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly redirectUri: string,
    readonly state: string | undefined,
    readonly clientId: string,
  ) {
    super(`${code}: ${description}`);
  }
}

const PROMPTS = ['none', 'login', 'consent', 'select_account'];
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const MAX_PARAM = 2048;

/**
 * RFC 8252 §7.3: a native app's loopback redirect URI matches with any port,
 * since the app listens on whichever port the system gives it; every other
 * redirect URI, a web client's loopback one included, must match a registered
 * one exactly (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3): on a shared host another
 * process may own another port.
 */
export function matchesRegisteredRedirect(requested: string, registered: readonly string[], options: { native: boolean }): boolean {
  if (registered.includes(requested)) return true;
  if (!options.native) return false;
  let url: URL;
  try {
    url = new URL(requested);
  } catch {
    return false;
  }
  // RFC 6749 §3.1.2: no fragment, not even an empty one; only the port may differ.
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname) || url.username || url.password || requested.includes('#')) return false;
  return registered.some((candidate) => {
    let reg: URL;
    try {
      reg = new URL(candidate);
    } catch {
      return false;
    }
    const withoutPort = (u: URL) => `${u.protocol}//${u.hostname}${u.pathname}${u.search}`;
    return reg.protocol === 'http:' && reg.hostname === url.hostname && withoutPort(reg) === withoutPort(url) && !reg.hash;
  });
}

/** The query string's parameters, repeats kept (they are refused later, RFC 6749 §3.1). */
export function queryOf(req: HttpRequest): URLSearchParams {
  const at = req.url.indexOf('?');
  return new URLSearchParams(at < 0 ? '' : req.url.slice(at + 1));
}

/** The query parameters, each at most once (RFC 6749 §3.1), except those named `repeatable`, which are left out. */
export function singleParams(query: URLSearchParams, repeatable: readonly string[] = []): { params: Map<string, string>; repeated: string[] } {
  const params = new Map<string, string>();
  const repeated: string[] = [];
  for (const [name, value] of query) {
    if (repeatable.includes(name)) continue;
    if (params.has(name)) repeated.push(name);
    else params.set(name, value);
  }
  return { params, repeated };
}

export interface RequestPolicy {
  pkceEnforced: boolean;
  requestUrl: string;
}

/** Throws the error back to the redirect URI (RFC 6749 §4.1.2.1). */
type Fail = (code: OAuthErrorCode, description: string) => never;

/**
 * Validates a request for `client`; throws OAuthError (JSON) before the
 * redirect URI is settled, RedirectableError after. The checks run in this
 * order, and the first that fails answers.
 */
export function validateAuthorizationRequest(
  client: ClientEntity,
  query: URLSearchParams,
  policy: RequestPolicy,
): AuthorizationRequest {
  // RFC 8707 §2: resource may be repeated, one URI per parameter.
  const { params, repeated } = singleParams(query, ['resource']);
  const redirectUri = redirectUriOf(client, params, repeated);
  const state = params.get('state');
  const fail: Fail = (code, description) => {
    throw new RedirectableError(code, description, redirectUri, state !== undefined && state.length <= MAX_PARAM ? state : undefined, client.id);
  };
  checkParameters(params, repeated, fail);
  checkNoRequestObject(params, fail);
  checkResponseType(client, params, fail);
  const scope = requestedScope(client, params, fail);
  const audience = [...new Set([...requestedAudience(client, params, fail), ...requestedResources(client, query, fail)])];
  const challenge = codeChallenge(client, params, policy, fail);
  const prompt = promptOf(params, fail);
  const maxAge = maxAgeOf(client, params, fail);

  return {
    client_id: client.id,
    redirect_uri: redirectUri,
    redirect_uri_sent: params.has('redirect_uri'),
    scope,
    audience,
    state,
    nonce: params.get('nonce'),
    code_challenge: challenge,
    dpop_jkt: dpopJkt(params, fail),
    prompt,
    max_age: maxAge,
    // OIDC Registration §2: the client's default_acr_values stand in when the request names none.
    acr_values: params.has('acr_values') ? splitScope(params.get('acr_values')) : ((client.fields.default_acr_values as string[] | undefined) ?? []),
    ui_locales: splitScope(params.get('ui_locales')),
    login_hint: params.get('login_hint'),
    display: params.get('display'),
    id_token_hint: params.get('id_token_hint'),
    request_url: policy.requestUrl,
  };
}

/**
 * The redirect URI the response goes to (RFC 6749 §3.1.2.3): the one sent,
 * when registered, or the only one registered. Answered as JSON, never
 * redirected, when it cannot be settled.
 */
function redirectUriOf(client: ClientEntity, params: Map<string, string>, repeated: string[]): string {
  for (const name of ['client_id', 'redirect_uri']) {
    if (repeated.includes(name)) throw new OAuthError('invalid_request', `${name} must not be repeated`);
  }
  const registered = (client.fields.redirect_uris as string[] | undefined) ?? [];
  const sent = params.get('redirect_uri');
  if (sent === undefined) {
    if (registered.length !== 1) throw new OAuthError('invalid_request', 'redirect_uri is required: the client registered more than one');
    return registered[0];
  }
  if (matchesRegisteredRedirect(sent, registered, { native: client.fields.application_type === 'native' })) return sent;
  throw new OAuthError('invalid_request', 'redirect_uri does not match any redirect URI registered for the client');
}

/** RFC 6749 §3.1: no parameter more than once; and none beyond a sane length. */
function checkParameters(params: Map<string, string>, repeated: string[], fail: Fail): void {
  if (repeated.length > 0) fail('invalid_request', `${[...new Set(repeated)].join(', ')} must not be repeated`);
  for (const [name, value] of params) {
    if (value.length > MAX_PARAM) fail('invalid_request', `${name} is longer than ${MAX_PARAM} characters`);
  }
}

/** OIDC Core §6: request objects, by value or by reference, are not supported (error codes of OIDC Core §3.1.2.6). */
function checkNoRequestObject(params: Map<string, string>, fail: Fail): void {
  if (params.has('request')) fail('request_not_supported', 'request objects are not supported');
  if (params.has('request_uri')) fail('request_uri_not_supported', 'request_uri is not supported');
}

/** RFC 6749 §4.1.1: response_type=code, answered on the query, for a client registered for the code flow. */
function checkResponseType(client: ClientEntity, params: Map<string, string>, fail: Fail): void {
  const responseType = params.get('response_type');
  if (!responseType) fail('invalid_request', 'response_type is required');
  if (responseType !== 'code') fail('unsupported_response_type', 'only response_type=code is supported');
  const responseMode = params.get('response_mode');
  if (responseMode !== undefined && responseMode !== 'query') fail('invalid_request', 'only response_mode=query is supported');
  const grants = (client.fields.grant_types as string[] | undefined) ?? [];
  const responseTypes = (client.fields.response_types as string[] | undefined) ?? [];
  if (!grants.includes('authorization_code') || !responseTypes.includes('code')) {
    fail('unauthorized_client', 'the client is not registered for the authorization code flow');
  }
}

/** The scope and audience checks throw OAuthError; here they go back to the redirect URI. */
function redirected<T>(fail: Fail, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof OAuthError) fail(err.code, err.description ?? err.code);
    throw err;
  }
}

/** RFC 6749 §3.3: within the client's scope. An absent scope asks for none (the token endpoint reads it otherwise). */
function requestedScope(client: ClientEntity, params: Map<string, string>, fail: Fail): string[] {
  return redirected(fail, () => grantedScope(params.get('scope') ?? '', client.fields.scope));
}

/** The access token audience (Hydra's audience parameter, space-delimited), within the client's audience. */
function requestedAudience(client: ClientEntity, params: Map<string, string>, fail: Fail): string[] {
  return redirected(fail, () => grantedAudience([params.get('audience') ?? ''], client.fields.audience));
}

/**
 * RFC 8707 §2: each resource is an absolute URI without a fragment and one of
 * the client's audience values; otherwise invalid_target, sent back to the
 * redirect URI like the other errors of the request.
 */
function requestedResources(client: ClientEntity, query: URLSearchParams, fail: Fail): string[] {
  // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
  const resources = query.getAll('resource').filter((r) => r !== '');
  return redirected(fail, () => checkedResources(resources, clientAudience(client.fields), 'is not a resource the client may request'));
}

/** RFC 7636 §4.3: S256 only; required from public clients (RFC 9700 §2.1.1), and from all when the operator enforces it. */
function codeChallenge(client: ClientEntity, params: Map<string, string>, policy: RequestPolicy, fail: Fail): string | undefined {
  const challenge = params.get('code_challenge');
  const method = params.get('code_challenge_method');
  if (challenge === undefined) {
    if (method !== undefined) fail('invalid_request', 'code_challenge_method was sent without code_challenge');
    if (client.fields.token_endpoint_auth_method === 'none') fail('invalid_request', 'public clients must use PKCE: code_challenge is required');
    if (policy.pkceEnforced) fail('invalid_request', 'PKCE is required: code_challenge is required');
  } else {
    if (method !== 'S256') fail('invalid_request', 'code_challenge_method must be S256');
    if (!S256_CHALLENGE.test(challenge)) fail('invalid_request', 'code_challenge must be 43 base64url characters (S256)');
  }
  return challenge;
}

/** RFC 9449 §10: dpop_jkt is a SHA-256 JWK thumbprint (RFC 7638), base64url. */
function dpopJkt(params: Map<string, string>, fail: Fail): string | undefined {
  const jkt = params.get('dpop_jkt');
  if (jkt !== undefined && !S256_CHALLENGE.test(jkt)) fail('invalid_request', 'dpop_jkt must be a SHA-256 JWK thumbprint: 43 base64url characters');
  return jkt;
}

/** OIDC Core §3.1.2.1: known prompt values, and none alone. */
function promptOf(params: Map<string, string>, fail: Fail): string[] {
  const prompt = splitScope(params.get('prompt'));
  const unknownPrompt = prompt.filter((p) => !PROMPTS.includes(p));
  if (unknownPrompt.length > 0) fail('invalid_request', `unknown prompt value: ${unknownPrompt.join(' ')}`);
  if (prompt.includes('none') && prompt.length > 1) fail('invalid_request', 'prompt=none cannot be combined with other values');
  return prompt;
}

/** OIDC Core §3.1.2.1: max_age in seconds; the client's default_max_age (OIDC Registration §2) when absent. */
function maxAgeOf(client: ClientEntity, params: Map<string, string>, fail: Fail): number | undefined {
  const maxAge = params.get('max_age');
  if (maxAge !== undefined) {
    if (!/^\d{1,9}$/.test(maxAge)) fail('invalid_request', 'max_age must be a non-negative integer');
    return Number(maxAge);
  }
  return typeof client.fields.default_max_age === 'number' ? client.fields.default_max_age : undefined;
}

/** The authorization response (success or error) on the redirect URI, with `iss` (RFC 9207). */
export function authorizationResponseUrl(redirectUri: string, issuer: string, values: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(values)) if (value !== undefined) url.searchParams.set(name, value);
  url.searchParams.set('iss', issuer);
  return url.toString();
}
