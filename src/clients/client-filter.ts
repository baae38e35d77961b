// The filters of the admin client list, shared by GET /admin/clients (query
// parameters) and POST /admin/bulk/clients (a JSON object): README "Operating
// a fleet of dynamic clients". Every parameter is checked here, and a bad one
// is a 400 that names it.
import { OAuthError } from '../common/oauth-error.js';

export interface ClientFilter {
  clientName?: string;
  owner?: string;
  initialAccessTokenId?: string;
  /** A policy the client was registered through (one of its registration policies). */
  policy?: string;
  softwareId?: string;
  softwareStatementIssuer?: string;
  createdVia?: 'admin' | 'dcr';
  /** RFC 3339 bounds on last_used_at; a client never used matches neither. */
  lastUsedBefore?: Date;
  lastUsedAfter?: Date;
  suspended?: boolean;
}

/** Parameter name -> how it is read into the filter. */
const PARAMETERS = {
  client_name: (f: ClientFilter, v: unknown) => (f.clientName = text('client_name', v)),
  owner: (f: ClientFilter, v: unknown) => (f.owner = text('owner', v)),
  initial_access_token_id: (f: ClientFilter, v: unknown) => (f.initialAccessTokenId = text('initial_access_token_id', v)),
  policy: (f: ClientFilter, v: unknown) => (f.policy = text('policy', v)),
  software_id: (f: ClientFilter, v: unknown) => (f.softwareId = text('software_id', v)),
  software_statement_issuer: (f: ClientFilter, v: unknown) => (f.softwareStatementIssuer = text('software_statement_issuer', v)),
  created_via: (f: ClientFilter, v: unknown) => {
    if (v !== 'admin' && v !== 'dcr') throw invalid('created_via must be admin or dcr');
    f.createdVia = v;
  },
  last_used_before: (f: ClientFilter, v: unknown) => (f.lastUsedBefore = timestamp('last_used_before', v)),
  last_used_after: (f: ClientFilter, v: unknown) => (f.lastUsedAfter = timestamp('last_used_after', v)),
  suspended: (f: ClientFilter, v: unknown) => {
    if (v === true || v === 'true') f.suspended = true;
    else if (v === false || v === 'false') f.suspended = false;
    else throw invalid('suspended must be true or false');
  },
} as const;

/** The filter parameters, as the list's Link header keeps them from page to page. */
export const CLIENT_FILTER_PARAMETERS = Object.keys(PARAMETERS);

const MAX_TEXT = 1024;
// RFC 3339 §5.6 date-time (T and Z in either case, §5.6 note); seconds fractions allowed.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

function invalid(description: string): OAuthError {
  return new OAuthError('invalid_request', description);
}

function text(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT) {
    throw invalid(`${name} must be a non-empty string of at most ${MAX_TEXT} characters`);
  }
  return value;
}

function timestamp(name: string, value: unknown): Date {
  const date = typeof value === 'string' && DATE_TIME.test(value) ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw invalid(`${name} must be an RFC 3339 date-time, e.g. 2025-01-31T00:00:00Z`);
  return date;
}

function build(entries: Array<[string, unknown]>): ClientFilter {
  const filter: ClientFilter = {};
  for (const [name, value] of entries) {
    if (!Object.hasOwn(PARAMETERS, name)) continue;
    PARAMETERS[name as keyof typeof PARAMETERS](filter, value);
  }
  return filter;
}

/** The filter of a list request; `param` reads one query parameter (refusing repeats). */
export function filterFromQuery(param: (name: string) => string | undefined): ClientFilter {
  return build(CLIENT_FILTER_PARAMETERS.map((name) => [name, param(name)] as [string, unknown]).filter(([, v]) => v !== undefined));
}

/** The filter of a bulk request: an object of the same parameters; an unknown one is refused, not ignored. */
export function filterFromBody(value: unknown): ClientFilter {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('filter must be an object');
  const unknown = Object.keys(value).filter((name) => !Object.hasOwn(PARAMETERS, name));
  if (unknown.length > 0) {
    throw invalid(`filter.${unknown[0]} is not a filter; the filters are ${CLIENT_FILTER_PARAMETERS.join(', ')}`);
  }
  return build(Object.entries(value).map(([name, v]) => {
    try {
      PARAMETERS[name as keyof typeof PARAMETERS]({}, v);
    } catch (err) {
      if (err instanceof OAuthError) throw invalid(`filter.${err.description}`);
      throw err;
    }
    return [name, v];
  }));
}

export function isEmptyFilter(filter: ClientFilter): boolean {
  return Object.values(filter).every((v) => v === undefined);
}
