// Hostile input over real HTTP against the real app on its own PostgreSQL
// database, as property-based tests (fast-check). Every error body is
// JSON {"error", "error_description"}, never HTML, never a stack trace, and 5xx
// only for real faults (README, HTTP API). Bounded sizes answer 400, never 500; a refused
// registration takes no use of the initial access token (RFC 7591 §3). A refused
// update leaves the client and its registration access token as they were.
//
// Each property sends batches of 1 to 20 concurrent requests. Around every
// batch the row counts of the tables are read; the successful (2xx) requests
// of the batch are counted by what they may create (a client, an IAT use, an
// opaque token row) and every other difference is a refused request that
// changed state. On failure fast-check prints the seed and the shrunk batch;
// the error names the single offending request and its response.
import { createHash, randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { machineClient } from '../factories/clients.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { register } from '../support/dcr.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const BATCH = 20;
const PROPERTY_TIMEOUT = 170_000;
/**
 * Batches per property. fast-check biases early runs towards short arrays, so a
 * batch averages ~6.5 requests: ~11,700 requests over the file.
 */
const RUNS = {
  registerWithIat: 300,
  registerWithoutIat: 150,
  dcrPut: 250,
  adminCreate: 170,
  adminUpdate: 250,
  token: 250,
  introspect: 170,
  adminIntrospect: 90,
  adminList: 170,
  // The authorization code flow (its own describe; a batch also renews the live values it used up).
  authorize: 70,
  loginConsent: 80,
  codeGrants: 45,
  userinfo: 50,
  devPages: 60,
  logout: 50,
  sessionsRevoke: 40,
  oversizedCookie: 10,
};
const MIN_REQUESTS = 10_000;

let svc: RunningApp;
let db: { name: string; dsn: string } | undefined;
let requestsSent = 0;

interface Fixtures {
  iat: string;
  iatId: string;
  usedUpIat: string;
  revokedIat: string;
  dcr: { id: string; secret: string; rat: string };
  adminTarget: string;
  opaque: { id: string; secret: string };
  post: { id: string; secret: string };
  opaqueToken: string;
  jwtToken: string;
}
let fx: Fixtures;

// --- JSON text with exact control over members and numbers -------------------

/** A JSON token written as is: numbers JSON.stringify cannot produce (-0, 1e400, 2**53+1 ...) or deliberately broken text. */
class RawJson {
  constructor(readonly text: string) {}
  [fc.toStringMethod](): string {
    return `raw(${abbreviate(this.text)})`;
  }
}

/** A JSON object as a list of members, so duplicates and members named "__proto__" survive into the text. */
class JsonMembers {
  constructor(readonly members: ReadonlyArray<readonly [string, unknown]>) {}
  [fc.toStringMethod](): string {
    return abbreviate(jsonText(this));
  }
}

function jsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value instanceof JsonMembers) return `{${value.members.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (value !== null && typeof value === 'object') return jsonText(new JsonMembers(Object.entries(value)));
  return JSON.stringify(value) ?? 'null';
}

function abbreviate(s: string, max = 240): string {
  return s.length <= max ? s : `${s.slice(0, max - 60)}…(${s.length} chars)…${s.slice(-40)}`;
}

/** Percent-encoding of the UTF-8 bytes; a lone surrogate becomes U+FFFD first, as it would on the wire. */
function percentEncode(s: string): string {
  return encodeURIComponent(Buffer.from(s, 'utf8').toString('utf8'));
}

const base64url = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');
const ratHash = (token: string): string => createHash('sha256').update(token).digest('base64url');

// --- requests -------------------------------------------------------------------

/** How a request authenticates; resolved when it is sent, so it can use the current registration access token. */
interface Auth {
  label: string;
  /** The valid credential it carries, if any. */
  credential?: 'iat' | 'rat' | 'admin' | 'opaque';
  value(): string | undefined;
}

const noAuth: Auth = { label: '', value: () => undefined };
const rawAuth = (value: string): Auth => ({ label: value, value: () => value });

/**
 * What a request addresses: a watched client, or the flow behind one of the
 * live challenges or verifiers of the authorization code flow, which the
 * fixtures renew between batches.
 */
type Target = 'dcr' | 'admin' | LiveTarget;
type LiveTarget = 'login_challenge' | 'consent_challenge' | 'login_verifier' | 'consent_verifier';

interface RequestOptions {
  /** A Cookie header; may hold live placeholders. */
  cookie?: string;
  /**
   * Where a redirect (3xx) may point: the issuer's own pages and the URIs
   * registered for the client the request names, compared without their query.
   * Without it the route must never redirect.
   */
  redirects?: readonly string[];
  /** The route answers people: pages, and errors that may be pages, are text/html. */
  html?: boolean;
}

class HostileRequest {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly auth: Auth,
    readonly headers: Readonly<Record<string, string>>,
    readonly body?: string | Buffer,
    /** What the request addresses, if it is watched. */
    readonly target?: Target,
    readonly options: RequestOptions = {},
  ) {}

  [fc.toStringMethod](): string {
    return describeRequest(this);
  }
}

// --- live values ------------------------------------------------------------------

/**
 * Single-use values of the authorization code flow change from batch to batch,
 * so requests carry placeholders, "(~name~)", replaced when they are sent.
 * encodeURIComponent leaves "(", "~" and ")" alone, so a placeholder survives
 * percent-encoding of a query string or form and reads well in a counterexample.
 */
const live: Record<string, string> = {};
const placeholder = (name: string): string => `(~${name}~)`;
const PLACEHOLDER = /\(~(\w+)~\)/g;
/** Values that a refused request may spend by design: a wrong guess burns a code; a replayed refresh token revokes its grant. */
const SPENDABLE = new Set(['login_verifier', 'consent_verifier', 'used_login_verifier', 'used_consent_verifier', 'code', 'used_code', 'refresh_token', 'used_refresh_token']);

function resolveLive(text: string): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => live[name] ?? whole);
}

/** The live values a request carries in its target or body (not its cookies). */
function liveValuesIn(r: HostileRequest): string[] {
  const text = `${r.path} ${typeof r.body === 'string' ? r.body : ''}`;
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

const spends = (r: HostileRequest): boolean => liveValuesIn(r).some((name) => SPENDABLE.has(name));

function describeRequest(r: HostileRequest): string {
  const headers = {
    ...(r.auth.label ? { Authorization: abbreviate(r.auth.label, 120) } : {}),
    ...r.headers,
    ...(r.options.cookie !== undefined ? { Cookie: abbreviate(r.options.cookie, 200) } : {}),
  };
  let body = '(none)';
  if (Buffer.isBuffer(r.body)) body = `<${r.body.length} bytes, hex> ${abbreviate(r.body.toString('hex'))}`;
  else if (r.body !== undefined) body = abbreviate(JSON.stringify(r.body));
  return `${r.method} ${abbreviate(r.path, 160)} headers=${JSON.stringify(headers)} body=${body}`;
}

interface Outcome {
  request: HostileRequest;
  status: number;
  contentType: string;
  cacheControl: string | null;
  wwwAuthenticate: string | null;
  link: string | null;
  location: string | null;
  csp: string | null;
  setCookies: string[];
  text: string;
  json: unknown;
}

async function send(request: HostileRequest): Promise<Outcome> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name] = resolveLive(value);
  if (request.options.cookie !== undefined) headers.Cookie = resolveLive(request.options.cookie);
  const authorization = request.auth.value();
  if (authorization !== undefined) headers.Authorization = authorization;
  const body = typeof request.body === 'string' ? resolveLive(request.body) : request.body;
  requestsSent += 1;
  let res: Response;
  try {
    res = await fetch(svc.url + resolveLive(request.path), { method: request.method, headers, body, redirect: 'manual' });
  } catch (err) {
    const e = err as Error & { cause?: Error };
    return {
      request, status: 0, contentType: '', cacheControl: null, wwwAuthenticate: null, link: null, location: null, csp: null, setCookies: [],
      text: `no HTTP response: ${e.message} ${e.cause?.message ?? ''}`, json: undefined,
    };
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    request,
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    cacheControl: res.headers.get('cache-control'),
    wwwAuthenticate: res.headers.get('www-authenticate'),
    link: res.headers.get('link'),
    location: res.headers.get('location'),
    csp: res.headers.get('content-security-policy'),
    setCookies: res.headers.getSetCookie(),
    text,
    json,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const ok = (o: Outcome): boolean => o.status >= 200 && o.status < 300;
const STACK_TRACE = /\n\s+at \S|node_modules|\.(?:ts|js):\d+:\d+/;

/** The markup of the server's own pages (html.ts and its callers); anything else came from the input. */
const PAGE_TAGS = new Set(['!doctype', 'html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'p', 'form', 'input', 'label', 'button', 'ul', 'li', 'code', 'strong', 'pre']);
const PAGE_ATTRIBUTES = new Set(['html', 'lang', 'charset', 'name', 'content', 'method', 'action', 'type', 'value', 'for', 'id', 'required', 'autofocus', 'checked', 'class', 'formnovalidate']);

/** A page: only the server's own tags and attributes (every input value escaped), and a CSP that runs no script. */
function pageViolations(o: Outcome): string[] {
  const found: string[] = [];
  for (const tag of o.text.match(/<[^>]*>?/g) ?? []) {
    const m = /^<\/?([!A-Za-z][A-Za-z0-9]*)([^>]*)>$/.exec(tag);
    if (!m || !PAGE_TAGS.has(m[1].toLowerCase())) {
      found.push(`the page carries markup the server does not write: ${abbreviate(tag, 120)}`);
      continue;
    }
    const attributes = m[2].replace(/"[^"]*"/g, '').replace(/\/$/, '').trim().split(/\s+/).filter(Boolean);
    const unknown = attributes.map((a) => a.split('=')[0].toLowerCase()).filter((a) => !PAGE_ATTRIBUTES.has(a));
    if (unknown.length > 0) found.push(`the page carries attributes the server does not write: ${abbreviate(tag, 120)}`);
  }
  if (!(o.csp ?? '').includes("default-src 'none'")) found.push(`a page without Content-Security-Policy: default-src 'none' (${o.csp})`);
  return found;
}

/** Compares URLs without their query: loopback http ones on any port (RFC 8252 §7.3), others exactly. */
function sameEndpoint(location: URL, allowed: string): boolean {
  let a: URL;
  try {
    a = new URL(allowed);
  } catch {
    return false;
  }
  if (location.username || location.password || location.protocol !== a.protocol || location.pathname !== a.pathname) return false;
  // A registered loopback URI has no port; the issuer's own pages have one and match exactly.
  const loopback = a.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(a.hostname) && a.port === '';
  return loopback ? location.hostname === a.hostname : location.host === a.host;
}

/** A redirect goes only where the request may send a browser: never to an address the request supplied. */
function redirectViolation(o: Outcome): string | undefined {
  if (o.status < 300 || o.status >= 400) return undefined;
  if (o.request.options.redirects === undefined) return `a redirect (${o.status}) from a route that never redirects`;
  if (![302, 303].includes(o.status)) return `a redirect with status ${o.status}, not 302 or 303`;
  if (!o.location) return `a ${o.status} without a Location`;
  let url: URL;
  try {
    url = new URL(o.location);
  } catch {
    return `a redirect to a relative or malformed Location ${abbreviate(o.location, 200)}`;
  }
  if (!o.request.options.redirects.some((allowed) => sameEndpoint(url, allowed))) {
    return `a redirect to ${abbreviate(o.location, 300)}, which is neither the issuer's login, consent or authorization endpoint nor registered for the client`;
  }
  return undefined;
}

/**
 * RFC 6750 §3: a 401 from a bearer-protected route carries a Bearer challenge;
 * userinfo, which also takes DPoP-bound tokens, may answer with a DPoP one
 * (RFC 9449 §7.1).
 */
function missingBearerChallenge(o: Outcome): string | undefined {
  const challenge = o.request.path.startsWith('/userinfo') ? /^(?:Bearer|DPoP)\b/ : /^Bearer\b/;
  return o.status === 401 && !challenge.test(o.wwwAuthenticate ?? '') ? `401 without a Bearer challenge (WWW-Authenticate: ${o.wwwAuthenticate})` : undefined;
}

/** A refusal by a bearer-protected route: a 401 carries a Bearer challenge, and `status` carries the error code `error`. */
function bearerRefusalViolation(o: Outcome, status: number, error: string): string | undefined {
  const noChallenge = missingBearerChallenge(o);
  if (noChallenge) return noChallenge;
  return o.status === status && isObject(o.json) && o.json.error !== error ? `${status} with error ${String(o.json.error)}, not ${error}` : undefined;
}

/** README, HTTP API, for every response: no 5xx, errors are JSON {"error", "error_description"} with an error code, no internals. */
function violations(o: Outcome): string[] {
  const found: string[] = [];
  if (o.status === 0) found.push(o.text);
  else if (o.status >= 500) found.push(`status ${o.status}: 5xx is for real faults only, this is bad input`);
  const redirect = redirectViolation(o);
  if (redirect) found.push(redirect);
  if (o.request.options.html && o.contentType.startsWith('text/html')) {
    found.push(...pageViolations(o));
  } else if (o.status === 410 && isObject(o.json) && typeof o.json.redirect_to === 'string') {
    // Hydra's answer to reading an answered login or consent request: start the authorization request again.
    if (!o.json.redirect_to.startsWith(`${svc.url}/oauth2/auth?`)) found.push(`410 with a redirect_to outside the authorization endpoint: ${o.json.redirect_to}`);
  } else if (o.status >= 400) {
    if (!o.contentType.startsWith('application/json')) found.push(`the error body is ${o.contentType || 'untyped'}, not JSON`);
    const body = o.json;
    if (!isObject(body) || typeof body.error !== 'string' || body.error === '') found.push('the error body has no string "error" member');
    else {
      // RFC 6749 §5.2 / RFC 7591 §3.2.2 error codes are lower-case ASCII with underscores.
      if (!/^[a-z][a-z0-9_]*$/.test(body.error)) found.push(`"error" is ${JSON.stringify(body.error)}, not an error code`);
      if (body.error_description !== undefined && typeof body.error_description !== 'string') found.push('error_description is not a string');
      const extra = Object.keys(body).filter((k) => !['error', 'error_description', 'error_uri'].includes(k));
      if (extra.length > 0) found.push(`the error body carries members beyond {"error", "error_description"}: ${extra.join(', ')}`);
    }
  }
  const description = isObject(o.json) && typeof o.json.error_description === 'string' ? o.json.error_description : '';
  if (STACK_TRACE.test(o.text) || STACK_TRACE.test(description)) found.push('the body carries a stack trace or internals');
  return found;
}

function explain(o: Outcome, found: string[]): string {
  return [
    `${found.join('; ')}`,
    `  request:  ${describeRequest(o.request)}`,
    `  response: ${o.status} ${o.contentType} ${abbreviate(o.text, 600)}`,
  ].join('\n');
}

// --- database state -------------------------------------------------------------

interface WatchedClient {
  fields: string;
  rat_hash: string | null;
  secret_hash: string | null;
  strategy: string | null;
  updated_at: string;
}

/** What a request may change in one flow: its state and the answers recorded on it. */
interface WatchedFlow {
  state: string;
  login: string | null;
  consent: string | null;
  error: string | null;
}

interface Snapshot {
  clients: number;
  initial_access_tokens: number;
  iat_uses: number;
  access_tokens: number;
  policies: number;
  signing_keys: number;
  revoked_jwts: number;
  client_assertion_jtis: number;
  authorization_flows: number;
  login_sessions: number;
  consent_sessions: number;
  oauth2_grants: number;
  authorization_codes: number;
  refresh_tokens: number;
  grant_jwts: number;
  watched: Record<string, WatchedClient | undefined>;
  /** Rows revoked, used or finished: only requests that succeeded, or that spent a live single-use value, may change these. */
  ended: Record<string, number>;
  /** The flows behind the live challenges and verifiers, by id. */
  flows: Record<string, WatchedFlow | undefined>;
  /** Access and refresh tokens that are neither revoked nor (refresh tokens) used. */
  usable: { access_tokens: number; refresh_tokens: number };
}

type Counts = Omit<Snapshot, 'watched' | 'ended' | 'flows' | 'usable'>;

/** The flow behind each live challenge or verifier of the running property. */
let liveFlows: Partial<Record<LiveTarget, string>> = {};

