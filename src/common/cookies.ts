// Reading and writing the few cookies the authorization flow needs, and
// signing their values so that a cookie the server did not set is ignored.
import { createHmac } from 'node:crypto';
import type { HttpReply, HttpRequest } from './http.js';
import { safeEqual } from './secrets.js';

export interface CookieOptions {
  path: string;
  /** Seconds; undefined = a browser-session cookie; 0 = delete. */
  maxAge?: number;
  secure: boolean;
}

/** The request's cookies by name (the first of a repeated name wins, as browsers send the most specific path first). */
export function readCookies(req: HttpRequest): Map<string, string> {
  const cookies = new Map<string, string>();
  const header = req.headers.cookie;
  if (typeof header !== 'string') return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

/** Adds a Set-Cookie header: always HttpOnly and SameSite=Lax, Secure on an https issuer. */
export function setCookie(res: HttpReply, name: string, value: string, options: CookieOptions): void {
  const attributes = [`${name}=${value}`, `Path=${options.path}`, 'HttpOnly', 'SameSite=Lax'];
  if (options.maxAge !== undefined) attributes.push(`Max-Age=${options.maxAge}`);
  if (options.secure) attributes.push('Secure');
  // Fastify adds each Set-Cookie to those already set on the reply.
  res.header('set-cookie', attributes.join('; '));
}

function mac(secret: string, value: string): string {
  return createHmac('sha256', `cookie:${secret}`).update(value).digest('base64url');
}

/** `value.signature`, keyed with the first system secret. Values must not contain a dot. */
export function signCookieValue(value: string, secrets: readonly string[]): string {
  return `${value}.${mac(secrets[0], value)}`;
}

/** The value of a signed cookie, if any system secret signed it. */
export function verifyCookieValue(signed: string | undefined, secrets: readonly string[]): string | undefined {
  if (!signed) return undefined;
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const value = signed.slice(0, dot);
  const signature = signed.slice(dot + 1);
  let ok = false;
  for (const secret of secrets) ok = safeEqual(mac(secret, value), signature) || ok;
  return ok ? value : undefined;
}
