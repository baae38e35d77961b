// Value parsers for configuration keys. Each accepts what a YAML file or an
// environment variable may hold and either returns the typed value or throws a
// ParseError that says what was expected; the loader adds the key and the value.

export class ParseError extends Error {
  constructor(readonly expected: string) {
    super(expected);
  }
}

export type Parser<T> = ((raw: unknown) => T) & { expected: string };

function parser<T>(expected: string, fn: (raw: unknown) => T): Parser<T> {
  const p = fn as Parser<T>;
  p.expected = expected;
  return p;
}

export function oneOf<const V extends string>(...values: V[]): Parser<V> {
  const expected = `one of ${values.join(', ')}`;
  return parser(expected, (raw) => {
    const value = typeof raw === 'string' ? raw.trim() : raw;
    if (typeof value === 'string' && (values as string[]).includes(value)) return value as V;
    throw new ParseError(expected);
  });
}

export function integer(min: number, max: number): Parser<number> {
  const expected = `an integer from ${min} to ${max}`;
  return parser(expected, (raw) => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new ParseError(expected);
    return n;
  });
}

export const boolean = parser('true, false, 1 or 0', (raw) => {
  if (typeof raw === 'boolean') return raw;
  const s = String(raw).trim().toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new ParseError('true, false, 1 or 0');
});

export const text = parser('a non-empty string', (raw) => {
  if ((typeof raw === 'string' && raw.trim() !== '') || typeof raw === 'number') return String(raw).trim();
  throw new ParseError('a non-empty string');
});

/** One scope token (RFC 6749 §3.3): printable ASCII without space, double quote or backslash. */
export const scopeToken = parser('one scope token (RFC 6749 §3.3: printable ASCII, no space, " or \\)', (raw) => {
  const s = typeof raw === 'string' ? raw.trim() : '';
  if (/^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/.test(s)) return s;
  throw new ParseError('one scope token (RFC 6749 §3.3: printable ASCII, no space, " or \\)');
});

export const httpUrl = parser('an absolute http(s) URL', (raw) => {
  const s = typeof raw === 'string' ? raw.trim() : '';
  try {
    const url = new URL(s);
    if (url.protocol === 'http:' || url.protocol === 'https:') return s.replace(/\/+$/, '');
  } catch {
    // fall through to the error below
  }
  throw new ParseError('an absolute http(s) URL');
});

export const postgresUrl = parser('a postgres:// or postgresql:// URL', (raw) => {
  const s = typeof raw === 'string' ? raw.trim() : '';
  try {
    const url = new URL(s);
    if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') return s;
  } catch {
    // fall through to the error below
  }
  throw new ParseError('a postgres:// or postgresql:// URL');
});

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses `3600`, `90s`, `15m`, `1h30m`, `7d` into whole seconds. */
export function parseDuration(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) && raw >= 0 ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  if (/^\d+$/.test(s)) return Number(s);
  if (!/^(\d+[smhd])+$/.test(s)) return undefined;
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+)([smhd])/g)) total += Number(n) * UNIT_SECONDS[unit];
  return Number.isSafeInteger(total) ? total : undefined;
}

/** A duration in seconds; `positive` refuses zero. */
export function duration(positive = true): Parser<number> {
  const expected = `a duration such as 3600, 90s, 15m, 1h30m or 7d${positive ? ' (greater than zero)' : ''}`;
  return parser(expected, (raw) => {
    const seconds = parseDuration(raw);
    if (seconds === undefined || (positive && seconds === 0)) throw new ParseError(expected);
    return seconds;
  });
}

/** A list: a YAML sequence, a JSON array, or a comma-separated string. */
export function list<T>(item: Parser<T>): Parser<T[]> {
  const expected = `a comma-separated list or JSON array of ${item.expected.replace(/^an? /, '')} values`;
  return parser(expected, (raw) => {
    let items: unknown[];
    if (Array.isArray(raw)) items = raw;
    else if (typeof raw === 'string' && raw.trim().startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (!Array.isArray(parsed)) throw new ParseError(expected);
        items = parsed;
      } catch {
        throw new ParseError(expected);
      }
    } else if (typeof raw === 'string') {
      items = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    } else throw new ParseError(expected);
    try {
      return items.map((i) => item(i));
    } catch {
      throw new ParseError(expected);
    }
  });
}

export interface TrustedIssuer {
  issuer: string;
  jwks?: { keys: Record<string, unknown>[] };
  jwks_uri?: string;
}

/** Trusted software statement issuers: a YAML sequence or a JSON array of {issuer, jwks | jwks_uri}. */
export const trustedIssuers = parser('a JSON array of {"issuer", "jwks" or "jwks_uri"} objects', (raw) => {
  const expected = 'a JSON array of {"issuer", "jwks" or "jwks_uri"} objects';
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ParseError(expected);
    }
  }
  if (!Array.isArray(value)) throw new ParseError(expected);
  return value.map((entry: unknown): TrustedIssuer => {
    const e = entry as Record<string, unknown>;
    if (!e || typeof e !== 'object' || typeof e.issuer !== 'string' || e.issuer === '') throw new ParseError(expected);
    const hasJwks = e.jwks !== undefined;
    const hasUri = e.jwks_uri !== undefined;
    if (hasJwks === hasUri) throw new ParseError(`${expected}, each with exactly one of jwks and jwks_uri`);
    if (hasJwks && !Array.isArray((e.jwks as { keys?: unknown })?.keys)) throw new ParseError(`${expected}; jwks must be a JWK Set`);
    if (hasUri && (typeof e.jwks_uri !== 'string' || !e.jwks_uri.startsWith('https://'))) {
      throw new ParseError(`${expected}; jwks_uri must be an https URL`);
    }
    return { issuer: e.issuer, ...(hasJwks ? { jwks: e.jwks as TrustedIssuer['jwks'] } : { jwks_uri: e.jwks_uri as string }) };
  });
});

export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

/** `20/1m` (20 per minute), `100/1h`; `0` turns the limit off (undefined). */
export const rateLimit = parser('0 (off) or N/duration such as 20/1m', (raw): RateLimit | undefined => {
  const expected = '0 (off) or N/duration such as 20/1m';
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  if (s === '0' || s === 'off') return undefined;
  const match = /^(\d+)\/(.+)$/.exec(s);
  const windowSeconds = match ? parseDuration(match[2]) : undefined;
  const limit = match ? Number(match[1]) : NaN;
  if (!match || !windowSeconds || !(limit >= 1 && Number.isSafeInteger(limit))) throw new ParseError(expected);
  return { limit, windowSeconds };
});
