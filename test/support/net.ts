import { createServer } from 'node:net';

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export type AdminInit = RequestInit & { json?: unknown };

/** Anything that reaches the admin API: an in-process app or a service process. */
export interface AdminDoor {
  admin(path: string, init?: AdminInit): Promise<Response>;
}

/** An `Authorization: Basic` value (RFC 6749 §2.3.1): id and secret form-urlencoded, joined with ':', then Base64-encoded. */
export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/** A request to `baseUrl + path` with the admin key; `json` becomes a JSON body. */
export function adminFetch(baseUrl: string, adminKey: string, path: string, init: AdminInit = {}): Promise<Response> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set('Authorization', `Bearer ${adminKey}`);
  if (json !== undefined) headers.set('Content-Type', 'application/json');
  return fetch(baseUrl + path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
}

/** The target of a response's Link rel="next", if any. */
export function nextLink(res: Response): string | undefined {
  return /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
}

/** Follows rel="next" from `firstPath` and returns every page, in order. */
export async function allPages<T>(
  get: (path: string) => Promise<Response>,
  baseUrl: string,
  firstPath: string,
): Promise<Array<{ status: number; items: T[]; next?: string }>> {
  const pages: Array<{ status: number; items: T[]; next?: string }> = [];
  let next: string | undefined = firstPath;
  while (next && pages.length < 1000) {
    const url = new URL(next, baseUrl);
    const res = await get(url.pathname + url.search);
    const items = res.status === 200 ? ((await res.json()) as T[]) : [];
    next = nextLink(res);
    pages.push({ status: res.status, items, next });
  }
  return pages;
}
