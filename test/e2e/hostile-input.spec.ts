// Hostile input over real HTTP against the real app on its own PostgreSQL
// database, as property-based tests (fast-check). SPEC §3: every error body is
// JSON {"error", "error_description"}, never HTML, never a stack trace, and 5xx
// only for real faults. SPEC §4: bounded sizes answer 400, never 500; a refused
// registration takes no use of the initial access token. SPEC §5: a refused
// update leaves the client and its registration access token as they were.
//
// Each property sends batches of 1 to 20 concurrent requests. Around every
// batch the row counts of the tables are read; the successful (2xx) requests
// of the batch are counted by what they may create (a client, an IAT use, an
// opaque token row) and every other difference is a refused request that
// changed state. On failure fast-check prints the seed and the shrunk batch;
// the error names the single offending request and its response.
import { createHash } from 'node:crypto';
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

class HostileRequest {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly auth: Auth,
    readonly headers: Readonly<Record<string, string>>,
    readonly body?: string | Buffer,
    /** The watched client this request addresses, if any. */
    readonly target?: 'dcr' | 'admin',
  ) {}

  [fc.toStringMethod](): string {
    return describeRequest(this);
  }
}

function describeRequest(r: HostileRequest): string {
  const headers = { ...(r.auth.label ? { Authorization: abbreviate(r.auth.label, 120) } : {}), ...r.headers };
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
  text: string;
  json: unknown;
}