async function snapshot(): Promise<Snapshot> {
  const { rows } = await query(
    `SELECT (SELECT count(*) FROM clients)::int AS clients,
            (SELECT count(*) FROM initial_access_tokens)::int AS initial_access_tokens,
            (SELECT uses FROM initial_access_tokens WHERE id = $1) AS iat_uses,
            (SELECT count(*) FROM access_tokens)::int AS access_tokens,
            (SELECT count(*) FROM policies)::int AS policies,
            (SELECT count(*) FROM signing_keys)::int AS signing_keys,
            (SELECT count(*) FROM revoked_jwts)::int AS revoked_jwts,
            (SELECT count(*) FROM client_assertion_jtis)::int AS client_assertion_jtis,
            (SELECT count(*) FROM authorization_flows)::int AS authorization_flows,
            (SELECT count(*) FROM login_sessions)::int AS login_sessions,
            (SELECT count(*) FROM consent_sessions)::int AS consent_sessions,
            (SELECT count(*) FROM oauth2_grants)::int AS oauth2_grants,
            (SELECT count(*) FROM authorization_codes)::int AS authorization_codes,
            (SELECT count(*) FROM refresh_tokens)::int AS refresh_tokens,
            (SELECT count(*) FROM grant_jwts)::int AS grant_jwts,
            (SELECT coalesce(json_object_agg(id, json_build_object(
                      'fields', fields::text, 'rat_hash', registration_access_token_hash, 'secret_hash', secret_hash,
                      'strategy', access_token_strategy, 'updated_at', updated_at)), '{}'::json)
               FROM clients WHERE id = ANY($2)) AS watched,
            json_build_object(
              'login_sessions_revoked', (SELECT count(*) FROM login_sessions WHERE revoked_at IS NOT NULL),
              'consent_sessions_revoked', (SELECT count(*) FROM consent_sessions WHERE revoked_at IS NOT NULL),
              'grants_revoked', (SELECT count(*) FROM oauth2_grants WHERE revoked_at IS NOT NULL),
              'codes_used', (SELECT count(*) FROM authorization_codes WHERE used_at IS NOT NULL),
              'refresh_tokens_used', (SELECT count(*) FROM refresh_tokens WHERE used_at IS NOT NULL),
              'refresh_tokens_revoked', (SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL),
              'access_tokens_revoked', (SELECT count(*) FROM access_tokens WHERE revoked_at IS NOT NULL),
              'flows_done', (SELECT count(*) FROM authorization_flows WHERE state = 'done')) AS ended,
            (SELECT coalesce(json_object_agg(id, json_build_object(
                      'state', state, 'login', login::text, 'consent', consent::text, 'error', error::text)), '{}'::json)
               FROM authorization_flows WHERE id = ANY($3)) AS flows,
            json_build_object(
              'access_tokens', (SELECT count(*) FROM access_tokens WHERE revoked_at IS NULL),
              'refresh_tokens', (SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND used_at IS NULL)) AS usable`,
    [fx.iatId, [fx.dcr.id, fx.adminTarget], Object.values(liveFlows)],
    db!.dsn,
  );
  return rows[0] as Snapshot;
}

function counts(s: Snapshot): Counts {
  const { watched: _watched, ended: _ended, flows: _flows, usable: _usable, ...rest } = s;
  return rest;
}

/**
 * What successful requests may add: a client per registration or admin create, an IAT use, a row per opaque token;
 * a flow per authorization request sent on to the login app, a grant and a code per one that ends with a code,
 * a refresh token per one issued.
 */
interface Ledger {
  clients: number;
  iatUses: number;
  accessTokens: number;
  flows: number;
  grants: number;
  codes: number;
  refreshTokens: number;
}

const emptyLedger = (): Ledger => ({ clients: 0, iatUses: 0, accessTokens: 0, flows: 0, grants: 0, codes: 0, refreshTokens: 0 });

function record(ledger: Ledger, o: Outcome): void {
  const { method, path, auth } = o.request;
  if (method === 'GET' && path.startsWith('/oauth2/auth') && o.status === 302 && o.location) {
    if (o.location.startsWith(`${svc.url}/dev/login?`)) ledger.flows += 1;
    else if (URL.canParse(o.location) && new URL(o.location).searchParams.has('code')) {
      ledger.grants += 1;
      ledger.codes += 1;
    }
  }
  if (!ok(o)) return;
  if (method === 'POST' && path === '/oauth2/register') {
    ledger.clients += 1;
    if (auth.credential === 'iat') ledger.iatUses += 1;
  }
  if (method === 'POST' && path === '/admin/clients') ledger.clients += 1;
  if (method === 'POST' && path === '/oauth2/token') {
    const token = isObject(o.json) ? o.json.access_token : undefined;
    if (typeof token === 'string' && !JWT_SHAPE.test(token)) ledger.accessTokens += 1;
    if (isObject(o.json) && typeof o.json.refresh_token === 'string') ledger.refreshTokens += 1;
  }
}

function expectedCounts(before: Snapshot, ledger: Ledger): Counts {
  return {
    ...counts(before),
    clients: before.clients + ledger.clients,
    iat_uses: before.iat_uses + ledger.iatUses,
    access_tokens: before.access_tokens + ledger.accessTokens,
    authorization_flows: before.authorization_flows + ledger.flows,
    oauth2_grants: before.oauth2_grants + ledger.grants,
    authorization_codes: before.authorization_codes + ledger.codes,
    refresh_tokens: before.refresh_tokens + ledger.refreshTokens,
  };
}

/**
 * Two requests with one live refresh token (or code): the one that finds it spent revokes the grant (RFC 9700
 * §4.14), and the other, which has already written its new tokens, then finds the grant revoked and is refused
 * too (GrantTokensService.issue, src/tokens/grant-tokens.service.ts, checks after its writes). Its rows stay, revoked. Rows added by refused
 * requests are allowed only so: in a batch that carried a live single-use value, only access and refresh token
 * rows, and none of them usable. Returns the rows so allowed, or undefined when the difference is not that.
 */
function racedRows(before: Snapshot, after: Snapshot, expected: Counts, outcomes: Outcome[], batchLedger: Ledger): Record<string, number> | undefined {
  if (!outcomes.some((o) => spends(o.request))) return undefined;
  const [found, wanted] = [counts(after), expected] as Array<Record<string, number>>;
  const surplus: Record<string, number> = {};
  for (const key of Object.keys(found)) {
    const extra = found[key] - wanted[key];
    if (extra === 0) continue;
    if (extra < 0 || (key !== 'access_tokens' && key !== 'refresh_tokens')) return undefined;
    surplus[key] = extra;
  }
  const usableAccess = after.usable.access_tokens - before.usable.access_tokens;
  const usableRefresh = after.usable.refresh_tokens - before.usable.refresh_tokens;
  return usableAccess <= batchLedger.accessTokens && usableRefresh <= batchLedger.refreshTokens ? surplus : undefined;
}

/** Adds what fixture work between `from` and `to` changed to `offset`, so the property's final count check allows for it. */
function addWork(offset: Record<string, number>, from: Snapshot, to: Snapshot): void {
  const [a, b] = [counts(from), counts(to)] as Array<Record<string, number>>;
  for (const key of Object.keys(b)) offset[key] = (offset[key] ?? 0) + b[key] - a[key];
}

function summary(outcomes: Outcome[]): string {
  return outcomes.map((o) => `  ${o.status} ${abbreviate(describeRequest(o.request), 300)}`).join('\n');
}

const OBJECT_PROTOTYPE = Object.getOwnPropertyNames(Object.prototype).sort().join();
const ARRAY_PROTOTYPE = Object.getOwnPropertyNames(Array.prototype).sort().join();
const OBJECT_TO_STRING = Object.prototype.toString;

/** The app runs in this process: a body that reached Object.prototype would show here. */
function prototypePollution(): string | undefined {
  const probe: Record<string, unknown> = {};
  if (probe.polluted !== undefined || probe.isAdmin !== undefined) return 'a member of Object.prototype was set';
  if (Object.getOwnPropertyNames(Object.prototype).sort().join() !== OBJECT_PROTOTYPE) return 'Object.prototype gained or lost members';
  if (Object.getOwnPropertyNames(Array.prototype).sort().join() !== ARRAY_PROTOTYPE) return 'Array.prototype gained or lost members';
  if (Object.prototype.toString !== OBJECT_TO_STRING) return 'Object.prototype.toString was replaced';
  return undefined;
}

interface PropertyOptions {
  /** Extra per-response expectations of the endpoint: a message when violated. */
  expect?: (o: Outcome) => string | undefined;
  /** Extra per-batch state checks, given the snapshots around the batch. */
  afterBatch?: (before: Snapshot, after: Snapshot, outcomes: Outcome[]) => void;
  /** Renews live values before a batch, given those the previous batch carried; what it creates is not the batch's doing. */
  prepare?: (used: ReadonlySet<string>) => Promise<void>;
  /** Carries what a batch achieved further (an accepted login on to a code and tokens); true when it did any work, which is not the batch's doing. */
  followUp?: (outcomes: Outcome[]) => Promise<boolean>;
}

/** Runs batches of generated requests; every batch is checked response by response, then for state. */
async function checkProperty(request: fc.Arbitrary<HostileRequest>, numRuns: number, options: PropertyOptions = {}): Promise<void> {
  const ledger = emptyLedger();
  /** Rows the fixtures added between batches, and revoked rows left by refused racing requests (racedRows). */
  const fixtureWork: Record<string, number> = {};
  let used = new Set<string>();
  const start = await snapshot();
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: BATCH, size: 'max' }), async (batch) => {
      let before: Snapshot;
      if (options.prepare) {
        const unprepared = await snapshot();
        await options.prepare(used);
        before = await snapshot();
        addWork(fixtureWork, unprepared, before);
      } else {
        before = await snapshot();
      }
      used = new Set(batch.flatMap(liveValuesIn));
      const outcomes = await Promise.all(batch.map(send));
      const batchLedger = emptyLedger();
      for (const o of outcomes) {
        record(ledger, o);
        record(batchLedger, o);
      }
      const after = await snapshot();
      for (const o of outcomes) {
        const found = violations(o);
        const extra = options.expect?.(o);
        if (extra) found.push(extra);
        if (found.length > 0) throw new Error(explain(o, found));
      }
      const pollution = prototypePollution();
      if (pollution) throw new Error(`${pollution} after the batch:\n${summary(outcomes)}`);
      const expected = expectedCounts(before, batchLedger);
      if (!isDeepStrictEqual(counts(after), expected)) {
        const raced = racedRows(before, after, expected, outcomes, batchLedger);
        if (!raced) {
          throw new Error(
            `refused requests changed the database: expected ${JSON.stringify(expected)} after ` +
              `${outcomes.filter(ok).length} successful requests, found ${JSON.stringify(counts(after))}; the batch:\n${summary(outcomes)}`,
          );
        }
        for (const [key, n] of Object.entries(raced)) fixtureWork[key] = (fixtureWork[key] ?? 0) + n;
      }
      for (const [target, id] of [['dcr', fx.dcr.id], ['admin', fx.adminTarget]] as const) {
        const succeeded = outcomes.some((o) => o.request.target === target && ok(o));
        if (!succeeded && !isDeepStrictEqual(before.watched[id], after.watched[id])) {
          throw new Error(
            `refused requests changed client ${id}: ${JSON.stringify(before.watched[id])} -> ${JSON.stringify(after.watched[id])}; the batch:\n${summary(outcomes)}`,
          );
        }
      }
      const refused = outcomes.every((o) => o.status >= 400);
      if (refused && !outcomes.some((o) => spends(o.request)) && !isDeepStrictEqual(before.ended, after.ended)) {
        throw new Error(
          `refused requests revoked, used up or finished something: ${JSON.stringify(before.ended)} -> ${JSON.stringify(after.ended)}; the batch:\n${summary(outcomes)}`,
        );
      }
      for (const [target, id] of Object.entries(liveFlows)) {
        if (outcomes.some((o) => o.request.target === target && o.status > 0 && o.status < 400)) continue;
        const [was, now] = [before.flows[id], after.flows[id]];
        // A refused verifier may end its flow (it arrived without the flow's cookie); nothing refused moves a flow on.
        const spent = target.endsWith('_verifier') && now?.state === 'done' && was?.login === now.login && was?.consent === now.consent && was?.error === now.error;
        if (!isDeepStrictEqual(was, now) && !spent) {
          throw new Error(`refused requests changed the flow of the live ${target}: ${JSON.stringify(was)} -> ${JSON.stringify(now)}; the batch:\n${summary(outcomes)}`);
        }
      }
      options.afterBatch?.(before, after, outcomes);
      if (options.followUp && (await options.followUp(outcomes))) addWork(fixtureWork, after, await snapshot());
    }),
    // A failure that depends on state may not reproduce while shrinking: bound the time spent on it.
    { numRuns, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true },
  );
  // Over the whole property (shrinking included): rows changed by exactly what the successful requests account for.
  const expected = expectedCounts(start, ledger) as Record<string, number>;
  for (const [key, n] of Object.entries(fixtureWork)) expected[key] += n;
  expect(counts(await snapshot())).toEqual(expected);
}

// --- generators -----------------------------------------------------------------

const METADATA_FIELDS = [
  'redirect_uris', 'grant_types', 'response_types', 'scope', 'jwks', 'jwks_uri', 'token_endpoint_auth_method',
  'token_endpoint_auth_signing_alg', 'client_name', 'client_name#fr', 'client_name#en-US', 'client_uri', 'logo_uri',
  'policy_uri', 'tos_uri', 'default_max_age', 'contacts', 'software_statement', 'software_id', 'software_version',
  'application_type', 'subject_type', 'id_token_signed_response_alg', 'userinfo_signed_response_alg',
  'request_object_signing_alg', 'require_auth_time', 'default_acr_values', 'initiate_login_uri', 'request_uris',
  'post_logout_redirect_uris', 'frontchannel_logout_uri', 'frontchannel_logout_session_required',
  'backchannel_logout_uri', 'backchannel_logout_session_required', 'allowed_cors_origins', 'audience',
  // operator-only, server-managed and strategy fields
  'client_id', 'client_secret', 'metadata', 'owner', 'access_token_strategy', 'strategies', 'skip_consent',
  'skip_logout_consent', 'client_credentials_grant_access_token_lifespan', 'registration_access_token',
  'registration_client_uri', 'client_id_issued_at', 'client_secret_expires_at', 'created_at', 'created_via',
];
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];
const LOCALIZABLE = ['client_name', 'client_uri', 'logo_uri', 'policy_uri', 'tos_uri', 'scope', 'redirect_uris'];
const PLAUSIBLE = [
  'client_credentials', 'authorization_code', 'implicit', 'refresh_token', 'password', 'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'code', 'token', 'id_token', 'code id_token', 'none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt',
  'tls_client_auth', 'https://app.example.com/cb', 'https://app.example.com/cb#frag', 'http://127.0.0.1:8080/cb', 'http://[::1]/cb',
  'http://localhost/cb', 'http://app.example.com/cb', 'com.example.app:/cb', 'myapp:/cb', 'javascript:alert(1)', 'data:text/html,x',
  'https://', '//app.example.com/cb', 'openid', 'read', 'read write', 'openid offline_access', 'web', 'native', 'public', 'pairwise',
  'RS256', 'ES256', 'EdDSA', 'HS256', 'ops@example.com', 'opaque', 'jwt', 'jwe', '1h', '30m', '1h30m0s', 'fr', 'en-US',
  'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln', 'true', '0', '-1', '',
];
const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00], [0xef, 0xbb, 0xbf]];
const HEADER_CHARS = [9, ...Array.from({ length: 0x7f - 0x20 }, (_, i) => 0x20 + i), ...Array.from({ length: 0x80 }, (_, i) => 0x80 + i)].map((c) =>
  String.fromCharCode(c),
);

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const controlChar = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\u007f', '\u0085', '\u2028', '\u2029', '\ufeff', '\u200b', '\u202e', '\ufffe', '\uffff'),
);
const trickyText = fc.constantFrom(
  '%00', '%', '%zz', '../', '..\\', '${7*7}', '{{7*7}}', "' OR '1'='1", '"; DROP TABLE clients; --', '<script>alert(1)</script>',
  '\\', '\\u0000', '\u0000', 'null', 'undefined', 'NaN', '[object Object]', '😀', 'e\u0301', 'ﬀ', 'İ', ' ', '\t',
);
const nastyString = fc
  .array(fc.oneof(loneSurrogate, controlChar, trickyText, fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 4 })), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.join(''));
/** Over the string limits, and around and beyond the 64 KiB body limit. */
const longString = fc
  .tuple(fc.constantFrom(2_001, 2_049, 16_385, 40_000, 65_000, 65_537, 70_000), fc.constantFrom('a', 'é', '😀', '\u0000', '%', ' ', 'https://a.example.com/'))
  .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length)));
