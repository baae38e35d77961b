// Keyset pagination shared by the admin list routes: `page_size`, an opaque
// `page_token`, and a Link header with rel="first" and rel="next".
import { requestPath, type HttpReply, type HttpRequest } from './http.js';
import { OAuthError } from './oauth-error.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

export interface PageRequest {
  pageSize: number;
  /** The id after which the page starts. */
  after?: string;
}

/** A single query parameter, refusing repeats (`?a=1&a=2`). */
export function queryParam(req: HttpRequest, name: string): string | undefined {
  const raw = (req.query as Record<string, unknown>)[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new OAuthError('invalid_request', `${name} must be given once`);
  return raw;
}

export function pageRequest(req: HttpRequest): PageRequest {
  const rawSize = queryParam(req, 'page_size');
  let pageSize = DEFAULT_PAGE_SIZE;
  if (rawSize !== undefined) {
    pageSize = /^\d+$/.test(rawSize) ? Number(rawSize) : NaN;
    if (!(pageSize >= 1 && pageSize <= MAX_PAGE_SIZE)) {
      throw new OAuthError('invalid_request', `page_size must be an integer from 1 to ${MAX_PAGE_SIZE}`);
    }
  }
  const token = queryParam(req, 'page_token');
  return { pageSize, after: token === undefined ? undefined : decodePageToken(token) };
}

function encodePageToken(lastId: string): string {
  return Buffer.from(JSON.stringify({ after: lastId })).toString('base64url');
}

function decodePageToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // reported below
  }
  throw new OAuthError('invalid_request', 'page_token is not a token this server issued');
}

/** Sets the Link header for a page fetched with `pageSize + 1` rows; returns the rows to send. */
export function sendPage<T>(
  req: HttpRequest,
  res: HttpReply,
  page: PageRequest,
  rows: T[],
  keep: string[],
  keyOf: (row: T) => string = (row) => (row as { id: string }).id,
): T[] {
  const items = rows.slice(0, page.pageSize);
  const link = (after?: string): string => {
    const params = new URLSearchParams({ page_size: String(page.pageSize) });
    if (after !== undefined) params.set('page_token', encodePageToken(after));
    for (const name of keep) {
      const value = (req.query as Record<string, unknown>)[name];
      if (typeof value === 'string') params.set(name, value);
      // A parameter a route takes repeated (e.g. /admin/events?type=a&type=b) stays repeated.
      else if (Array.isArray(value)) for (const v of value) if (typeof v === 'string') params.append(name, v);
    }
    return `${requestPath(req)}?${params.toString()}`;
  };
  const links = [`<${link()}>; rel="first"`];
  if (rows.length > page.pageSize) links.push(`<${link(keyOf(items[items.length - 1]))}>; rel="next"`);
  res.header('Link', links.join(', '));
  return items;
}
