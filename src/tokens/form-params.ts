import { mediaType, type HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';

/**
 * The parameters of an application/x-www-form-urlencoded request; repeats
 * refused (RFC 6749 §3.1). With `omitEmpty` (the token, introspection and
 * revocation endpoints), a parameter sent without a value is treated as
 * omitted, as RFC 6749 §3.2 requires: forms that post every field send them.
 */
export function formParams(
  req: HttpRequest,
  repeatable: readonly string[] = [],
  { omitEmpty = false }: { omitEmpty?: boolean } = {},
): { params: Record<string, string>; lists: Record<string, string[]> } {
  if (mediaType(req) !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the request must be application/x-www-form-urlencoded');
  }
  const params: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  for (const [name, value] of Object.entries((req.body ?? {}) as Record<string, unknown>)) {
    const values = (Array.isArray(value) ? value : [value]).filter((v) => !(omitEmpty && v === ''));
    if (!values.every((v) => typeof v === 'string')) throw new OAuthError('invalid_request', `${name} is malformed`);
    if (values.length === 0) continue;
    if (repeatable.includes(name)) lists[name] = values as string[];
    else if (values.length > 1) throw new OAuthError('invalid_request', `${name} must not be repeated`);
    else params[name] = values[0] as string;
  }
  return { params, lists };
}

/** The `token` parameter of introspection and revocation requests. */
export function requiredToken(params: Record<string, string>): string {
  if (!params.token) throw new OAuthError('invalid_request', 'token is required');
  return params.token;
}