const plausible = fc.constantFrom(...PLAUSIBLE);
const shortString = fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 3, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 3, arbitrary: nastyString });
const anyString = fc.oneof({ weight: 9, arbitrary: shortString }, { weight: 1, arbitrary: longString });

const rawNumber = fc
  .constantFrom('-0', '-0.0', '0e0', '1e308', '-1e308', '1e309', '-1e400', '1e-400', '9007199254740993', '-9007199254740993', '123456789012345678901234567890', '1E+2', '2.5', '4294967296', '2147483648')
  .map((t) => new RawJson(t));
const anyNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(2 ** 53 + 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1e308, -1, 0, 2 ** 31),
  rawNumber,
);

const memberName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...METADATA_FIELDS) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...LOCALIZABLE), fc.oneof(fc.constantFrom('fr', 'en-US', '', '#', 'x'.repeat(9), 'fr-', 'de-CH-1996'), nastyString))
      .map(([base, tag]) => `${base}#${tag}`),
  },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 12 }), nastyString) },
);

/** Objects nested thousands deep: JSON.parse copes, recursive code may not. */
const deepNesting = fc
  .tuple(fc.integer({ min: 100, max: 9_000 }), fc.constantFrom('[', '{"a":', '{"__proto__":'))
  .map(([depth, open]) => new RawJson(open.repeat(depth) + (open === '[' ? '' : '1') + (open === '[' ? ']' : '}').repeat(depth)));
const bigArray = fc
  .tuple(fc.constantFrom(21, 51, 101, 1_000), fc.constantFrom<unknown>('https://app.example.com/cb', 'client_credentials', 'a@example.com', 1, null))
  .map(([n, item]) => Array.from({ length: n }, () => item));
const jwksLike = fc
  .tuple(fc.constantFrom('RSA', 'EC', 'OKP', 'oct', ''), fc.array(fc.tuple(memberName, shortString), { maxLength: 3 }), fc.option(deepNesting, { nil: undefined }))
  .map(([kty, extra, deep]) => ({
    keys: [
      new JsonMembers([
        ['kty', kty],
        ['crv', kty === 'OKP' ? 'Ed25519' : 'P-256'],
        ['x', 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU'],
        ['y', 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0'],
        ['n', 'sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw'],
        ['e', 'AQAB'],
        ...(extra as Array<[string, unknown]>),
        ...(deep ? ([['deep', deep]] as Array<[string, unknown]>) : []),
      ]),
    ],
  }));

const leaf = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: anyNumber },
  { weight: 6, arbitrary: anyString },
);

const { value: hostileValue } = fc.letrec<{ value: unknown; array: unknown[]; object: JsonMembers }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'hostile-json' },
    { weight: 10, arbitrary: leaf },
    { weight: 3, arbitrary: tie('array') },
    { weight: 3, arbitrary: tie('object') },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.object({ maxDepth: 3, key: memberName }) },
    { weight: 1, arbitrary: deepNesting },
    { weight: 1, arbitrary: bigArray },
    { weight: 1, arbitrary: jwksLike },
  ),
  array: fc.array(tie('value'), { maxLength: 4, depthIdentifier: 'hostile-json' }),
  object: fc
    .array(fc.tuple(memberName, tie('value')), { maxLength: 4, depthIdentifier: 'hostile-json' })
    .map((members) => new JsonMembers(members as Array<[string, unknown]>)),
}));

/** Small values only (no 70 KB strings), for query strings and page tokens. */
const smallValue = fc.oneof(fc.constant(null), fc.boolean(), anyNumber, shortString, fc.jsonValue({ maxDepth: 2 }));

const pollution = fc.constantFrom<[string, unknown]>(
  ['__proto__', new JsonMembers([['polluted', 'yes'], ['isAdmin', true], ['client_id', 'evil'], ['access_token_strategy', 'jwt']])],
  ['constructor', new JsonMembers([['prototype', new JsonMembers([['polluted', 'yes']])]])],
  ['__proto__', null],
  ['__proto__', 'x'],
  ['__proto__', []],
  ['prototype', new JsonMembers([['polluted', 'yes']])],
  ['toString', 'x'],
  ['hasOwnProperty', 'x'],
  ['valueOf', 1],
  ['metadata', new JsonMembers([['__proto__', new JsonMembers([['polluted', 'yes']])]])],
  ['grant_types', new JsonMembers([['__proto__', ['client_credentials']], ['length', 1], ['0', 'client_credentials']])],
);
/** Server-side fetches only ever go to addresses the server must refuse, never to the network. */
const sectorIdentifier = fc
  .constantFrom<unknown>('https://127.0.0.1/sector.json', 'https://[::1]/s', 'https://10.0.0.1/s', 'https://169.254.169.254/latest/meta-data', 'http://app.example.com/s', 'sector', 1, null, [])
  .map((v): [string, unknown] => ['sector_identifier_uri', v]);

const BASES: Array<Array<[string, unknown]>> = [
  [],
  [['grant_types', ['client_credentials']], ['scope', 'read']],
  [['redirect_uris', ['https://app.example.com/cb']], ['grant_types', ['authorization_code']], ['response_types', ['code']]],
  [['application_type', 'native'], ['redirect_uris', ['com.example.app:/cb']], ['token_endpoint_auth_method', 'none']],
];

/** A client metadata object: a valid-ish base, then members of any name with values of any type (later duplicates win). */
function metadataObject(leading: fc.Arbitrary<Array<[string, unknown]>> = fc.constant([])): fc.Arbitrary<JsonMembers> {
  const member = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(memberName, hostileValue) as fc.Arbitrary<[string, unknown]> },
    { weight: 2, arbitrary: pollution },
    { weight: 1, arbitrary: sectorIdentifier },
  );
  return fc
    .tuple(leading, fc.constantFrom(...BASES), fc.array(member, { maxLength: 5 }))
    .map(([lead, base, members]) => new JsonMembers([...lead, ...base, ...members]));
}

const brokenJson = fc.oneof(
  fc.constantFrom(
    '', ' ', '{', '}', '{"a":', '{"a":1,}', "{'a':1}", '{a:1}', 'NaN', 'Infinity', '{"a":NaN}', '{"a":undefined}', '[1,2',
    '\ufeff{}', '{"a":1}{"b":2}', '/* c */ {}', '{"a":"\\x41"}', '{"a":"\\u12"}', '{"a":"\u0000"}', '{"a":01}', '{"a":.5}',
    '{"a":+1}', '{"a":0x10}', '{"a":1e}', '{"a":-}', 'null', 'true', '"str"', '[]', '0', '{"grant_types":["client_credentials"]',
  ),
  fc.string({ maxLength: 30 }),
);

const invalidUtf8Body = fc
  .tuple(
    fc.constantFrom('{"client_name":"', '{"grant_types":["client_credentials"],"client_name":"', '{"redirect_uris":["https://app.example.com/', '{"', '{"scope":"read ', ''),
    fc.array(fc.oneof(fc.constantFrom(...INVALID_UTF8), fc.uint8Array({ minLength: 1, maxLength: 8 }).map((a) => [...a])), { minLength: 1, maxLength: 4 }),
    fc.constantFrom('"}', '","grant_types":["client_credentials"]}', '":1}', '', '"]}'),
  )
  .map(([prefix, bytes, suffix]) => Buffer.concat([Buffer.from(prefix), Buffer.from(bytes.flat()), Buffer.from(suffix)]));

/** A JSON request body: mostly a metadata object, sometimes any JSON value, broken JSON or invalid UTF-8. */
function jsonBody(object: fc.Arbitrary<JsonMembers>): fc.Arbitrary<string | Buffer> {
  return fc.oneof(
    { weight: 14, arbitrary: object.map(jsonText) },
    { weight: 1, arbitrary: hostileValue.map(jsonText) },
    { weight: 1, arbitrary: brokenJson },
    { weight: 1, arbitrary: invalidUtf8Body },
  );
}

const headerJunk = fc.oneof(
  { weight: 9, arbitrary: fc.string({ unit: fc.constantFrom(...HEADER_CHARS), minLength: 1, maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 4_000).map((n) => 'A'.repeat(n)) },
);

const ODD_MEDIA_TYPES = [
  'application/json; charset=utf-16', 'application/json; charset=utf-16le', 'application/json; charset=latin1', 'application/json; charset=utf-7',
  'application/json; charset=utf-32', 'application/json; charset="', 'application/json; charset=', 'application/json;;;', 'application/json; boundary=x',
  'text/plain', 'text/html', 'text/json', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=----x',
  'application/octet-stream', '*/*', 'application/', '/', ';', 'application/jsonx', ' ', '',
];
/** undefined: no Content-Type header (fetch then sends text/plain for a string body). */
const jsonContentType = fc.oneof(
  { weight: 24, arbitrary: fc.constant<string | undefined>('application/json') },
  { weight: 3, arbitrary: fc.constantFrom<string | undefined>('application/json; charset=utf-8', 'Application/JSON', 'application/vnd.api+json', 'application/merge-patch+json', 'application/json-patch+json') },
  { weight: 3, arbitrary: fc.constantFrom<string | undefined>(...ODD_MEDIA_TYPES, undefined) },
  { weight: 1, arbitrary: headerJunk },
);
const formContentType = fc.oneof(
  { weight: 24, arbitrary: fc.constant<string | undefined>('application/x-www-form-urlencoded') },
  { weight: 3, arbitrary: fc.constantFrom<string | undefined>('application/x-www-form-urlencoded; charset=utf-8', 'application/x-www-form-urlencoded; charset=iso-8859-1', 'APPLICATION/X-WWW-FORM-URLENCODED', 'application/x-www-form-urlencoded; charset=utf-16') },
  { weight: 3, arbitrary: fc.constantFrom<string | undefined>(...ODD_MEDIA_TYPES.filter((t) => t !== 'application/x-www-form-urlencoded'), 'application/json', undefined) },
  { weight: 1, arbitrary: headerJunk },
);

/** DPoP proofs (RFC 9449 §4.2) that no server should accept: junk, JWT-shaped junk, and headers of the wrong kind. */
const dpopJunk = fc.oneof(
  headerJunk,
  fc
    .tuple(fc.json(), fc.json(), fc.base64String({ maxLength: 86 }))
    .map(([h, p, sig]) => `${Buffer.from(h).toString('base64url')}.${Buffer.from(p).toString('base64url')}.${sig.replace(/[+/=]/g, '')}`),
  fc.constantFrom(
    'a.b.c',
    '..',
    `${Buffer.from('{"typ":"dpop+jwt","alg":"none","jwk":{"kty":"EC"}}').toString('base64url')}.${Buffer.from('{"htm":"POST"}').toString('base64url')}.`,
    `${Buffer.from('{"typ":"dpop+jwt","alg":"HS256","jwk":{"kty":"oct","k":"AA"}}').toString('base64url')}.e30.AA`,
    'x, y',
  ),
);

const oddHeaders = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Record<string, string>>({}) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        Accept: fc.constantFrom('text/html', 'application/xml', '*/*', 'application/json;q=0, text/html', 'image/png'),
        'Content-Encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, deflate', 'GZIP'),
        'Content-Language': headerJunk,
        'X-Request-Id': headerJunk,
        Origin: fc.constantFrom('null', 'https://evil.example', 'http://127.0.0.1'),
        'X-Forwarded-For': headerJunk,
        'X-HTTP-Method-Override': fc.constantFrom('DELETE', 'PUT', 'GET'),
        DPoP: dpopJunk,
      },
      { requiredKeys: [] },
    ) as fc.Arbitrary<Record<string, string>>,
  },
);

function headersOf(contentType: string | undefined, odd: Record<string, string>): Record<string, string> {
  return { ...odd, ...(contentType === undefined ? {} : { 'Content-Type': contentType }) };
}

const bearerJunk = fc.oneof(
  headerJunk.map((j) => rawAuth(`Bearer ${j}`)),
  fc.constantFrom('Bearer', 'Bearer ', 'Bearer a b', 'Bearer =', 'Token abc', 'Negotiate YII=', 'bearer x', 'Bearer\tx', 'Bearer ' + 'A'.repeat(4_000), 'DPoP', 'DPoP x', 'dpop a.b.c').map(rawAuth),
);
const basicJunk = fc.oneof(
  headerJunk.map((j) => rawAuth(`Basic ${j}`)),
  fc.uint8Array({ maxLength: 48 }).map((b) => rawAuth(`Basic ${Buffer.from(b).toString('base64')}`)),
  fc.tuple(shortString, shortString).map(([id, secret]) => rawAuth(`Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`)),
  fc.tuple(shortString, shortString).map(([id, secret]) => rawAuth(`Basic ${Buffer.from(`${percentEncode(id)}:${percentEncode(secret)}`).toString('base64')}`)),
  fc.constantFrom('Basic', 'Basic ', 'Basic ====', 'Basic Og==', 'Basic JXp6OiU=', 'Basic bm8tY29sb24=', 'basic Og==', 'BASIC Og==').map(rawAuth),
);
const junkAuth = fc.oneof(fc.constant(noAuth), bearerJunk, basicJunk);

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${percentEncode(id)}:${percentEncode(secret)}`).toString('base64')}`;
}

/** Ids in a path that name no client: NUL, invalid percent-encoding, traversal, prototype names, very long ones. */
const hostileId = fc.oneof(
  fc.constantFrom('%00', 'a%00b', '%E0%A4%A', '%ED%A0%80', '%C0%80', '%FF', '%2F', 'a%2Fb', '__proto__', 'constructor', 'prototype', 'toString', '%20', '*', '%27%3B--', 'null', 'undefined', '%0A', '%5C'),
  fc.constantFrom(256, 1_000, 5_000).map((n) => 'a'.repeat(n)),
  nastyString.map(percentEncode),
);

// --- form bodies (token and introspection endpoints) ------------------------------

const FORM_NAMES = [
  'grant_type', 'client_id', 'client_secret', 'scope', 'audience', 'resource', 'client_assertion', 'client_assertion_type', 'token', 'token_type_hint',
  'redirect_uri', 'code', 'code_verifier', 'refresh_token', 'grant_type[]', 'client_id[0]', 'scope[a]', '', ...PROTOTYPE_KEYS,
];

type Pair = [string, string];

function formText(pairs: Pair[], encoding: 'percent' | 'plus' | 'raw'): string {
  const encode = encoding === 'raw' ? (s: string) => s : encoding === 'plus' ? (s: string) => percentEncode(s).replace(/%20/g, '+') : percentEncode;
  return pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
}

interface PairOptions {
  /** Parameter names the extra pairs mostly use. */
  names?: readonly string[];
  /** Also replace or drop parameters of the base, so that a hostile value stands where a valid one was. */
  replace?: boolean;
}

/** A base set of parameters with hostile pairs added (repeats included), before or after it, and with `replace` some of its own replaced or dropped. */
function hostilePairs(base: fc.Arbitrary<Pair[]>, values: fc.Arbitrary<string>, options: PairOptions = {}): fc.Arbitrary<Pair[]> {
  const names = options.names ?? FORM_NAMES;
  const name = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: shortString });
  const pair = fc.tuple(name, values) as fc.Arbitrary<Pair>;
  const extra = fc.oneof(
    { weight: 12, arbitrary: fc.array(pair, { maxLength: 5 }) },
    { weight: 1, arbitrary: fc.integer({ min: 90, max: 160 }).map((n) => Array.from({ length: n }, (_, i): Pair => [`p${i}`, 'x'])) },
  );
  return fc
    .record({
      base,
      extra,
      extraFirst: fc.boolean(),
      replaced: options.replace ? fc.array(pair, { maxLength: 2 }) : fc.constant<Pair[]>([]),
      dropped: options.replace ? fc.array(fc.constantFrom(...names), { maxLength: 1 }) : fc.constant<string[]>([]),
    })
    .map((r) => {
      const kept = r.base.filter(([k]) => !r.dropped.includes(k));
      for (const [k, v] of r.replaced) {
        const i = kept.findIndex(([n]) => n === k);
        if (i >= 0) kept[i] = [k, v];
        else kept.push([k, v]);
      }
      return r.extraFirst ? [...r.extra, ...kept] : [...kept, ...r.extra];
    });
}

interface HostileParams extends PairOptions {
  /** A Cookie header for the request, if any. */
  cookie?: fc.Arbitrary<string | undefined>;
  /** What the request addresses, given its parameters. */
  target?: (pairs: Pair[]) => Target | undefined;
  /** The request's options (where it may redirect, whether it answers with pages), given its parameters. */
  options?: (pairs: Pair[]) => RequestOptions;
  contentType?: fc.Arbitrary<string | undefined>;
}

const ENCODINGS = ['percent', 'percent', 'percent', 'plus', 'raw'] as const;