async function send(request: HostileRequest): Promise<Outcome> {
  const headers: Record<string, string> = { ...request.headers };
  const authorization = request.auth.value();
  if (authorization !== undefined) headers.Authorization = authorization;
  requestsSent += 1;
  let res: Response;
  try {
    res = await fetch(svc.url + request.path, { method: request.method, headers, body: request.body, redirect: 'manual' });
  } catch (err) {
    const e = err as Error & { cause?: Error };
    return { request, status: 0, contentType: '', cacheControl: null, wwwAuthenticate: null, link: null, text: `no HTTP response: ${e.message} ${e.cause?.message ?? ''}`, json: undefined };
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
    text,
    json,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const ok = (o: Outcome): boolean => o.status >= 200 && o.status < 300;
const STACK_TRACE = /\n\s+at \S|node_modules|\.(?:ts|js):\d+:\d+/;

/** SPEC §3 for every response: no 5xx, errors are JSON {"error", "error_description"} with an error code, no internals. */
function violations(o: Outcome): string[] {
  const found: string[] = [];
  if (o.status === 0) found.push(o.text);
  else if (o.status >= 500) found.push(`status ${o.status}: 5xx is for real faults only, this is bad input`);
  if (o.status >= 400) {
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

interface Snapshot {
  clients: number;
  initial_access_tokens: number;
  iat_uses: number;
  access_tokens: number;
  policies: number;
  signing_keys: number;
  revoked_jwts: number;
  client_assertion_jtis: number;
  watched: Record<string, WatchedClient | undefined>;
}

type Counts = Omit<Snapshot, 'watched'>;

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
            (SELECT coalesce(json_object_agg(id, json_build_object(
                      'fields', fields::text, 'rat_hash', registration_access_token_hash, 'secret_hash', secret_hash,
                      'strategy', access_token_strategy, 'updated_at', updated_at)), '{}'::json)
               FROM clients WHERE id = ANY($2)) AS watched`,
    [fx.iatId, [fx.dcr.id, fx.adminTarget]],
    db!.dsn,
  );
  return rows[0] as Snapshot;
}

function counts(s: Snapshot): Counts {
  const { watched: _watched, ...rest } = s;
  return rest;
}

/** What successful requests may add: a client per registration or admin create, an IAT use, a row per opaque token. */
interface Ledger {
  clients: number;
  iatUses: number;
  accessTokens: number;
}

const emptyLedger = (): Ledger => ({ clients: 0, iatUses: 0, accessTokens: 0 });

function record(ledger: Ledger, o: Outcome): void {
  if (!ok(o)) return;
  const { method, path, auth } = o.request;
  if (method === 'POST' && path === '/oauth2/register') {
    ledger.clients += 1;
    if (auth.credential === 'iat') ledger.iatUses += 1;
  }
  if (method === 'POST' && path === '/admin/clients') ledger.clients += 1;
  if (method === 'POST' && path === '/oauth2/token') {
    const token = isObject(o.json) ? o.json.access_token : undefined;
    if (typeof token === 'string' && !JWT_SHAPE.test(token)) ledger.accessTokens += 1;
  }
}

function expectedCounts(before: Snapshot, ledger: Ledger): Counts {
  return {
    ...counts(before),
    clients: before.clients + ledger.clients,
    iat_uses: before.iat_uses + ledger.iatUses,
    access_tokens: before.access_tokens + ledger.accessTokens,
  };
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
}

/** Runs batches of generated requests; every batch is checked response by response, then for state. */
async function checkProperty(request: fc.Arbitrary<HostileRequest>, numRuns: number, options: PropertyOptions = {}): Promise<void> {
  const ledger = emptyLedger();
  const start = await snapshot();
  await fc.assert(
    fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: BATCH, size: 'max' }), async (batch) => {
      const before = await snapshot();
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
        throw new Error(
          `refused requests changed the database: expected ${JSON.stringify(expected)} after ` +
            `${outcomes.filter(ok).length} successful requests, found ${JSON.stringify(counts(after))}; the batch:\n${summary(outcomes)}`,
        );
      }
      for (const [target, id] of [['dcr', fx.dcr.id], ['admin', fx.adminTarget]] as const) {
        const succeeded = outcomes.some((o) => o.request.target === target && ok(o));
        if (!succeeded && !isDeepStrictEqual(before.watched[id], after.watched[id])) {
          throw new Error(
            `refused requests changed client ${id}: ${JSON.stringify(before.watched[id])} -> ${JSON.stringify(after.watched[id])}; the batch:\n${summary(outcomes)}`,
          );
        }
      }
      options.afterBatch?.(before, after, outcomes);
    }),
    // A failure that depends on state may not reproduce while shrinking: bound the time spent on it.
    { numRuns, interruptAfterTimeLimit: 100_000, markInterruptAsFailure: true },
  );
  // Over the whole property (shrinking included): rows changed by exactly what the successful requests account for.
  expect(counts(await snapshot())).toEqual(expectedCounts(start, ledger));
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
  fc.constantFrom('Bearer', 'Bearer ', 'Bearer a b', 'Bearer =', 'Token abc', 'Negotiate YII=', 'bearer x', 'Bearer\tx', 'Bearer ' + 'A'.repeat(4_000)).map(rawAuth),
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
  'grant_type', 'client_id', 'client_secret', 'scope', 'audience', 'client_assertion', 'client_assertion_type', 'token', 'token_type_hint',
  'redirect_uri', 'code', 'refresh_token', 'grant_type[]', 'client_id[0]', 'scope[a]', '', ...PROTOTYPE_KEYS,
];

type Pair = [string, string];

function formText(pairs: Pair[], encoding: 'percent' | 'plus' | 'raw'): string {
  const encode = encoding === 'raw' ? (s: string) => s : encoding === 'plus' ? (s: string) => percentEncode(s).replace(/%20/g, '+') : percentEncode;
  return pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
}

function formRequest(path: string, auth: fc.Arbitrary<Auth>, base: fc.Arbitrary<Pair[]>, values: fc.Arbitrary<string>): fc.Arbitrary<HostileRequest> {
  const pair = fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...FORM_NAMES) }, { weight: 1, arbitrary: shortString }), values) as fc.Arbitrary<Pair>;
  const extra = fc.oneof(
    { weight: 12, arbitrary: fc.array(pair, { maxLength: 5 }) },
    { weight: 1, arbitrary: fc.integer({ min: 90, max: 160 }).map((n) => Array.from({ length: n }, (_, i): Pair => [`p${i}`, 'x'])) },
  );
  return fc
    .record({
      auth,
      base,
      extra,
      extraFirst: fc.boolean(),
      encoding: fc.constantFrom<'percent' | 'plus' | 'raw'>('percent', 'percent', 'percent', 'plus', 'raw'),
      contentType: formContentType,
      odd: oddHeaders,
    })
    .map((r) => {
      const pairs = r.extraFirst ? [...r.extra, ...r.base] : [...r.base, ...r.extra];
      return new HostileRequest('POST', path, r.auth, headersOf(r.contentType, r.odd), formText(pairs, r.encoding));
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
      ),
    },
  );

// --- the properties -------------------------------------------------------------------

describe('hostile input never gets a 5xx, always gets a JSON error, and a refused request changes no state', () => {
  it(
    'POST /oauth2/register with a valid multi-use initial access token answers 201 or a JSON 4xx; a refused body creates no client and takes no use of the token',
    async () => {
      const request = fc
        .record({ auth: iatAuth(), body: jsonBody(metadataObject()), contentType: jsonContentType, odd: oddHeaders })
        .map((r) => new HostileRequest('POST', '/oauth2/register', r.auth, headersOf(r.contentType, r.odd), r.body));
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
      const request = fc
        .record({ auth: notAnIat(), body: jsonBody(metadataObject()), contentType: jsonContentType, odd: oddHeaders })
        .map((r) => new HostileRequest('POST', '/oauth2/register', r.auth, headersOf(r.contentType, r.odd), r.body));
      await checkProperty(request, RUNS.registerWithoutIat, {
        expect: (o) => {
          if (o.status < 400) return `a registration without a valid IAT answered ${o.status}`;
          if (o.status === 401 && !(o.wwwAuthenticate ?? '').startsWith('Bearer')) return `401 without a Bearer challenge (WWW-Authenticate: ${o.wwwAuthenticate})`;
          if (o.status === 401 && isObject(o.json) && o.json.error !== 'invalid_token') return `401 with error ${String(o.json.error)}, not invalid_token`;
          return undefined;
        },
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'PUT /oauth2/register/{client_id} with the current registration access token: a refused update leaves the client and its token unchanged, and concurrent PUTs with one token succeed at most once',
    async () => {
      const clientIdMember = fc.oneof(
        { weight: 8, arbitrary: fc.constant<Array<[string, unknown]>>([['client_id', fx.dcr.id]]) },
        { weight: 1, arbitrary: fc.constant<Array<[string, unknown]>>([]) },
        { weight: 1, arbitrary: hostileValue.map((v): Array<[string, unknown]> => [['client_id', v]]) },
      );
      const request = fc
        .record({
          auth: ratAuth(),
          pathId: fc.oneof({ weight: 19, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 1, arbitrary: hostileId }),
          body: jsonBody(metadataObject(clientIdMember)),
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
      const request = fc
        .record({ auth: adminAuth(), body: jsonBody(metadataObject()), contentType: jsonContentType, odd: oddHeaders })
        .map((r) => new HostileRequest('POST', '/admin/clients', r.auth, headersOf(r.contentType, r.odd), r.body));
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
      const clientIdMember = fc.oneof(
        { weight: 8, arbitrary: fc.constant<Array<[string, unknown]>>([['client_id', fx.adminTarget]]) },
        { weight: 1, arbitrary: fc.constant<Array<[string, unknown]>>([]) },
        { weight: 1, arbitrary: hostileValue.map((v): Array<[string, unknown]> => [['client_id', v]]) },
      );
      const request = fc
        .record({
          method: fc.constantFrom('PUT', 'PATCH'),
          auth: adminAuth(),
          pathId: fc.oneof({ weight: 9, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 1, arbitrary: hostileId }),
          putBody: jsonBody(metadataObject(clientIdMember)),
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

  it(
    'POST /oauth2/introspect answers {"active": boolean} or a JSON 4xx to any form, and changes nothing',
    async () => {
      const base = fc.oneof(
        tokenValues().map((t): Pair[] => [['token', t]]),
        fc.constantFrom<Pair[]>([], [['token', fx.opaqueToken], ['client_id', fx.post.id], ['client_secret', fx.post.secret]], [['token', fx.jwtToken], ['token_type_hint', 'refresh_token']]),
        fc.tuple(shortString, shortString).map(([id, secret]): Pair[] => [['token', fx.opaqueToken], ['client_id', id], ['client_secret', secret]]),
      );
      const request = formRequest('/oauth2/introspect', clientAuth(), base, tokenValues());
      await checkProperty(request, RUNS.introspect, {
        expect: (o) => (ok(o) && !(isObject(o.json) && typeof o.json.active === 'boolean') ? `an introspection answered ${o.status} ${abbreviate(o.text)}` : undefined),
      });
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'POST /admin/oauth2/introspect answers {"active": boolean} or a JSON 4xx to any form, and changes nothing',
    async () => {
      const base = fc.oneof(tokenValues().map((t): Pair[] => [['token', t]]), fc.constant<Pair[]>([]));
      const request = formRequest('/admin/oauth2/introspect', adminAuth(), base, tokenValues());
      await checkProperty(request, RUNS.adminIntrospect, {
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
