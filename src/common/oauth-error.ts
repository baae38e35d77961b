// The closed set of errors Registrar answers with. Services throw OAuthError
// with an RFC error code; the global filter (oauth-exception.filter.ts) renders it.

const STATUS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  unsupported_response_type: 400,
  request_not_supported: 400,
  request_uri_not_supported: 400,
  login_required: 400,
  consent_required: 400,
  interaction_required: 400,
  invalid_target: 400,
  // RFC 9449 §5, §7.1, §8
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  access_denied: 403,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  invalid_software_statement: 400,
  unapproved_software_statement: 400,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  request_entity_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  server_error: 500,
  temporarily_unavailable: 503,
} as const;

export type OAuthErrorCode = keyof typeof STATUS;

/** Codes that share a status with a more general one and are never inferred from a status alone. */
const STATUS_ONLY_BY_NAME = new Set<OAuthErrorCode>(['invalid_client', 'insufficient_scope', 'invalid_dpop_proof', 'use_dpop_nonce']);

export class OAuthError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: OAuthErrorCode,
    readonly description?: string,
    options: { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(description ? `${code}: ${description}` : code);
    this.name = 'OAuthError';
    this.status = options.status ?? STATUS[code];
    this.headers = options.headers ?? {};
  }

  static isCode(value: string): value is OAuthErrorCode {
    return Object.hasOwn(STATUS, value);
  }

  /** The code conventionally used for an HTTP status that arrived without an OAuth code. */
  static codeForStatus(status: number): OAuthErrorCode {
    const found = (Object.entries(STATUS) as [OAuthErrorCode, number][]).find(
      ([code, s]) => s === status && !STATUS_ONLY_BY_NAME.has(code),
    );
    if (found) return found[0];
    return status >= 500 ? 'server_error' : 'invalid_request';
  }
}

export function clientMetadataError(description: string): OAuthError {
  return new OAuthError('invalid_client_metadata', description);
}

export function redirectUriError(description: string): OAuthError {
  return new OAuthError('invalid_redirect_uri', description);
}