/**
 * Node.js refuses a request head over 16 KiB before any route runs (431; one property sends such heads on
 * purpose), so other generated heads stay under 14 KB as sent, with room for placeholders to expand: the
 * cookie is cut to what the other headers leave, then the query string (as the URL parser will
 * percent-encode it) to what is left.
 */
function fitHead(path: string, auth: Auth, headers: Readonly<Record<string, string>>, cookie?: string): { path: string; cookie?: string } {
  const others = 800 + auth.label.length + Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  const fitted = cookie?.slice(0, Math.max(500, Math.min(4_000, 12_000 - others)));
  const budget = 14_000 - others - (fitted?.length ?? 0);
  const at = path.indexOf('?');
  let queryString = at < 0 ? '' : path.slice(at + 1);
  const wire = (q: string) => new URL(`${path.slice(0, at)}?${q}`, 'http://h').href.length;
  while (queryString !== '' && wire(queryString) > budget) queryString = queryString.slice(0, Math.floor(queryString.length * 0.8));
  return { path: at < 0 ? path : `${path.slice(0, at)}?${queryString}`, cookie: fitted };
}

function formRequest(path: string, auth: fc.Arbitrary<Auth>, base: fc.Arbitrary<Pair[]>, values: fc.Arbitrary<string>, more: HostileParams = {}): fc.Arbitrary<HostileRequest> {
  return fc
    .record({
      auth,
      pairs: hostilePairs(base, values, more),
      encoding: fc.constantFrom(...ENCODINGS),
      contentType: more.contentType ?? formContentType,
      odd: oddHeaders,
      cookie: more.cookie ?? fc.constant(undefined),
    })
    .map((r) => {
      const headers = headersOf(r.contentType, r.odd);
      const { cookie } = fitHead(path, r.auth, headers, r.cookie);
      const options = { ...more.options?.(r.pairs), ...(cookie !== undefined ? { cookie } : {}) };
      return new HostileRequest('POST', path, r.auth, headers, formText(r.pairs, r.encoding), more.target?.(r.pairs), options);
    });
}

