// Input that parses but cannot be stored or handled safely: NUL characters and
// unpaired surrogates (PostgreSQL refuses them in text and jsonb), and nesting
// deeper than any client metadata needs (recursive code would overflow).
import { OAuthError } from './oauth-error.js';

const MAX_DEPTH = 32;

function badText(value: string): boolean {
  return value.includes('\u0000') || !value.isWellFormed();
}

/** Throws 400 invalid_request for strings (keys included) or nesting the server refuses. */
export function assertSafeInput(value: unknown, where: string, depth = 0): void {
  if (typeof value === 'string') {
    if (badText(value)) throw new OAuthError('invalid_request', `${where} contains a NUL character or an unpaired surrogate`);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_DEPTH) throw new OAuthError('invalid_request', `${where} is nested more than ${MAX_DEPTH} levels deep`);
  if (Array.isArray(value)) {
    for (const item of value) assertSafeInput(item, where, depth + 1);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (badText(key)) throw new OAuthError('invalid_request', `${where} contains a NUL character or an unpaired surrogate`);
    assertSafeInput(item, where, depth + 1);
  }
}

/** The same check for the request target: a path or query with %00 or broken UTF-8 never reaches a handler. */
export function assertSafeUrl(url: string): void {
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.replace(/\+/g, ' '));
  } catch {
    throw new OAuthError('invalid_request', 'the request URL is not valid UTF-8');
  }
  if (badText(decoded)) throw new OAuthError('invalid_request', 'the request URL contains a NUL character or an unpaired surrogate');
}

/**
 * A copy without own `constructor` keys, at any depth. class-transformer's
 * plainToInstance throws on a nested object carrying one (a 500 for bad
 * input); no field of the answers it reads has that name, so it is dropped
 * like the other prototype keys the JSON parser removes.
 */
export function withoutConstructorKeys<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item: unknown) => withoutConstructorKeys(item)) as T;
  return Object.fromEntries(
    Object.entries(value).filter(([key]) => key !== 'constructor').map(([key, item]) => [key, withoutConstructorKeys(item)]),
  ) as T;
}
