// The rules of OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document)
// that need no network: which client_id URLs qualify, which hosts are allowed,
// what a document may contain, and how long a fetched one is reused.
import { fieldDef, isStrategyField } from './client-metadata.js';

/** Longest client_id the server accepts anywhere (the authorization endpoint's limit too). */
const MAX_CLIENT_ID = 255;
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/** Whether a client_id is meant as a Client Identifier URL at all (then it is never a stored client's id but by pre-registration). */
export function looksLikeClientIdUrl(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/**
 * Why a client_id cannot be a Client Identifier URL (draft §3), or undefined
 * when it can: https; no userinfo, fragment or dot segments; a path other than
 * "/" (the draft advises against the root, and a document there would speak
 * for the whole host). It must also be written the way the URL standard
 * serializes it (lower-case host, no default port, percent-encoding as
 * normalised), since client_ids compare as plain strings and the document is
 * fetched from the serialized URL: one client must not have two spellings.
 */
export function clientIdUrlProblem(clientId: string): string | undefined {
  if (clientId.length > MAX_CLIENT_ID) return `must be at most ${MAX_CLIENT_ID} characters`;
  if (!/^[\x21-\x7E]+$/.test(clientId)) return 'must consist of printable ASCII characters';
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:') return 'must use the https scheme';
  if (url.username || url.password) return 'must not contain a user name or password';
  if (clientId.includes('#')) return 'must not contain a fragment';
  const rawPath = clientId.slice(8).replace(/^[^/?]*/, '').split('?')[0];
  if (rawPath.split('/').some((segment) => DOT_SEGMENT.test(segment))) return 'must not contain . or .. path segments';
  if (rawPath === '' || rawPath === '/') return 'must have a path (the document is not served at the root of a host)';
  if (url.href !== clientId) return `must be written in its normalised form, ${url.href}`;
  return undefined;
}

/** Whether a host is in the allow-list: exact names, `*.example.com` for any subdomain of example.com, or `*` for any host. */
export function hostAllowed(hostname: string, allowed: readonly string[]): boolean {
  const host = hostname.toLowerCase();
  return allowed.some((entry) => {
    const pattern = entry.toLowerCase();
    if (pattern === '*') return true;
    if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
    return host === pattern;
  });
}

/** RFC 8259 JSON as the draft admits it (§4): application/json, or a more specific application/<...>+json. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(type);
}

/**
 * Why a document's own fields cannot describe a client, before policies and
 * the metadata validator see them; undefined when nothing is wrong. The
 * document names its client_id, which must be the URL exactly (draft §4). A
 * document can hold no shared secret (draft §4.1), and it is not a channel for
 * what only the operator or the server sets (owner, metadata, skip_consent,
 * lifespans, the access token format, registration access tokens) any more
 * than a registration is. A software statement or a sector_identifier_uri
 * would send the server on more fetches in the middle of an authorization
 * request; they are refused rather than ignored.
 */
export function documentProblem(doc: Record<string, unknown>, url: string): string | undefined {
  if (doc.client_id === undefined) return 'has no client_id';
  if (doc.client_id !== url) return `names client_id ${JSON.stringify(doc.client_id)}, which is not its URL`;
  const names = Object.keys(doc).filter((n) => n !== 'client_id');
  const secrets = names.filter((n) => n === 'client_secret' || n === 'client_secret_expires_at');
  if (secrets.length > 0) return `must not contain ${secrets.join(', ')}: a metadata document cannot carry a shared secret`;
  const method = doc.token_endpoint_auth_method;
  if (method !== undefined && method !== 'none' && method !== 'private_key_jwt') {
    return `token_endpoint_auth_method ${JSON.stringify(method)} is not allowed: only none and private_key_jwt (keys in jwks or jwks_uri) need no shared secret`;
  }
  const strategy = names.filter(isStrategyField);
  if (strategy.length > 0) return `must not contain ${strategy.join(', ')}: the access token format is the server's decision`;
  const reserved = names.filter((n) => fieldDef(n) !== undefined && fieldDef(n)!.setBy !== 'registrant');
  if (reserved.length > 0) return `must not contain ${reserved.join(', ')}: only the operator or the server sets it`;
  const unsupported = names.filter((n) => n === 'software_statement' || n === 'sector_identifier_uri');
  if (unsupported.length > 0) return `must not contain ${unsupported.join(', ')}: not supported in a metadata document`;
  return undefined;
}

export interface CacheBounds {
  minSeconds: number;
  maxSeconds: number;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * How many seconds a fetched document may be reused (draft §5.2, RFC 9111 §4.2.1):
 * 0 for no-store or no-cache; otherwise s-maxage or max-age (less Age), else
 * Expires minus Date, held between the configured bounds. A response that says
 * nothing is reused for the lower bound. `private` is not honoured as "do not
 * store": the document is public metadata, fetched by this server for itself.
 */
export function cacheLifetime(headers: Record<string, string | string[] | undefined>, bounds: CacheBounds, now = Date.now()): number {
  const directives = new Map<string, string | undefined>();
  for (const part of (header(headers, 'cache-control') ?? '').split(',')) {
    const [name, value] = part.split('=', 2).map((s) => s.trim());
    if (name) directives.set(name.toLowerCase(), value?.replace(/^"|"$/g, ''));
  }
  if (directives.has('no-store') || directives.has('no-cache')) return 0;
  const clamp = (seconds: number) => Math.min(bounds.maxSeconds, Math.max(bounds.minSeconds, seconds));
  const age = Number(header(headers, 'age'));
  const elapsed = Number.isFinite(age) && age > 0 ? age : 0;
  for (const name of ['s-maxage', 'max-age']) {
    const value = directives.get(name);
    if (value !== undefined && /^\d+$/.test(value)) return clamp(Number(value) - elapsed);
  }
  const expires = header(headers, 'expires');
  if (expires !== undefined) {
    const at = Date.parse(expires);
    const date = Date.parse(header(headers, 'date') ?? '');
    // RFC 9111 §5.3: an Expires that cannot be parsed means already expired.
    return clamp(Number.isNaN(at) ? 0 : Math.floor((at - (Number.isNaN(date) ? now : date)) / 1000) - elapsed);
  }
  return bounds.minSeconds;
}