/** The same hostile parameters in the query string of a request without a body. */
function queryRequest(method: string, path: string, auth: fc.Arbitrary<Auth>, base: fc.Arbitrary<Pair[]>, values: fc.Arbitrary<string>, more: HostileParams = {}): fc.Arbitrary<HostileRequest> {
  return fc
    .record({ auth, pairs: hostilePairs(base, values, more), encoding: fc.constantFrom(...ENCODINGS), odd: oddHeaders, cookie: more.cookie ?? fc.constant(undefined) })
    .map((r) => {
      const query = r.encoding === 'raw' ? formText(r.pairs, 'raw').replace(/#/g, '%23') : formText(r.pairs, r.encoding);
      const odd = { ...r.odd };
      delete odd['Content-Encoding'];
      const head = fitHead(`${path}?${query}`, r.auth, odd, r.cookie);
      const options = { ...more.options?.(r.pairs), ...(head.cookie !== undefined ? { cookie: head.cookie } : {}) };
      return new HostileRequest(method, head.path, r.auth, odd, undefined, more.target?.(r.pairs), options);
    });
}

// --- the app --------------------------------------------------------------------

async function adminJson(path: string, body?: unknown, method = 'POST'): Promise<Record<string, unknown>> {
  const res = await svc.admin(path, { method, json: body });
  if (res.status >= 300) throw new Error(`${method} ${path} failed: ${res.status} ${await res.text()}`);
  return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
}

async function tokenFor(authorization: Record<string, string>, params: Record<string, string>): Promise<string> {
  const res = await fetch(`${svc.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...authorization },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
  });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  db = await createDatabase('registrar_hostile');
  svc = await startApp({ env: { DSN: db.dsn, OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '0', FETCH_TIMEOUT: '1s' } });

  const iat = await adminJson('/admin/initial-access-tokens', { max_uses: 1_000_000, description: 'hostile input' });
  const usedUp = await adminJson('/admin/initial-access-tokens', { max_uses: 1 });
  const revoked = await adminJson('/admin/initial-access-tokens', { max_uses: 5 });
  const forDcr = await adminJson('/admin/initial-access-tokens', { max_uses: 1 });
  const used = await register(svc, machineClient(), usedUp.token as string);
  if (used.status !== 201) throw new Error(`registration failed: ${used.status}`);
  await adminJson(`/admin/initial-access-tokens/${revoked.id as string}`, undefined, 'DELETE');
  const dcrRes = await register(svc, machineClient(), forDcr.token as string);
  if (dcrRes.status !== 201) throw new Error(`registration failed: ${dcrRes.status}`);
  const dcr = (await dcrRes.json()) as Record<string, string>;
  const adminTarget = await adminJson('/admin/clients', machineClient({ metadata: { tier: 'gold' }, contacts: ['a@example.com'] }));
  const opaque = await adminJson('/admin/clients', machineClient({ access_token_strategy: 'opaque' }));
  const post = await adminJson('/admin/clients', machineClient({ access_token_strategy: 'jwt', token_endpoint_auth_method: 'client_secret_post' }));
  fx = {
    iat: iat.token as string,
    iatId: iat.id as string,
    usedUpIat: usedUp.token as string,
    revokedIat: revoked.token as string,
    dcr: { id: dcr.client_id, secret: dcr.client_secret, rat: dcr.registration_access_token },
    adminTarget: adminTarget.client_id as string,
    opaque: { id: opaque.client_id as string, secret: opaque.client_secret as string },
    post: { id: post.client_id as string, secret: post.client_secret as string },
    opaqueToken: '',
    jwtToken: '',
  };
  fx.opaqueToken = await tokenFor({ Authorization: basic(fx.opaque.id, fx.opaque.secret) }, {});
  // Also creates the signing key, so that no property sees it appear.
  fx.jwtToken = await tokenFor({}, { client_id: fx.post.id, client_secret: fx.post.secret });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  if (db) await dropDatabase(db.name);
});

// --- auth of each kind --------------------------------------------------------------

const iatAuth = (): fc.Arbitrary<Auth> =>
  fc.oneof(
    { weight: 17, arbitrary: fc.constant<Auth>({ label: 'Bearer <valid multi-use IAT>', credential: 'iat', value: () => `Bearer ${fx.iat}` }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Auth>(
        { label: 'bearer <valid multi-use IAT>', credential: 'iat', value: () => `bearer ${fx.iat}` },
        { label: 'Bearer  <valid multi-use IAT>  ', credential: 'iat', value: () => `Bearer  ${fx.iat}  ` },
      ),
    },
    { weight: 2, arbitrary: junkAuth },
  );

const notAnIat = (): fc.Arbitrary<Auth> =>
  fc.oneof(
    junkAuth,
    fc.constantFrom<Auth>(
      { label: 'Bearer <used-up IAT>', value: () => `Bearer ${fx.usedUpIat}` },
      { label: 'Bearer <revoked IAT>', value: () => `Bearer ${fx.revokedIat}` },
      { label: 'Bearer <admin key>', value: () => `Bearer ${ADMIN_KEY}` },
      { label: 'Bearer <a registration access token>', value: () => `Bearer ${fx.dcr.rat}` },
      { label: 'Bearer <valid IAT>x', value: () => `Bearer ${fx.iat}x` },
      { label: 'Bearer <valid IAT without its last character>', value: () => `Bearer ${fx.iat.slice(0, -1)}` },
      { label: 'Basic <valid IAT>', value: () => `Basic ${fx.iat}` },
      { label: 'Bearer <valid IAT>,<valid IAT>', value: () => `Bearer ${fx.iat},${fx.iat}` },
    ),
  );

const adminAuth = (): fc.Arbitrary<Auth> =>
  fc.oneof(
    { weight: 18, arbitrary: fc.constant<Auth>({ label: 'Bearer <admin key>', credential: 'admin', value: () => `Bearer ${ADMIN_KEY}` }) },
    { weight: 1, arbitrary: junkAuth },
    { weight: 1, arbitrary: fc.constantFrom<Auth>({ label: 'Bearer <admin key>x', value: () => `Bearer ${ADMIN_KEY}x` }, { label: 'Basic <admin key>', value: () => `Basic ${ADMIN_KEY}` }) },
  );

const ratAuth = (): fc.Arbitrary<Auth> =>
  fc.oneof(
    { weight: 18, arbitrary: fc.constant<Auth>({ label: 'Bearer <current registration access token>', credential: 'rat', value: () => `Bearer ${fx.dcr.rat}` }) },
    { weight: 1, arbitrary: junkAuth },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Auth>(
        { label: 'Bearer <the client secret>', value: () => `Bearer ${fx.dcr.secret}` },
        { label: 'Bearer <valid IAT>', value: () => `Bearer ${fx.iat}` },
        { label: 'Bearer <admin key>', value: () => `Bearer ${ADMIN_KEY}` },
      ),
    },
  );

const clientAuth = (): fc.Arbitrary<Auth> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant<Auth>({ label: 'Basic <valid, opaque client>', credential: 'opaque', value: () => basic(fx.opaque.id, fx.opaque.secret) }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<Auth>(
        { label: 'basic <valid, opaque client>', credential: 'opaque', value: () => `basic ${basic(fx.opaque.id, fx.opaque.secret).slice(6)}` },
        { label: 'Basic <opaque client, wrong secret>', value: () => basic(fx.opaque.id, `${fx.opaque.secret}x`) },
        { label: 'Basic <post client, its secret>', value: () => basic(fx.post.id, fx.post.secret) },
        { label: 'Basic <opaque client id only>', value: () => `Basic ${Buffer.from(fx.opaque.id).toString('base64')}` },
        { label: 'Bearer <opaque token>', value: () => `Bearer ${fx.opaqueToken}` },
      ),
    },
    { weight: 3, arbitrary: junkAuth },
  );

const tokenValues = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: shortString },
    { weight: 1, arbitrary: longString },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'client_credentials', JWT_BEARER, 'read', 'read write', 'admin', 'access_token', 'refresh_token',
        fx.opaque.id, fx.opaque.secret, fx.post.id, fx.post.secret, fx.opaqueToken, fx.jwtToken,
        `${fx.jwtToken.slice(0, -2)}AA`, fx.jwtToken.split('.').slice(0, 2).join('.') + '.', fx.jwtToken.replace(/^[^.]+/, base64url('{"alg":"none","kid":"\\u0000"}')),
        `${fx.opaqueToken}x`, 'a.b.c', '..', 'x'.repeat(8_193),
        'https://api.example.com', 'https://api.example.com/#x', '/relative', 'urn:example:resource',
      ),
    },
  );

/** A POST of any client metadata as JSON (in any JSON media type, with odd headers) to `path`. */
function metadataPost(path: string, auth: fc.Arbitrary<Auth>): fc.Arbitrary<HostileRequest> {
  return fc
    .record({ auth, body: jsonBody(metadataObject()), contentType: jsonContentType, odd: oddHeaders })
    .map((r) => new HostileRequest('POST', path, r.auth, headersOf(r.contentType, r.odd), r.body));
}

/** The client_id member of an update body: mostly the client's own id, sometimes none or a hostile value. */
function clientIdMember(id: string): fc.Arbitrary<Array<[string, unknown]>> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant<Array<[string, unknown]>>([['client_id', id]]) },
    { weight: 1, arbitrary: fc.constant<Array<[string, unknown]>>([]) },
    { weight: 1, arbitrary: hostileValue.map((v): Array<[string, unknown]> => [['client_id', v]]) },
  );
}

// --- the properties -------------------------------------------------------------------

describe('hostile input never gets a 5xx, always gets a JSON error, and a refused request changes no state', () => {
  it(
    'POST /oauth2/register with a valid multi-use initial access token answers 201 or a JSON 4xx; a refused body creates no client and takes no use of the token',
    async () => {
      const request = metadataPost('/oauth2/register', iatAuth());
      await checkProperty(request, RUNS.registerWithIat, {
        expect: (o) => {
          if (!ok(o)) return undefined;
          if (o.status !== 201) return `a registration answered ${o.status}, not 201`;
          const body = o.json;
          if (!isObject(body) || typeof body.client_id !== 'string' || typeof body.registration_access_token !== 'string') {
            return 'the 201 lacks client_id or registration_access_token';
          }
          if ('access_token_strategy' in body || 'metadata' in body) return 'the 201 shows the strategy or operator metadata to a registrant';
          if (o.cacheControl !== 'no-store') return 'the 201 carries secrets without Cache-Control: no-store';
          return undefined;
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'POST /oauth2/register without a valid initial access token never registers a client: 401 invalid_token with a Bearer challenge, or a JSON 4xx for the body',
    async () => {
      const request = metadataPost('/oauth2/register', notAnIat());
      await checkProperty(request, RUNS.registerWithoutIat, {
        expect: (o) => {
          if (o.status < 400) return `a registration without a valid IAT answered ${o.status}`;
          return bearerRefusalViolation(o, 401, 'invalid_token');
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'PUT /oauth2/register/{client_id} with the current registration access token: a refused update leaves the client and its token unchanged, and concurrent PUTs with one token succeed at most once',
    async () => {
      const request = fc
        .record({
          auth: ratAuth(),
          pathId: fc.oneof({ weight: 19, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 1, arbitrary: hostileId }),
          body: jsonBody(metadataObject(clientIdMember(fx.dcr.id))),
          contentType: jsonContentType,
          odd: oddHeaders,
        })
        .map(
          (r) =>
            new HostileRequest(
              'PUT',
              `/oauth2/register/${r.pathId ?? encodeURIComponent(fx.dcr.id)}`,
              r.auth,
              headersOf(r.contentType, r.odd),
              r.body,
              r.pathId === undefined ? 'dcr' : undefined,
            ),
        );
      await checkProperty(request, RUNS.dcrPut, {
        expect: (o) => {
          if (!ok(o)) return undefined;
          const body = o.json;
          if (!isObject(body) || typeof body.registration_access_token !== 'string') return 'a successful PUT returns no new registration_access_token';
          if ('access_token_strategy' in body || 'metadata' in body) return 'a PUT response shows the strategy or operator metadata to a registrant';
          return undefined;
        },
        afterBatch: (before, after, outcomes) => {
          const succeeded = outcomes.filter((o) => o.request.target === 'dcr' && ok(o));
          if (succeeded.length > 1) throw new Error(`${succeeded.length} concurrent PUTs with one registration access token succeeded:\n${summary(succeeded)}`);
          if (succeeded.length === 1) {
            const body = succeeded[0].json as Record<string, string>;
            const [was, now] = [before.watched[fx.dcr.id], after.watched[fx.dcr.id]];
            if (now?.rat_hash !== ratHash(body.registration_access_token)) throw new Error(`the stored registration access token is not the one the PUT returned:\n${summary(succeeded)}`);
            // RFC 7592 §2.2: a secret is returned only when the server issued a new one (e.g. the update moved off auth method none).
            const issued = now?.secret_hash !== was?.secret_hash && now?.secret_hash !== null;
            if ('client_secret' in body !== issued) {
              throw new Error(`a PUT ${issued ? 'issued a new secret without returning it' : 'returned the client secret without issuing a new one'}:\n${summary(succeeded)}`);
            }
            fx.dcr.rat = body.registration_access_token;
          }
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'POST /admin/clients answers 201 or a JSON 4xx to any body; a refused one creates no client',
    async () => {
      const request = metadataPost('/admin/clients', adminAuth());
      await checkProperty(request, RUNS.adminCreate, {
        expect: (o) => (ok(o) && (o.status !== 201 || !isObject(o.json) || o.json.created_via !== 'admin') ? `a create answered ${o.status} ${abbreviate(o.text)}` : undefined),
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'PUT and PATCH /admin/clients/{id} answer 200 or a JSON 4xx to any body, patch or id; a refused one leaves the client unchanged',
    async () => {
      const pointer = fc.oneof(
        fc.constantFrom(
          '', '/', '/client_name', '/client_id', '/metadata', '/metadata/tier', '/metadata/__proto__', '/metadata/__proto__/polluted', '/__proto__',
          '/__proto__/polluted', '/constructor/prototype/polluted', '/contacts/-', '/contacts/0', '/contacts/01', '/contacts/99999999999999999999',
          '/redirect_uris/-1', '/grant_types/0', '/access_token_strategy', '/scope', '/~', '/~2', '/a~1b~0c', 'client_name', '/jwks/keys/0/d',
        ),
        fc.constantFrom(...METADATA_FIELDS).map((f) => `/${f}`),
        shortString.map((s) => `/${s}`),
      );
      const operation = fc
        .record({
          op: fc.oneof({ weight: 8, arbitrary: fc.constantFrom<unknown>('add', 'remove', 'replace', 'move', 'copy', 'test') }, { weight: 1, arbitrary: fc.constantFrom<unknown>('ADD', '', '_get', 'merge', '__proto__') }, { weight: 1, arbitrary: smallValue }),
          path: fc.oneof({ weight: 9, arbitrary: pointer as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: smallValue }),
          from: fc.option(pointer, { nil: undefined }),
          value: fc.option(hostileValue, { nil: undefined }),
          extra: fc.array(fc.oneof(fc.tuple(memberName, smallValue) as fc.Arbitrary<[string, unknown]>, pollution), { maxLength: 2 }),
        })
        .map(
          (o) =>
            new JsonMembers([
              ['op', o.op],
              ['path', o.path],
              ...(o.from !== undefined ? ([['from', o.from]] as Array<[string, unknown]>) : []),
              ...(o.value !== undefined ? ([['value', o.value]] as Array<[string, unknown]>) : []),
              ...o.extra,
            ]),
        );
      const patchDocument = fc.oneof(
        { weight: 10, arbitrary: fc.array(operation, { maxLength: 6 }).map(jsonText) },
        { weight: 1, arbitrary: fc.constant(jsonText(Array.from({ length: 101 }, () => ({ op: 'add', path: '/contacts/-', value: 'b@example.com' })))) },
        { weight: 1, arbitrary: hostileValue.map(jsonText) },
        { weight: 1, arbitrary: brokenJson },
        { weight: 1, arbitrary: invalidUtf8Body },
      );
      const request = fc
        .record({
          method: fc.constantFrom('PUT', 'PATCH'),
          auth: adminAuth(),
          pathId: fc.oneof({ weight: 9, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 1, arbitrary: hostileId }),
          putBody: jsonBody(metadataObject(clientIdMember(fx.adminTarget))),
          patchBody: patchDocument,
          contentType: jsonContentType,
          odd: oddHeaders,
        })
        .map(
          (r) =>
            new HostileRequest(
              r.method,
              `/admin/clients/${r.pathId ?? encodeURIComponent(fx.adminTarget)}`,
              r.auth,
              headersOf(r.contentType, r.odd),
              r.method === 'PUT' ? r.putBody : r.patchBody,
              r.pathId === undefined ? 'admin' : undefined,
            ),
        );
      await checkProperty(request, RUNS.adminUpdate, {
        expect: (o) => (ok(o) && (o.status !== 200 || !isObject(o.json) || o.json.client_id !== fx.adminTarget) ? `an update answered ${o.status} ${abbreviate(o.text)}` : undefined),
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'POST /oauth2/token answers a token or a JSON 4xx to any form, header or media type; only issued opaque tokens add rows',
    async () => {
      const base = fc.oneof(
        fc.constantFrom<Pair[]>(
          [['grant_type', 'client_credentials']],
          [],
          [['grant_type', 'client_credentials'], ['client_id', fx.post.id], ['client_secret', fx.post.secret]],
          [['grant_type', 'client_credentials'], ['client_id', fx.opaque.id]],
          [['grant_type', 'client_credentials'], ['client_assertion_type', JWT_BEARER], ['client_assertion', fx.jwtToken]],
          [['grant_type', 'authorization_code'], ['code', 'x'], ['redirect_uri', 'https://app.example.com/cb']],
          [['grant_type', 'client_credentials'], ['scope', 'read write admin']],
        ),
        // Any client_id, with or without a secret (client_secret_post and none).
        fc.tuple(shortString, fc.option(shortString, { nil: undefined })).map(([id, secret]): Pair[] => [
          ['grant_type', 'client_credentials'],
          ['client_id', id],
          ...(secret === undefined ? [] : ([['client_secret', secret]] as Pair[])),
        ]),
      );
      const request = formRequest('/oauth2/token', clientAuth(), base, tokenValues());
      await checkProperty(request, RUNS.token, {
        expect: (o) => {
          if (!ok(o)) return undefined;
          const body = o.json;
          if (o.status !== 200 || !isObject(body) || typeof body.access_token !== 'string' || body.token_type !== 'Bearer') return `a token response is malformed: ${o.status} ${abbreviate(o.text)}`;
          if (o.cacheControl !== 'no-store') return 'a token response lacks Cache-Control: no-store';
          return undefined;
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  // Built when the test runs: the forms name the fixtures.
  const introspectionEndpoints = [
    {
      path: '/oauth2/introspect',
      auth: clientAuth,
      base: () =>
        fc.oneof(
          tokenValues().map((t): Pair[] => [['token', t]]),
          fc.constantFrom<Pair[]>([], [['token', fx.opaqueToken], ['client_id', fx.post.id], ['client_secret', fx.post.secret]], [['token', fx.jwtToken], ['token_type_hint', 'refresh_token']]),
          fc.tuple(shortString, shortString).map(([id, secret]): Pair[] => [['token', fx.opaqueToken], ['client_id', id], ['client_secret', secret]]),
        ),
      runs: RUNS.introspect,
    },
    {
      path: '/admin/oauth2/introspect',
      auth: adminAuth,
      base: () => fc.oneof(tokenValues().map((t): Pair[] => [['token', t]]), fc.constant<Pair[]>([])),
      runs: RUNS.adminIntrospect,
    },
  ];

  it.each(introspectionEndpoints)(
    'POST $path answers {"active": boolean} or a JSON 4xx to any form, and changes nothing',
    async ({ path, auth, base, runs }) => {
      const request = formRequest(path, auth(), base(), tokenValues());
      await checkProperty(request, runs, {
        expect: (o) => (ok(o) && !(isObject(o.json) && typeof o.json.active === 'boolean') ? `an introspection answered ${o.status} ${abbreviate(o.text)}` : undefined),
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'GET /admin/clients answers a JSON array with a Link header or a JSON 4xx to any query string (page_size, page_token, owner, client_name), and changes nothing',
    async () => {
      const name = fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom('page_size', 'page_token', 'owner', 'client_name') },
        { weight: 1, arbitrary: fc.constantFrom('page_size[]', 'owner[a]', 'owner[]', 'limit', 'offset', '', ...PROTOTYPE_KEYS) },
        { weight: 1, arbitrary: shortString },
      );
      const pageSize = fc.oneof(
        fc.constantFrom('1', '2', '100', '500', '501', '0', '-1', '1.5', '1e2', '0x10', ' 1', '1 ', '+1', '00001', '99999999999999999999', 'NaN', 'Infinity', '', 'null'),
        fc.integer().map(String),
        shortString,
      );
      const filter = fc.oneof(
        { weight: 3, arbitrary: shortString },
        { weight: 1, arbitrary: fc.constantFrom('', '\u0000', 'a\u0000b', '\ud800', '\udfff', '%', '%%', '_', '*', "'", '\\', '\u2028', 'a'.repeat(2_001)) },
      );
      const pageToken = fc.oneof(
        smallValue.map((v) => base64url(jsonText(new JsonMembers([['after', v]])))),
        filter.map((after) => base64url(jsonText(new JsonMembers([['after', after]])))),
        shortString.map(base64url),
        fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64url')),
        fc.constantFrom(base64url('{"after":"zzzz"}'), base64url('{"__proto__":{"after":"x"}}'), base64url('{"after":"x","after":1}'), 'e30', '', '%', '!!!'),
      );
      const anyValue = fc.oneof(pageSize, pageToken, filter);
      const pairs = fc
        .record(
          {
            page_size: pageSize.map((v): [string, string] => ['page_size', v]),
            page_token: pageToken.map((v): [string, string] => ['page_token', v]),
            owner: filter.map((v): [string, string] => ['owner', v]),
            client_name: filter.map((v): [string, string] => ['client_name', v]),
            extra: fc.array(fc.tuple(name, anyValue), { maxLength: 3 }),
          },
          { requiredKeys: [] },
        )
        .map((r) => [r.page_size, r.page_token, r.owner, r.client_name, ...(r.extra ?? [])].filter((p): p is [string, string] => p !== undefined));
      const request = fc
        .record({ auth: adminAuth(), pairs, encoding: fc.constantFrom('percent', 'percent', 'raw'), odd: oddHeaders })
        .map((r) => {
          const encode = r.encoding === 'raw' ? (s: string) => s.replace(/#/g, '%23') : percentEncode;
          const queryString = r.pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
          const odd = { ...r.odd };
          delete odd['Content-Encoding'];
          return new HostileRequest('GET', `/admin/clients?${queryString.slice(0, 12_000)}`, r.auth, odd);
        });
      await checkProperty(request, RUNS.adminList, {
        expect: (o) => {
          if (!ok(o)) return undefined;
          if (!Array.isArray(o.json)) return `a list answered ${o.status} with a body that is not an array`;
          if (!o.json.every((c) => isObject(c) && typeof c.client_id === 'string')) return 'a list item has no client_id';
          if (!(o.link ?? '').includes('rel="first"')) return `a list page has no Link header with rel="first" (Link: ${o.link})`;
          return undefined;
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(`sends at least ${MIN_REQUESTS} generated requests over the file`, () => {
    expect(requestsSent).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });
});

// --- the authorization code flow ----------------------------------------------------
//
// The routes of the flow take the same hostile values, also in cookies. The
// single-use values (challenges, verifiers, codes, refresh tokens) are real:
// each batch gets live ones from flows started through the admin API, so that
// hostile requests reach the service logic, and answers that were accepted are
// carried on to a code and tokens, which must work whatever the answer held.

const WEB_CB = 'https://app.example.com/cb';
const WEB_CB2 = 'https://app.example.com/cb2';
const WEB_LOGGED_OUT = 'https://app.example.com/logged-out';
const NATIVE_CB = 'http://127.0.0.1/callback';
const NATIVE_APP_CB = 'com.example.app:/cb';
const API = 'https://api.example.com';
const CSRF_COOKIE = 'registrar_csrf_';

interface FlowFixtures {
  web: { id: string; secret: string };
  native: string;
  /** Tokens of a completed flow that was granted openid. */
  openid: { accessToken: string; idToken: string };
  /** A subject with a remembered login and a remembered consent, for the session admin API. */
  sessionsSubject: string;
  sessionsSid: string;
}
let flowFx: FlowFixtures;
let subjects = 0;
const subject = (kind: string): string => `hostile-${kind}-${(subjects += 1)}`;
const ph = placeholder;

const adminKeyAuth: Auth = { label: 'Bearer <admin key>', credential: 'admin', value: () => `Bearer ${ADMIN_KEY}` };
const webAuth: Auth = { label: 'Basic <web client>', value: () => basic(flowFx.web.id, flowFx.web.secret) };
const bearer = (label: string, token: () => string): Auth => ({ label: `Bearer <${label}>`, value: () => `Bearer ${token()}` });

/** The issuer's own pages a browser is sent to: the (development) login and consent apps and the authorization endpoint. */
const issuerPages = (): string[] => [`${svc.url}/dev/login`, `${svc.url}/dev/consent`, `${svc.url}/oauth2/auth`];

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function cookiesSet(res: Response): Map<string, string> {
  const set = new Map<string, string>();
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(';')[0];
    set.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
  }
  return set;
}

/** A browser's GET that follows nothing. */
function browse(url: string, cookie?: string): Promise<Response> {
  return fetch(url, { redirect: 'manual', headers: cookie ? { Cookie: cookie } : {} });
}

async function redirectOf(res: Response, what: string): Promise<URL> {
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`${what}: expected a redirect, got ${res.status} ${location ?? ''} ${await res.text()}`);
  return new URL(location);
}

/** A flow started in a browser of its own: the login challenge, the flow's cookie, and the PKCE verifier. */
interface StartedFlow {
  id: string;
  challenge: string;
  /** The flow's cookie, "name=value". */
  cookie: string;
  csrfName: string;
  csrf: string;
  verifier: string;
  subject: string;
}

async function startFlow(kind: string, params: Record<string, string> = {}, cookie?: string): Promise<StartedFlow> {
  const { verifier, challenge } = pkce();
  const url = new URL('/oauth2/auth', svc.url);
  const all = {
    client_id: flowFx.web.id, response_type: 'code', redirect_uri: WEB_CB, scope: 'openid offline_access', audience: API,
    state: 'fixture-state', nonce: 'fixture-nonce', code_challenge: challenge, code_challenge_method: 'S256', ...params,
  };
  for (const [k, v] of Object.entries(all)) url.searchParams.set(k, v);
  const res = await browse(url.toString(), cookie);
  const location = await redirectOf(res, 'starting a flow');
  const loginChallenge = location.searchParams.get('login_challenge');
  const csrf = [...cookiesSet(res)].find(([name]) => name.startsWith(CSRF_COOKIE));
  if (!loginChallenge || !csrf) throw new Error(`starting a flow: no login challenge or flow cookie in ${location.toString()}`);
  const { rows } = await query(`SELECT id FROM authorization_flows WHERE id LIKE $1 ORDER BY requested_at DESC LIMIT 1`, [`${csrf[0].slice(CSRF_COOKIE.length)}%`], db!.dsn);
  return { id: rows[0].id as string, challenge: loginChallenge, cookie: `${csrf[0]}=${csrf[1]}`, csrfName: csrf[0], csrf: csrf[1], verifier, subject: cookie ? live.session_subject : subject(kind) };
}

/** The login or consent app's answer over the admin API; returns redirect_to. */
async function answer(step: 'login' | 'consent', how: 'accept' | 'reject', challenge: string, body: unknown): Promise<string> {
  const res = await svc.admin(`/admin/oauth2/auth/requests/${step}/${how}?${step}_challenge=${encodeURIComponent(challenge)}`, { method: 'PUT', json: body });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200 || typeof json.redirect_to !== 'string') throw new Error(`${how} ${step}: ${res.status} ${JSON.stringify(json)}`);
  return json.redirect_to;
}

async function loginVerifierOf(flow: StartedFlow, login: Record<string, unknown> = {}): Promise<string> {
  return answer('login', 'accept', flow.challenge, { subject: flow.subject, ...login });
}

async function consentChallengeOf(flow: StartedFlow, login: Record<string, unknown> = {}): Promise<{ challenge: string; res: Response }> {
  const res = await browse(await loginVerifierOf(flow, login), flow.cookie);
  const challenge = (await redirectOf(res, 'after login')).searchParams.get('consent_challenge');
  if (!challenge) throw new Error('after login: no consent challenge');
  return { challenge, res };
}

async function consentVerifierOf(flow: StartedFlow, login: Record<string, unknown> = {}, consent: Record<string, unknown> = {}): Promise<string> {
  const { challenge } = await consentChallengeOf(flow, login);
  return answer('consent', 'accept', challenge, { grant_scope: ['openid', 'offline_access'], grant_access_token_audience: [API], ...consent });
}

async function codeOf(flow: StartedFlow, login: Record<string, unknown> = {}, consent: Record<string, unknown> = {}): Promise<string> {
  const callback = await redirectOf(await browse(await consentVerifierOf(flow, login, consent), flow.cookie), 'after consent');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`after consent: no code in ${callback.toString()}`);
  return code;
}

async function tokenCall(params: Record<string, string>): Promise<Record<string, string>> {
  const res = await fetch(`${svc.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(flowFx.web.id, flowFx.web.secret) },
    body: new URLSearchParams(params).toString(),
  });
  const json = (await res.json()) as Record<string, string>;
  if (res.status !== 200) throw new Error(`token request ${params.grant_type}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const exchange = (code: string, verifier: string) => tokenCall({ grant_type: 'authorization_code', code, redirect_uri: WEB_CB, code_verifier: verifier });

/** Logs a subject in with remember; returns the session cookie's value (id.signature). */
async function rememberedSession(kind: string): Promise<{ flow: StartedFlow; cookie: string; res: Response }> {
  const flow = await startFlow(kind);
  const { res } = await consentChallengeOf(flow, { remember: true, remember_for: 3600 });
  const cookie = cookiesSet(res).get('registrar_session');
  if (!cookie) throw new Error('a remembered login set no session cookie');
  return { flow, cookie, res };
}

/** Live flows: their cookies and PKCE verifiers, by what the requests address. */
const flowCookies: Partial<Record<LiveTarget, string>> = {};
const flowVerifiers: Partial<Record<LiveTarget, string>> = {};
/** Live values a batch used up, renewed before the next. */
const renew = new Set<string>();

function watchFlow(target: LiveTarget, flow: StartedFlow): void {
  liveFlows[target] = flow.id;
  flowCookies[target] = flow.cookie;
  flowVerifiers[target] = flow.verifier;
}

function resetLive(): void {
  liveFlows = {};
  renew.clear();
  for (const name of ['login_challenge', 'consent_challenge', 'login_verifier', 'consent_verifier', 'code', 'refresh_token']) delete live[name];
}

/** A login challenge and a consent challenge, each of a flow of its own, renewed once answered; the last answered ones stay as replays. */
let skipNext = false;

async function prepareChallenges(): Promise<void> {
  if (!live.login_challenge || renew.has('login_challenge')) {
    if (live.login_challenge) live.answered_login_challenge = live.login_challenge;
    // Every other one in a browser with a remembered login: skip is true, and only its subject may be accepted.
    skipNext = !skipNext;
    const flow = await startFlow('login', {}, skipNext ? `registrar_session=${live.session}` : undefined);
    live.login_challenge = flow.challenge;
    watchFlow('login_challenge', flow);
  }
  if (!live.consent_challenge || renew.has('consent_challenge')) {
    if (live.consent_challenge) live.answered_consent_challenge = live.consent_challenge;
    const flow = await startFlow('consent');
    live.consent_challenge = (await consentChallengeOf(flow)).challenge;
    watchFlow('consent_challenge', flow);
  }
  renew.clear();
}

/**
 * Carries an answered login or consent request on: the browser with the flow's
 * cookie follows the verifier, the consent (if still to give) is granted, the
 * code is redeemed and the tokens used. Whatever the hostile answer held, none
 * of this may fail, and errors go back to the client's redirect URI.
 */
async function followThrough(target: 'login_challenge' | 'consent_challenge', answered: Outcome, verifierUrl: string): Promise<void> {
  const context = `carrying on the flow answered by ${describeRequest(answered.request)} (${answered.status})`;
  const step = async (r: HostileRequest, expected: (o: Outcome) => boolean): Promise<Outcome> => {
    const o = await send(r);
    const found = violations(o);
    if (!expected(o)) found.push(`the next step of the flow answered ${o.status}`);
    if (found.length > 0) throw new Error(`${context}:\n${explain(o, found)}`);
    return o;
  };
  const inBrowser = (url: string) => {
    const u = new URL(url);
    return new HostileRequest('GET', u.pathname + u.search, noAuth, {}, undefined, undefined, { cookie: flowCookies[target], redirects: [...issuerPages(), WEB_CB, WEB_CB2] });
  };
  const json = { 'Content-Type': 'application/json' };
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (!verifierUrl.startsWith(`${svc.url}/oauth2/auth?`)) throw new Error(`${context}: the answer sends the browser to ${verifierUrl}`);
  let location = new URL((await step(inBrowser(verifierUrl), (o) => o.status === 302)).location!);
  const consentChallenge = location.searchParams.get('consent_challenge');
  if (target === 'login_challenge' && consentChallenge) {
    const q = `consent_challenge=${encodeURIComponent(consentChallenge)}`;
    const view = (await step(new HostileRequest('GET', `/admin/oauth2/auth/requests/consent?${q}`, adminKeyAuth, {}), ok)).json as Record<string, unknown>;
    const grant = { grant_scope: view.requested_scope, grant_access_token_audience: view.requested_access_token_audience };
    const accepted = await step(new HostileRequest('PUT', `/admin/oauth2/auth/requests/consent/accept?${q}`, adminKeyAuth, json, JSON.stringify(grant)), ok);
    location = new URL((await step(inBrowser((accepted.json as Record<string, string>).redirect_to), (o) => o.status === 302)).location!);
  }
  const code = location.searchParams.get('code');
  if (!code) {
    if (!location.searchParams.get('error')) throw new Error(`${context}: the flow ended at ${location.toString()}, with neither code nor error`);
    return;
  }
  const redeem = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: WEB_CB, code_verifier: flowVerifiers[target]! });
  const tokens = (await step(new HostileRequest('POST', '/oauth2/token', webAuth, form, redeem.toString()), (o) => o.status === 200)).json as Record<string, string>;
  await step(new HostileRequest('GET', '/userinfo', bearer('the access token', () => tokens.access_token), {}), (o) => o.status === 200 || o.status === 403);
  await step(new HostileRequest('POST', '/oauth2/introspect', webAuth, form, `token=${tokens.access_token}`), (o) => ok(o) && isObject(o.json) && o.json.active === true);
  if (tokens.refresh_token) {
    await step(new HostileRequest('POST', '/oauth2/token', webAuth, form, `grant_type=refresh_token&refresh_token=${tokens.refresh_token}`), (o) => o.status === 200);
  }
}

/** Follows up each live challenge a batch answered (at most one each); the challenge is renewed for the next batch. */
async function followAnswers(outcomes: Outcome[]): Promise<boolean> {
  let worked = false;
  for (const target of ['login_challenge', 'consent_challenge'] as const) {
    // PUT accept or reject, a form posted to a development page, or a development page accepting a remembered login.
    // A page redirecting to the authorization endpoint without a verifier restarts an answered request; it answers nothing.
    const answered = outcomes.filter(
      (o) => o.request.target === target && (o.request.method === 'GET' ? o.status === 302 && (o.location ?? '').includes('_verifier=') : o.status > 0 && o.status < 400),
    );
    if (answered.length > 1) throw new Error(`the live ${target} was answered ${answered.length} times in one batch:\n${summary(answered)}`);
    if (answered.length === 0) continue;
    const [o] = answered;
    const verifierUrl = o.status === 200 && isObject(o.json) ? o.json.redirect_to : o.location;
    if (typeof verifierUrl !== 'string') throw new Error(`an answer without redirect_to or Location:\n${summary(answered)}`);
    renew.add(target);
    worked = true;
    await followThrough(target, o, verifierUrl);
  }
  return worked;
}

/** A cookie's value in a Cookie header as written (placeholders unresolved): the first pair of that name, trimmed. */
function cookieIn(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq >= 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Carries a flow that a hostile authorization request started through the
 * login request, the development login page, the login answer, the consent
 * request and page, the consent answer, the code and the token endpoint: what
 * the request carried (state, nonce, login_hint, display, ui_locales,
 * acr_values, prompt, max_age, scope, audience) may not break a later step, and
 * the browser goes only where the request may send it.
 */
async function carryOn(started: Outcome, codeVerifier: string): Promise<void> {
  const context = `carrying on the flow started by ${describeRequest(started.request)}`;
  const step = async (r: HostileRequest, expected: (o: Outcome) => boolean): Promise<Outcome> => {
    const o = await send(r);
    const found = violations(o);
    if (!expected(o)) found.push(`the next step of the flow answered ${o.status}`);
    if (found.length > 0) throw new Error(`${context}:\n${explain(o, found)}`);
    return o;
  };
  const csrf = started.setCookies.map((c) => c.split(';')[0]).find((c) => c.startsWith(CSRF_COOKIE));
  if (!csrf) throw new Error(`${context}: the flow set no flow cookie`);
  const inBrowser = (url: string) => {
    const u = new URL(url);
    return new HostileRequest('GET', u.pathname + u.search, noAuth, {}, undefined, undefined, { cookie: csrf, html: true, redirects: started.request.options.redirects });
  };
  const json = { 'Content-Type': 'application/json' };
  const lq = `login_challenge=${new URL(started.location!).searchParams.get('login_challenge')}`;
  const view = (await step(new HostileRequest('GET', `/admin/oauth2/auth/requests/login?${lq}`, adminKeyAuth, {}), ok)).json as Record<string, unknown>;
  // The development page accepts a remembered login itself.
  const page = await step(inBrowser(`${svc.url}/dev/login?${lq}`), (o) => o.status === 200 || (view.skip === true && o.status === 302));
  const toVerifier = page.status === 302
    ? page.location!
    : ((await step(new HostileRequest('PUT', `/admin/oauth2/auth/requests/login/accept?${lq}`, adminKeyAuth, json, JSON.stringify({ subject: subject('carried') })), ok)).json as Record<string, string>).redirect_to;
  let location = new URL((await step(inBrowser(toVerifier), (o) => o.status === 302)).location!);
  const consentChallenge = location.searchParams.get('consent_challenge');
  if (consentChallenge) {
    const cq = `consent_challenge=${encodeURIComponent(consentChallenge)}`;
    const consent = (await step(new HostileRequest('GET', `/admin/oauth2/auth/requests/consent?${cq}`, adminKeyAuth, {}), ok)).json as Record<string, unknown>;
    await step(inBrowser(`${svc.url}/dev/consent?${cq}`), (o) => o.status === 200);
    const grant = { grant_scope: consent.requested_scope, grant_access_token_audience: consent.requested_access_token_audience, session: { id_token: { name: 'carried' } } };
    const accepted = await step(new HostileRequest('PUT', `/admin/oauth2/auth/requests/consent/accept?${cq}`, adminKeyAuth, json, JSON.stringify(grant)), ok);
    location = new URL((await step(inBrowser((accepted.json as Record<string, string>).redirect_to), (o) => o.status === 302)).location!);
  }
  const code = location.searchParams.get('code');
  if (!code) return; // an error for the client, e.g. consent_required for prompt=none
  // The code's redirect_uri and PKCE are what the request sent; a wrong guess here is refused, never a fault.
  const redirectUri = `${location.protocol}//${location.host}${location.pathname}`;
  const web = [WEB_CB, WEB_CB2].includes(redirectUri);
  const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: codeVerifier, ...(web ? {} : { client_id: flowFx.native }) });
  const tokens = await step(
    new HostileRequest('POST', '/oauth2/token', web ? webAuth : noAuth, { 'Content-Type': 'application/x-www-form-urlencoded' }, form.toString()),
    (o) => o.status === 200 || (o.status === 400 && isObject(o.json) && o.json.error === 'invalid_grant'),
  );
  const accessToken = isObject(tokens.json) ? tokens.json.access_token : undefined;
  if (typeof accessToken === 'string') await step(new HostileRequest('GET', '/userinfo', bearer('its access token', () => accessToken), {}), (o) => o.status === 200 || o.status === 403);
}

// --- generators of the flow ------------------------------------------------------------

const cookieJunk = fc.oneof(
  { weight: 9, arbitrary: fc.string({ unit: fc.constantFrom(...HEADER_CHARS), maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 4_000).map((n) => 'a'.repeat(n)) },
);

/** One cookie: the session and flow cookies right, tampered, misnamed, repeated (the first wins) or junk. */
const cookiePair = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      `registrar_session=${ph('session')}`, `registrar_session=${ph('session')}x`, `registrar_session=${ph('session_id')}`, `registrar_session=${ph('session_id')}.`,
      `registrar_session=.${ph('session_sig')}`, `registrar_session=${ph('session_id')}.${ph('login_csrf')}`, `registrar_session=${ph('session_id')}x.${ph('session_sig')}`,
      `registrar_session="${ph('session')}"`, `REGISTRAR_SESSION=${ph('session')}`, ` registrar_session = ${ph('session')} `, `registrar_session=${ph('logout_session')}`,
      'registrar_session=', 'registrar_session', 'registrar_session=a.b.c', 'registrar_session=...', 'registrar_session=%00', 'registrar_session=.',
      `${ph('login_csrf_name')}=${ph('login_csrf')}`, `${ph('login_csrf_name')}=${ph('login_csrf')}x`, `${ph('login_csrf_name')}=`, `${ph('login_csrf_name')}=${ph('consent_csrf')}`,
      `${ph('consent_csrf_name')}=${ph('consent_csrf')}`, `${ph('consent_csrf_name')}=${ph('login_csrf')}`, `${CSRF_COOKIE}=${ph('login_csrf')}`, `${CSRF_COOKIE}00000000=${ph('login_csrf')}`,
      '__proto__=x', 'constructor=1', 'hasOwnProperty=x', 'toString=', '=', '=x', 'x', '%', ';;', 'a=b=c',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.oneof(fc.constantFrom('registrar_session', ph('login_csrf_name'), ph('consent_csrf_name'), `${CSRF_COOKIE}x`), cookieJunk), cookieJunk)
      .map(([name, value]) => `${name}=${value}`),
  },
  { weight: 1, arbitrary: cookieJunk },
);

const hostileCookie: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.tuple(fc.array(cookiePair, { minLength: 1, maxLength: 4 }), fc.constantFrom('; ', ';', ' ; ')).map(([pairs, sep]) => pairs.join(sep)) },
  { weight: 1, arbitrary: fc.constantFrom(150, 400).map((n) => Array.from({ length: n }, (_, i) => `c${i}=${'v'.repeat(8)}`).join('; ')) },
);

/** The cookies a browser that started the live flows sends (the session cookie sometimes), with hostile ones before or after. */
const flowCookie: fc.Arbitrary<string | undefined> = fc
  .tuple(fc.array(cookiePair, { maxLength: 2 }), fc.boolean(), fc.boolean())
  .map(([extra, first, session]) => {
    const own = [`${ph('login_csrf_name')}=${ph('login_csrf')}`, `${ph('consent_csrf_name')}=${ph('consent_csrf')}`, ...(session ? [`registrar_session=${ph('session')}`] : [])];
    return (first ? [...own, ...extra] : [...extra, ...own]).join('; ');
  });

const AUTHORIZE_NAMES = [
  'client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'prompt', 'max_age',
  'audience', 'resource', 'login_verifier', 'consent_verifier', 'response_mode', 'request', 'request_uri', 'acr_values', 'ui_locales', 'login_hint',
  'display', 'id_token_hint', 'client_id[]', 'redirect_uri[0]', '', ...PROTOTYPE_KEYS,
];

/** Values for the authorization and logout endpoints: near misses of the valid ones, redirect URIs an attacker would try, hostile strings. */
function flowValues(): fc.Arbitrary<string> {
  const challenge = pkce().challenge;
  return fc.oneof(
    { weight: 3, arbitrary: shortString },
    { weight: 1, arbitrary: fc.oneof(longString, fc.constantFrom(2_048, 2_049).map((n) => 'a'.repeat(n))) },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        'code', 'CODE', 'code id_token', 'token', 'S256', 's256', 'plain', 'none', 'login', 'consent', 'select_account', 'none login', 'login consent',
        'query', 'fragment', 'form_post', '0', '-1', '1.5', '999999999', '1000000000', ' 1', '1e3', 'openid', 'openid offline_access',
        'openid  offline_access', 'offline', 'profile email', 'admin', 'openid admin', API, `${API} https://evil.example`, `${API}#x`, `${API}/`,
        challenge, challenge.slice(1), `${challenge}A`, `+${challenge.slice(1)}`,
        WEB_CB, WEB_CB2, `${WEB_CB}/`, `${WEB_CB}?x=1`, `${WEB_CB}#x`, 'https://APP.example.com/cb', 'https://app.example.com:443/cb',
        'https://app.example.com/CB', 'https://app.example.com/x/../cb', 'https://app.example.com.evil.example/cb', 'https://app.example.com@evil.example/cb',
        'https://evil.example/cb', '//evil.example/cb', 'javascript:alert(1)', 'data:text/html,x', NATIVE_CB, 'http://127.0.0.1:4567/callback',
        'http://127.0.0.1:4567/callback?x=1', 'http://user@127.0.0.1/callback', 'http://localhost/callback', 'http://[::1]/callback',
        'http://127.0.0.1/callback/../evil', 'http://127.0.0.1/%2e%2e/callback', 'http://127.0.0.1:99999/callback', NATIVE_APP_CB,
        'com.example.app://evil.example/cb', WEB_LOGGED_OUT, `${WEB_LOGGED_OUT}/`, `${WEB_LOGGED_OUT}?x=1`, 'https://evil.example/logged-out',
        flowFx.web.id, flowFx.native, fx.opaque.id, 'yes', 'YES', 'accept', 'deny', 'on',
        ph('login_verifier'), ph('consent_verifier'), ph('used_login_verifier'), ph('login_csrf'), ph('session'), ph('id_token'), ph('login_challenge'),
      ),
    },
  );
}

/** Values for JSON answers of the login and consent app. */
const CLAIM_NAMES = ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'auth_time', 'nonce', 'at_hash', 'acr', 'amr', 'azp', 'sid', 'email', 'client_id', 'scope', 'ext', 'active', 'token_type', 'typ', ...PROTOTYPE_KEYS];
const claims = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...CLAIM_NAMES), fc.string({ maxLength: 8 }), nastyString), hostileValue), { maxLength: 4 })
  .map((members) => new JsonMembers(members as Array<[string, unknown]>));
const ANSWER_FIELDS = [
  'subject', 'remember', 'remember_for', 'acr', 'amr', 'context', 'grant_scope', 'grant_access_token_audience', 'session', 'error',
  'error_description', 'error_hint', 'id_token', 'access_token', 'challenge', 'redirect_to', 'skip', 'client_id',
];
const answerMember: fc.Arbitrary<[string, unknown]> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(
      fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...ANSWER_FIELDS) }, { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) }, { weight: 1, arbitrary: nastyString }),
      fc.oneof(
        { weight: 4, arbitrary: hostileValue },
        {
          weight: 3,
          arbitrary: fc.constantFrom<unknown>(
            'alice', '', ' ', 'a'.repeat(255), 'a'.repeat(256), true, false, 'true', 0, 1, 3600, 315_360_000, 315_360_001, -1, 1.5, 2 ** 31,
            new RawJson('1e400'), new RawJson('-0'), new RawJson('1E3'), new RawJson('3600.0'), ['pwd'], ['pwd', 'otp', 'pwd'], [1], Array.from({ length: 101 }, () => 'x'),
            ['openid'], ['openid', 'offline_access'], ['admin'], ['openid', 'openid'], [API], ['https://evil.example'], [], {}, null,
            'access_denied', 'login_required', 'Bad-Code', 'a'.repeat(129), 'with "quote"', 'back\\slash', 'new\nline', 'café', 'x'.repeat(1_025),
            ph('session_subject'),
          ),
        },
        { weight: 2, arbitrary: fc.record({ id_token: claims, access_token: claims }, { requiredKeys: [] }) },
      ),
    ) as fc.Arbitrary<[string, unknown]>,
  },
  { weight: 2, arbitrary: pollution },
);

function answerBody(base: fc.Arbitrary<Array<[string, unknown]>>): fc.Arbitrary<string | Buffer> {
  return jsonBody(fc.tuple(base, fc.array(answerMember, { maxLength: 4 })).map(([b, members]) => new JsonMembers([...b, ...members])));
}

/** How a request names a live challenge: mostly cleanly (then it addresses that flow), otherwise missing, repeated, wrong or mangled. */
function challengeQuery(param: string, own: 'login_challenge' | 'consent_challenge'): fc.Arbitrary<{ query: string; live: boolean }> {
  const other = own === 'login_challenge' ? 'consent_challenge' : 'login_challenge';
  return fc.oneof(
    { weight: 14, arbitrary: fc.constant({ query: `${param}=${ph(own)}`, live: true }) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          `${param}=${ph(other)}`, `${param}=${ph(`answered_${own}`)}`, `${param}=${ph(own)}x`, `${param}=${ph(own)}%20`, `${param}=%20${ph(own)}`,
          `${param}=${ph(own)}&${param}=${ph(own)}`, `${param}=x&${param}=${ph(own)}`, `${param}[]=${ph(own)}`, `${param}=`, '', param,
          `${param.toUpperCase()}=${ph(own)}`, `login_verifier=${ph(own)}`, `${param}=${ph(own)}%00`, `${param}=%E0%A4%A`, `__proto__[${param}]=${ph(own)}`,
          `${param}=${'a'.repeat(5_000)}`, `${param}=${ph('login_verifier')}`,
        )
        .map((query) => ({ query, live: false })),
    },
    // An unrelated extra parameter, even a prototype key, is ignored: the challenge is still live.
    { weight: 1, arbitrary: fc.constant({ query: `${param}=${ph(own)}&__proto__=x`, live: true }) },
    { weight: 1, arbitrary: nastyString.map((v) => ({ query: `${param}=${percentEncode(v)}`, live: false })) },
  );
}

/** The one value of a parameter (undefined when it is absent or repeated). */
function single(pairs: Pair[], name: string): string | undefined {
  const values = pairs.filter(([k]) => k === name).map(([, v]) => v);
  return values.length === 1 ? values[0] : undefined;
}

// --- the properties of the flow -------------------------------------------------------

describe('hostile input to the authorization code flow never gets a 5xx or an open redirect, and a refused request changes no state', () => {
  beforeAll(async () => {
    const web = await adminJson('/admin/clients', {
      client_name: 'hostile web', redirect_uris: [WEB_CB, WEB_CB2], post_logout_redirect_uris: [WEB_LOGGED_OUT],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], scope: 'openid offline_access profile email',
      audience: [API], token_endpoint_auth_method: 'client_secret_basic', access_token_strategy: 'opaque',
    });
    const native = await adminJson('/admin/clients', {
      client_name: 'hostile native', application_type: 'native', redirect_uris: [NATIVE_CB, NATIVE_APP_CB], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'openid offline_access', access_token_strategy: 'opaque',
    });
    flowFx = {
      web: { id: web.client_id as string, secret: web.client_secret as string },
      native: native.client_id as string,
      openid: { accessToken: '', idToken: '' },
      sessionsSubject: '',
      sessionsSid: '',
    };
    const session = await rememberedSession('session');
    live.session_subject = session.flow.subject;
    [live.session_id, live.session_sig] = [session.cookie.slice(0, session.cookie.lastIndexOf('.')), session.cookie.slice(session.cookie.lastIndexOf('.') + 1)];
    live.session = session.cookie;
    live.logout_session = (await rememberedSession('logout')).cookie;
    const flow = await startFlow('openid');
    const tokens = await exchange(await codeOf(flow), flow.verifier);
    flowFx.openid = { accessToken: tokens.access_token, idToken: tokens.id_token };
    live.id_token = tokens.id_token;
    // A remembered login and a remembered consent for the session admin API to end.
    const remembered = await startFlow('sessions');
    await codeOf(remembered, { remember: true, remember_for: 3600 }, { remember: true, remember_for: 3600 });
    flowFx.sessionsSubject = remembered.subject;
    const { rows } = await query(`SELECT id FROM login_sessions WHERE subject = $1`, [remembered.subject], db!.dsn);
    flowFx.sessionsSid = rows[0].id as string;
  }, 60_000);

  afterAll(() => {
    resetLive();
  });

  it(
    'GET /oauth2/auth answers a redirect to the login app, the consent app or a registered redirect URI, or a JSON 4xx, to any query and cookies; live verifiers continue a flow once, and only in the browser that started it',
    async () => {
      resetLive();
      const { web, native } = flowFx;
      const { verifier: baseVerifier, challenge } = pkce();
      const webBase: Pair[] = [
        ['client_id', web.id], ['response_type', 'code'], ['redirect_uri', WEB_CB], ['scope', 'openid offline_access'], ['state', 'st'],
        ['nonce', 'n'], ['code_challenge', challenge], ['code_challenge_method', 'S256'],
      ];
      const base = fc.oneof(
        { weight: 4, arbitrary: fc.constant(webBase) },
        { weight: 3, arbitrary: fc.constantFrom<Pair[]>([['login_verifier', ph('login_verifier')]], [['consent_verifier', ph('consent_verifier')]]) },
        {
          weight: 3,
          arbitrary: fc.constantFrom<Pair[]>(
            [['client_id', web.id], ['response_type', 'code'], ['redirect_uri', WEB_CB2], ['audience', API], ['prompt', 'login'], ['max_age', '0']],
            [['client_id', web.id], ['response_type', 'code']],
            [['client_id', web.id], ['response_type', 'code'], ['redirect_uri', 'https://evil.example/cb'], ['state', 'st']],
            [...webBase, ['prompt', 'none']],
            [['client_id', native], ['response_type', 'code'], ['redirect_uri', 'http://127.0.0.1:4567/callback'], ['code_challenge', challenge], ['code_challenge_method', 'S256']],
            [['client_id', native], ['response_type', 'code'], ['redirect_uri', NATIVE_APP_CB]],
            [['client_id', fx.opaque.id], ['response_type', 'code']],
            [['login_verifier', ph('used_login_verifier')]],
            [['consent_verifier', ph('consent_verifier')], ...webBase],
            [['login_verifier', ph('login_verifier')], ['consent_verifier', ph('consent_verifier')]],
            [],
          ),
        },
      );
      const request = queryRequest('GET', '/oauth2/auth', fc.oneof({ weight: 9, arbitrary: fc.constant(noAuth) }, { weight: 1, arbitrary: junkAuth }), base, flowValues(), {
        names: AUTHORIZE_NAMES,
        replace: true,
        cookie: fc.oneof({ weight: 1, arbitrary: flowCookie }, { weight: 1, arbitrary: hostileCookie }),
        // The endpoint reads the first login_verifier, and only without one the first consent_verifier.
        target: (pairs) => {
          const first = (name: string) => pairs.find(([k]) => k === name)?.[1];
          const verifier = first('login_verifier') ? 'login_verifier' : first('consent_verifier') ? 'consent_verifier' : undefined;
          return verifier && first(verifier) === ph(verifier) ? verifier : undefined;
        },
        options: (pairs) => {
          const ids = pairs.filter(([k]) => k === 'client_id').map(([, v]) => v);
          const continues = pairs.some(([k, v]) => (k === 'login_verifier' || k === 'consent_verifier') && v !== '');
          return {
            redirects: [
              ...issuerPages(),
              ...(continues || ids.includes(web.id) ? [WEB_CB, WEB_CB2] : []),
              ...(ids.includes(native) ? [NATIVE_CB, NATIVE_APP_CB] : []),
            ],
          };
        },
      });
      await checkProperty(request, RUNS.authorize, {
        prepare: async (used) => {
          if (!live.login_verifier || used.has('login_verifier')) {
            if (live.login_verifier) live.used_login_verifier = live.login_verifier;
            const flow = await startFlow('authorize');
            live.login_verifier = new URL(await loginVerifierOf(flow)).searchParams.get('login_verifier')!;
            [live.login_csrf_name, live.login_csrf] = [flow.csrfName, flow.csrf];
            watchFlow('login_verifier', flow);
          }
          if (!live.consent_verifier || used.has('consent_verifier')) {
            const flow = await startFlow('authorize');
            live.consent_verifier = new URL(await consentVerifierOf(flow)).searchParams.get('consent_verifier')!;
            [live.consent_csrf_name, live.consent_csrf] = [flow.csrfName, flow.csrf];
            watchFlow('consent_verifier', flow);
          }
        },
        expect: (o) => {
          if (o.status < 400 && o.status !== 302) return `the authorization endpoint answered ${o.status}`;
          if (o.status !== 302 || !o.location || !URL.canParse(o.location)) return undefined;
          const to = new URL(o.location);
          const cookie = o.request.options.cookie ?? '';
          if (o.location.startsWith(`${svc.url}/dev/login?`)) return to.searchParams.get('login_challenge') ? undefined : 'a redirect to the login app without a login_challenge';
          if (o.location.startsWith(`${svc.url}/dev/consent?`)) {
            if (!to.searchParams.get('consent_challenge')) return 'a redirect to the consent app without a consent_challenge';
            return cookieIn(cookie, ph('login_csrf_name')) === ph('login_csrf') ? undefined : 'a login_verifier continued the flow without the flow cookie of the browser that started it';
          }
          if (to.searchParams.get('iss') !== svc.url) return `an authorization response without iss=${svc.url} (RFC 9207)`;
          if (to.searchParams.has('code') === to.searchParams.has('error')) return 'an authorization response must carry exactly one of code and error';
          if (to.searchParams.has('error') && !/^[a-z_]+$/.test(to.searchParams.get('error')!)) return 'an authorization error that is not an error code';
          if (to.searchParams.has('code') && cookieIn(cookie, ph('consent_csrf_name')) !== ph('consent_csrf')) {
            return 'a consent_verifier got a code without the flow cookie of the browser that started it';
          }
          return undefined;
        },
        afterBatch: (_before, _after, outcomes) => {
          const at = (page: string) => outcomes.filter((o) => o.status === 302 && (o.location ?? '').startsWith(page));
          const toConsent = at(`${svc.url}/dev/consent?`);
          const codes = outcomes.filter((o) => o.status === 302 && URL.canParse(o.location ?? '') && new URL(o.location!).searchParams.has('code'));
          if (toConsent.length > 1) throw new Error(`one login_verifier continued ${toConsent.length} times:\n${summary(toConsent)}`);
          if (codes.length > 1) throw new Error(`one consent_verifier issued ${codes.length} codes:\n${summary(codes)}`);
        },
        followUp: async (outcomes) => {
          const started = outcomes.find((o) => o.status === 302 && (o.location ?? '').startsWith(`${svc.url}/dev/login?`));
          if (!started) return false;
          await carryOn(started, baseVerifier);
          return true;
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'GET and PUT /admin/oauth2/auth/requests/login and /consent (read, accept, reject) answer 200 or a JSON 4xx to any body and challenge; a live challenge is answered once, a refused answer leaves its flow as it was, and an accepted one carries on to working tokens',
    async () => {
      resetLive();
      const routes = [
        { step: 'login', action: '', own: 'login_challenge' },
        { step: 'login', action: '/accept', own: 'login_challenge' },
        { step: 'login', action: '/reject', own: 'login_challenge' },
        { step: 'consent', action: '', own: 'consent_challenge' },
        { step: 'consent', action: '/accept', own: 'consent_challenge' },
        { step: 'consent', action: '/reject', own: 'consent_challenge' },
      ] as const;
      const bases: Record<string, fc.Arbitrary<Array<[string, unknown]>>> = {
        'login/accept': fc.constantFrom<Array<[string, unknown]>>(
          [['subject', 'alice']], [['subject', ph('session_subject')]],
          [['subject', 'alice'], ['remember', true], ['remember_for', 60], ['acr', '1'], ['amr', ['pwd']], ['context', { a: 1 }]], [],
        ),
        'consent/accept': fc.constantFrom<Array<[string, unknown]>>(
          [['grant_scope', ['openid', 'offline_access']], ['grant_access_token_audience', [API]]],
          [['grant_scope', ['openid']], ['session', { id_token: { email: 'a@example.com' }, access_token: { tier: 'gold' } }], ['remember', true]],
          [],
        ),
        reject: fc.constantFrom<Array<[string, unknown]>>([['error', 'access_denied'], ['error_description', 'no']], [['error_hint', 'hint']], []),
      };
      const request = fc
        .record({
          route: fc.oneof(
            { weight: 1, arbitrary: fc.constantFrom(routes[0], routes[3]) },
            { weight: 3, arbitrary: fc.constantFrom(routes[1], routes[4]) },
            { weight: 1, arbitrary: fc.constantFrom(routes[2], routes[5]) },
          ),
          login: challengeQuery('login_challenge', 'login_challenge'),
          consent: challengeQuery('consent_challenge', 'consent_challenge'),
          loginBody: answerBody(bases['login/accept']),
          consentBody: answerBody(bases['consent/accept']),
          rejectBody: answerBody(bases.reject),
          auth: adminAuth(),
          contentType: jsonContentType,
          odd: oddHeaders,
        })
        .map((r) => {
          const { query: q, live: clean } = r.route.step === 'login' ? r.login : r.consent;
          const body = r.route.action === '' ? undefined : r.route.action === '/reject' ? r.rejectBody : r.route.step === 'login' ? r.loginBody : r.consentBody;
          const headers = body === undefined ? { ...r.odd } : headersOf(r.contentType, r.odd);
          if (body === undefined) delete (headers as Record<string, string>)['Content-Encoding'];
          const { path } = fitHead(`/admin/oauth2/auth/requests/${r.route.step}${r.route.action}?${q}`, r.auth, headers);
          return new HostileRequest(body === undefined ? 'GET' : 'PUT', path, r.auth, headers, body, clean ? r.route.own : undefined);
        });
      await checkProperty(request, RUNS.loginConsent, {
        prepare: prepareChallenges,
        followUp: followAnswers,
        expect: (o) => {
          if (!ok(o)) return undefined;
          const body = o.json;
          if (o.status !== 200 || !isObject(body)) return `answered ${o.status} ${abbreviate(o.text)}`;
          const step = o.request.path.includes('/requests/login') ? 'login' : 'consent';
          if (o.request.method === 'GET') {
            if (typeof body.challenge !== 'string' || !isObject(body.client) || typeof body.client.client_id !== 'string') return 'a login or consent request without challenge or client';
            if ('client_secret' in body.client || 'registration_access_token' in body.client) return 'a login or consent request shows the client secret';
            return undefined;
          }
          if (typeof body.redirect_to !== 'string' || !body.redirect_to.startsWith(`${svc.url}/oauth2/auth?${step}_verifier=`)) {
            return `redirect_to is not the issuer's authorization endpoint with a ${step}_verifier: ${String(body.redirect_to)}`;
          }
          return undefined;
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'POST /oauth2/token with authorization_code and refresh_token answers tokens or a JSON 4xx to any form; a code is redeemed and a refresh token rotated at most once',
    async () => {
      resetLive();
      let codeSubject = '';
      let refreshSubject = '';
      const grantBase = fc.oneof(
        { weight: 6, arbitrary: fc.constant<Pair[]>([['grant_type', 'authorization_code'], ['code', ph('code')], ['redirect_uri', WEB_CB], ['code_verifier', ph('code_verifier')]]) },
        { weight: 4, arbitrary: fc.constant<Pair[]>([['grant_type', 'refresh_token'], ['refresh_token', ph('refresh_token')]]) },
        {
          weight: 3,
          arbitrary: fc.constantFrom<Pair[]>(
            [['grant_type', 'refresh_token'], ['refresh_token', ph('refresh_token')], ['scope', 'openid']],
            [['grant_type', 'refresh_token'], ['refresh_token', ph('refresh_token')], ['scope', 'openid offline_access admin']],
            [['grant_type', 'refresh_token'], ['refresh_token', ph('used_refresh_token')]],
            [['grant_type', 'authorization_code'], ['code', ph('used_code')], ['redirect_uri', WEB_CB], ['code_verifier', ph('used_code_verifier')]],
            [['grant_type', 'authorization_code'], ['code', ph('code')], ['redirect_uri', WEB_CB]],
            [['grant_type', 'authorization_code'], ['code', ph('code')], ['code_verifier', ph('code_verifier')]],
            [['grant_type', 'authorization_code'], ['code', ph('code')], ['redirect_uri', WEB_CB], ['code_verifier', ph('code_verifier')], ['client_id', flowFx.native]],
            [['grant_type', 'authorization_code'], ['code', ph('refresh_token')], ['redirect_uri', WEB_CB], ['code_verifier', ph('code_verifier')]],
            [['grant_type', 'refresh_token'], ['refresh_token', ph('code')]],
            [['grant_type', 'refresh_token'], ['client_id', flowFx.native], ['refresh_token', ph('refresh_token')]],
          ),
        },
      );
      const values = fc.oneof(
        { weight: 3, arbitrary: tokenValues() },
        {
          weight: 2,
          arbitrary: fc.constantFrom(
            ph('code'), ph('used_code'), ph('refresh_token'), ph('used_refresh_token'), ph('code_verifier'), `${ph('code_verifier')}x`, `${ph('code')}x`,
            `${ph('refresh_token')} `, 'authorization_code', 'refresh_token', 'openid', 'offline_access', 'openid offline_access', WEB_CB, WEB_CB2,
            `${WEB_CB}/`, 'https://evil.example/cb', 'a'.repeat(42), 'a'.repeat(43), 'a'.repeat(128), 'a'.repeat(129), `+${'a'.repeat(42)}`,
            'x'.repeat(513), flowFx.native, flowFx.web.id, flowFx.openid.accessToken, flowFx.openid.idToken,
          ),
        },
      );
      const auth = fc.oneof(
        { weight: 8, arbitrary: fc.constant(webAuth) },
        {
          weight: 2,
          arbitrary: fc.constantFrom<Auth>(
            { label: 'Basic <web client, wrong secret>', value: () => basic(flowFx.web.id, `${flowFx.web.secret}x`) },
            { label: 'Basic <native client, no secret>', value: () => basic(flowFx.native, '') },
            { label: 'Basic <opaque machine client>', value: () => basic(fx.opaque.id, fx.opaque.secret) },
            bearer('an access token', () => flowFx.openid.accessToken),
          ),
        },
        { weight: 2, arbitrary: junkAuth },
      );
      const request = formRequest('/oauth2/token', auth, grantBase, values);
      const tokensOf = async (who: string) => {
        const { rows } = await query(
          `SELECT (SELECT count(*) FROM access_tokens t JOIN oauth2_grants g ON g.id = t.grant_id WHERE g.subject = $1)::int AS access,
                  (SELECT count(*) FROM refresh_tokens r JOIN oauth2_grants g ON g.id = r.grant_id WHERE g.subject = $1)::int AS refresh`,
          [who],
          db!.dsn,
        );
        return rows[0] as { access: number; refresh: number };
      };
      await checkProperty(request, RUNS.codeGrants, {
        prepare: async (used) => {
          if (!live.code || used.has('code') || used.has('used_code')) {
            if (live.code) [live.used_code, live.used_code_verifier] = [live.code, live.code_verifier];
            const flow = await startFlow('code');
            live.code = await codeOf(flow);
            live.code_verifier = flow.verifier;
            codeSubject = flow.subject;
          }
          if (!live.refresh_token || used.has('refresh_token') || used.has('used_refresh_token')) {
            // Exchanged and rotated once: the live token, and the spent one whose replay revokes the grant.
            const flow = await startFlow('refresh');
            const first = await exchange(await codeOf(flow), flow.verifier);
            live.used_refresh_token = first.refresh_token;
            live.refresh_token = (await tokenCall({ grant_type: 'refresh_token', refresh_token: first.refresh_token })).refresh_token;
            refreshSubject = flow.subject;
          }
        },
        expect: (o) => {
          if (!ok(o)) return undefined;
          const body = o.json;
          if (o.status !== 200 || !isObject(body) || typeof body.access_token !== 'string' || body.token_type !== 'Bearer') return `a token response is malformed: ${o.status} ${abbreviate(o.text)}`;
          if (o.cacheControl !== 'no-store') return 'a token response lacks Cache-Control: no-store';
          return undefined;
        },
        followUp: async () => {
          // The code: one access token at most. The refresh grant: two from the fixture (exchange, rotation), one more at most.
          const code = await tokensOf(codeSubject);
          if (code.access > 1) throw new Error(`one authorization code was redeemed for ${code.access} access tokens`);
          const refresh = await tokensOf(refreshSubject);
          if (refresh.access > 3 || refresh.refresh > 3) throw new Error(`one refresh token was rotated more than once: ${JSON.stringify(refresh)}`);
          return false;
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'GET and POST /userinfo answer the claims or a JSON 4xx with a Bearer challenge to any token, header, form or cookie, and change nothing',
    async () => {
      resetLive();
      const auth = fc.oneof(
        { weight: 6, arbitrary: fc.constant(bearer('an access token granted openid', () => flowFx.openid.accessToken)) },
        {
          weight: 2,
          arbitrary: fc.constantFrom<Auth>(
            bearer('a client credentials access token', () => fx.opaqueToken),
            bearer('a JWT access token', () => fx.jwtToken),
            bearer('the ID token', () => flowFx.openid.idToken),
            { label: 'bearer <openid access token>', value: () => `bearer ${flowFx.openid.accessToken}` },
            { label: 'Bearer <openid access token>x', value: () => `Bearer ${flowFx.openid.accessToken}x` },
            { label: 'Bearer  <openid access token>  ', value: () => `Bearer  ${flowFx.openid.accessToken}  ` },
            webAuth,
          ),
        },
        { weight: 3, arbitrary: junkAuth },
      );
      const values = fc.oneof({ weight: 3, arbitrary: tokenValues() }, { weight: 1, arbitrary: fc.constantFrom(flowFx.openid.accessToken, `${flowFx.openid.accessToken}x`, flowFx.openid.idToken) });
      const base = fc.constantFrom<Pair[]>([], [['access_token', flowFx.openid.accessToken]], [['access_token', fx.opaqueToken]], [['access_token', '']]);
      const names = ['access_token', 'token', 'scope', 'client_id', 'access_token[]', '', ...PROTOTYPE_KEYS];
      const request = fc.oneof(
        queryRequest('GET', '/userinfo', auth, base, values, { names, cookie: hostileCookie }),
        formRequest('/userinfo', fc.oneof(auth, fc.constant(noAuth)), base, values, { names, cookie: hostileCookie }),
      );
      await checkProperty(request, RUNS.userinfo, {
        expect: (o) => {
          if (o.cacheControl !== 'no-store' && o.status !== 415 && o.status !== 413 && o.status !== 400) return `userinfo answered ${o.status} without Cache-Control: no-store`;
          if (ok(o)) return o.status === 200 && isObject(o.json) && typeof o.json.sub === 'string' ? undefined : `userinfo answered ${o.status} ${abbreviate(o.text)}`;
          return bearerRefusalViolation(o, 403, 'insufficient_scope');
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'GET and POST /dev/login, /dev/consent and /dev/callback answer a page, a redirect to the authorization endpoint, or an error page or JSON 4xx, with every input escaped; an answer given there carries on to working tokens',
    async () => {
      resetLive();
      const pages = { html: true, redirects: issuerPages() };
      const devValues = fc.oneof(
        { weight: 3, arbitrary: flowValues() },
        { weight: 1, arbitrary: fc.constantFrom('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'><svg onload=alert(1)>", '</title><script>x</script>', '&lt;b&gt;', '<!--', ']]>') },
      );
      const challengeTarget = (own: 'login_challenge' | 'consent_challenge') => (pairs: Pair[]) => (single(pairs, own) === ph(own) ? own : undefined);
      const loginForm = formRequest(
        '/dev/login',
        fc.constant(noAuth),
        fc.constantFrom<Pair[]>(
          [['login_challenge', ph('login_challenge')], ['subject', 'dev-user'], ['action', 'accept']],
          [['login_challenge', ph('login_challenge')], ['subject', 'dev-user'], ['remember', 'on'], ['action', 'accept']],
          [['login_challenge', ph('login_challenge')], ['action', 'deny']],
          [['login_challenge', ph('consent_challenge')], ['subject', 'dev-user']],
        ),
        devValues,
        { names: ['login_challenge', 'subject', 'remember', 'action'], replace: true, target: challengeTarget('login_challenge'), options: () => pages, cookie: hostileCookie },
      );
      const consentForm = formRequest(
        '/dev/consent',
        fc.constant(noAuth),
        fc.constantFrom<Pair[]>(
          [['consent_challenge', ph('consent_challenge')], ['scope', 'openid'], ['scope', 'offline_access'], ['action', 'accept']],
          [['consent_challenge', ph('consent_challenge')], ['scope', 'openid'], ['remember', 'on'], ['action', 'accept']],
          [['consent_challenge', ph('consent_challenge')], ['action', 'deny']],
          [['consent_challenge', ph('consent_challenge')], ['scope', 'admin']],
        ),
        devValues,
        { names: ['consent_challenge', 'scope', 'remember', 'action', 'scope[]'], replace: true, target: challengeTarget('consent_challenge'), options: () => pages, cookie: hostileCookie },
      );
      const page = (path: string, param: 'login_challenge' | 'consent_challenge') =>
        fc.record({ challenge: challengeQuery(param, param), odd: oddHeaders, cookie: hostileCookie }).map((r) => {
          const odd = { ...r.odd };
          delete odd['Content-Encoding'];
          const head = fitHead(`${path}?${r.challenge.query}`, noAuth, odd, r.cookie);
          return new HostileRequest('GET', head.path, noAuth, odd, undefined, r.challenge.live ? param : undefined, { ...pages, ...(head.cookie !== undefined ? { cookie: head.cookie } : {}) });
        });
      const callback = queryRequest('GET', '/dev/callback', fc.constant(noAuth), fc.constantFrom<Pair[]>([['code', 'abc'], ['state', 'xyz'], ['iss', svc.url]], [['error', 'access_denied'], ['error_description', 'no']], []), devValues, {
        names: ['code', 'state', 'iss', 'error', 'error_description', ...PROTOTYPE_KEYS],
        options: () => pages,
      });
      const request = fc.oneof(
        { weight: 2, arbitrary: page('/dev/login', 'login_challenge') },
        { weight: 3, arbitrary: loginForm },
        { weight: 2, arbitrary: page('/dev/consent', 'consent_challenge') },
        { weight: 3, arbitrary: consentForm },
        { weight: 2, arbitrary: callback },
      );
      await checkProperty(request, RUNS.devPages, {
        prepare: prepareChallenges,
        followUp: followAnswers,
        expect: (o) => {
          if (ok(o) && !o.contentType.startsWith('text/html')) return `a development page answered ${o.status} ${o.contentType}`;
          if (o.status === 303 && !(o.location ?? '').startsWith(`${svc.url}/oauth2/auth?`)) return `an answer sends the browser to ${o.location}`;
          return undefined;
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'GET and POST /oauth2/sessions/logout answer a page, a redirect to a registered post_logout_redirect_uri, or a JSON 4xx, to any parameters and cookies',
    async () => {
      resetLive();
      const { web, native } = flowFx;
      const base = fc.constantFrom<Pair[]>(
        [],
        [['id_token_hint', ph('id_token')]],
        [['id_token_hint', ph('id_token')], ['post_logout_redirect_uri', WEB_LOGGED_OUT], ['state', 'st']],
        [['client_id', web.id], ['post_logout_redirect_uri', WEB_LOGGED_OUT], ['state', 'st']],
        [['client_id', native], ['post_logout_redirect_uri', WEB_LOGGED_OUT]],
        [['id_token_hint', ph('id_token')], ['client_id', native]],
        [['post_logout_redirect_uri', 'https://evil.example/']],
        [['client_id', web.id], ['post_logout_redirect_uri', 'https://evil.example/']],
        [['confirm', 'yes']],
        [['confirm', 'yes'], ['client_id', web.id], ['post_logout_redirect_uri', WEB_LOGGED_OUT]],
      );
      const values = fc.oneof(
        { weight: 3, arbitrary: flowValues() },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            `${ph('id_token')}x`, fx.jwtToken, flowFx.openid.accessToken, `${base64url('{"alg":"none","typ":"JWT"}')}.${base64url(`{"iss":"${svc.url}","sub":"x","aud":"${web.id}"}`)}.`,
            `${base64url('{"alg":"RS256","kid":"../../x"}')}.e30.c2ln`, '<script>alert(1)</script>', '"><b>x</b>',
          ),
        },
      );
      const more: HostileParams = {
        names: ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id', 'confirm', 'ui_locales', '', ...PROTOTYPE_KEYS],
        replace: true,
        cookie: hostileCookie,
        options: () => ({ html: true, redirects: [WEB_LOGGED_OUT] }),
      };
      const request = fc.oneof(
        queryRequest('GET', '/oauth2/sessions/logout', fc.constant(noAuth), base, values, more),
        formRequest('/oauth2/sessions/logout', fc.constant(noAuth), base, values, more),
      );
      await checkProperty(request, RUNS.logout, {
        expect: (o) => {
          if (o.status >= 400 && !o.contentType.startsWith('application/json')) return `a logout error answered as ${o.contentType}`;
          if (ok(o) && (o.status !== 200 || !o.contentType.startsWith('text/html'))) return `logout answered ${o.status} ${o.contentType}`;
          return undefined;
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'DELETE /admin/oauth2/auth/sessions/login and /consent answer 204 or a JSON 4xx to any query, and never remove rows',
    async () => {
      resetLive();
      const { web } = flowFx;
      const s = flowFx.sessionsSubject;
      const login = fc.constantFrom<Pair[]>([['subject', s]], [['sid', flowFx.sessionsSid]], [['subject', s], ['sid', 'x']], [['subject', 'nobody']], []);
      const consent = fc.constantFrom<Pair[]>([['subject', s], ['client', web.id]], [['subject', s], ['all', 'true']], [['subject', s]], [['subject', s], ['all', 'false']], [['client', web.id]], [['subject', 'nobody'], ['all', 'true']]);
      const values = fc.oneof(
        { weight: 3, arbitrary: shortString },
        { weight: 1, arbitrary: longString },
        { weight: 2, arbitrary: fc.constantFrom('true', 'false', 'TRUE', '1', '', ' ', 'yes', s, `${s} `, s.toUpperCase(), flowFx.sessionsSid, web.id, flowFx.native, '%', '*', "' OR '1'='1") },
      );
      const names = ['subject', 'sid', 'client', 'all', 'subject[]', '', ...PROTOTYPE_KEYS];
      const request = fc.oneof(
        queryRequest('DELETE', '/admin/oauth2/auth/sessions/login', adminAuth(), login, values, { names, replace: true }),
        queryRequest('DELETE', '/admin/oauth2/auth/sessions/consent', adminAuth(), consent, values, { names, replace: true }),
      );
      await checkProperty(request, RUNS.sessionsRevoke, {
        expect: (o) => (ok(o) && (o.status !== 204 || o.text !== '') ? `a session revocation answered ${o.status} ${abbreviate(o.text)}` : undefined),
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'a Cookie header beyond the 16 KiB request head limit (a cookie-bombed browser) still gets a JSON {"error", "error_description"} body',
    async () => {
      resetLive();
      // Node.js refuses such a head before any route runs (431); the answer must still be the OAuth error body.
      const request = fc
        .record({
          path: fc.constantFrom('/oauth2/auth?client_id=x', '/userinfo', '/oauth2/sessions/logout', '/dev/login?login_challenge=x'),
          size: fc.integer({ min: 16_500, max: 40_000 }),
          name: fc.constantFrom('registrar_session', `${CSRF_COOKIE}00000000`, 'tracking'),
        })
        .map((r) => new HostileRequest('GET', r.path, noAuth, {}, undefined, undefined, { cookie: `${r.name}=${'a'.repeat(r.size)}`, html: r.path.startsWith('/dev/'), redirects: issuerPages() }));
      await checkProperty(request, RUNS.oversizedCookie);
    },
    PROPERTY_TIMEOUT,
  );
});
