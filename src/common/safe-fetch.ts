// Every URL the server dereferences on a registrant's behalf goes through here:
// https only, bounded in time, size and redirects, and never to private,
// loopback, link-local or metadata addresses unless configured. The address is
// checked after DNS resolution and the connection goes to that same address,
// so a DNS answer that changes between check and connect cannot slip past.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { readFileSync } from 'node:fs';
// The module object, not a named import: tracing patches https.request on it after
// this module may have been linked, and only a call through it sees the patch
// (which adds the W3C traceparent header; README "Tracing").
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import { OAuthError } from './oauth-error.js';

export class FetchError extends Error {
  override name = 'FetchError';
}

/** A response body over the size limit; its reading stopped at the limit. */
export class FetchTooLargeError extends FetchError {
  override name = 'FetchTooLargeError';
}

/**
 * A fetch refused at once because `maxConcurrent` fetches are already in
 * flight. Nothing waits in a queue: a request that would wait would hold its
 * caller (and any resource the caller holds) for as long as the fetches ahead.
 */
export class FetchBusyError extends FetchError {
  override name = 'FetchBusyError';

  constructor(
    readonly limit: number,
    /** Every fetch in flight ends within the time limit, so a slot is free by then. */
    readonly retryAfterSeconds: number,
  ) {
    super(`${limit} server-side fetches are already in progress`);
  }
}

/** The answer to a request that needed a server-side fetch while the fetcher was full (RFC 6749 §4.1.2.1, RFC 9110 §10.2.3). */
export function tooManyFetches(err: FetchBusyError): OAuthError {
  return new OAuthError('temporarily_unavailable', 'too many server-side fetches are in progress; retry later', {
    headers: { 'Retry-After': String(err.retryAfterSeconds) },
  });
}

export interface SafeFetchOptions {
  timeoutMs: number;
  maxBytes: number;
  allowPrivateNetworks: boolean;
  /** Extra trusted CA certificates (PEM), e.g. an internal PKI. */
  ca?: string;
  maxRedirects?: number;
  cacheTtlMs?: number;
  /** Fetches in flight at once; beyond it a fetch fails at once with FetchBusyError. Unset = unbounded. */
  maxConcurrent?: number;
}

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, including 169.254.169.254 cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  // ::/96 holds the unspecified address, loopback and the deprecated
  // IPv4-compatible form ::a.b.c.d (RFC 4291 §2.5.5.1); ::ffff:0:0:0/96 the
  // IPv4-translated form ::ffff:0:a.b.c.d (RFC 2765 §2.1). Neither is routed on
  // the Internet, and a host may deliver them to the embedded IPv4 address,
  // so [::127.0.0.1] or [::ffff:0:169.254.169.254] could reach what 127.0.0.1 cannot.
  ['::', 96],
  ['::ffff:0:0:0', 96],
  // NAT64 (RFC 6052 §2.1, RFC 8215): the gateway connects to the embedded IPv4
  // address, which may be private; refused whatever it embeds.
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7], // unique local, including fd00:ec2::254 cloud metadata
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

/** True for addresses a server-side fetch must not reach by default. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1], 'ipv4');
  return BLOCKED.check(address, 'ipv6');
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** One response as it came, for callers that read its headers (status, caching, content type). */
export interface FetchedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface Answer extends FetchedResponse {
  location?: string;
}

export class SafeFetcher {
  private readonly cache = new Map<string, { expires: number; value: unknown }>();
  private inFlight = 0;

  constructor(private readonly options: SafeFetchOptions) {}

  /** GETs a JSON document; cached for a bounded time. */
  async fetchJson(url: string): Promise<unknown> {
    const cached = this.cache.get(url);
    if (cached && cached.expires > Date.now()) return cached.value;
    const body = await this.get(url, 'application/json');
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      throw new FetchError(`${url} did not return JSON`);
    }
    if (this.cache.size >= 1000) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(url, { expires: Date.now() + (this.options.cacheTtlMs ?? 300_000), value });
    return value;
  }

  /** A fetch-compatible function for libraries that take one (jose's remote JWK sets). */
  asFetch(): (url: string) => Promise<Response> {
    return async (url: string) => {
      const body = await this.get(String(url), 'application/json');
      return new Response(new Uint8Array(body), { status: 200, headers: { 'content-type': 'application/json' } });
    };
  }

  /**
   * GETs a URL; the time limit covers the whole fetch, redirects included, and
   * the whole fetch takes one of the maxConcurrent slots.
   */
  async get(url: string, accept: string): Promise<Buffer> {
    return this.inSlot(() => this.follow(url, accept, 0, Date.now() + this.options.timeoutMs));
  }

  /**
   * GETs one URL and answers with whatever status it gave, its headers and
   * its body, read up to `maxBytes` (more is a FetchError). Redirects are not
   * followed: a 3xx comes back as it is. Same guards, time limit and slot as `get`.
   */
  async getResponse(url: string, accept: string, maxBytes: number): Promise<FetchedResponse> {
    return this.inSlot(async () => {
      const { status, headers, body } = await this.once(this.target(url), accept, this.options.timeoutMs, maxBytes);
      return { status, headers, body };
    });
  }

  /**
   * POSTs `body` to one URL and answers with its status, headers and body
   * (read up to `maxBytes`). Redirects are not followed. Same guards, time
   * limit and slot as `get`.
   */
  async post(url: string, body: string, headers: Record<string, string>, maxBytes: number): Promise<FetchedResponse> {
    return this.inSlot(async () => {
      const answer = await this.once(this.target(url), 'application/json', this.options.timeoutMs, maxBytes, { method: 'POST', body, headers });
      return { status: answer.status, headers: answer.headers, body: answer.body };
    });
  }

  private async inSlot<T>(work: () => Promise<T>): Promise<T> {
    const limit = this.options.maxConcurrent;
    if (limit !== undefined && this.inFlight >= limit) {
      throw new FetchBusyError(limit, Math.max(1, Math.ceil(this.options.timeoutMs / 1000)));
    }
    this.inFlight += 1;
    try {
      return await work();
    } finally {
      this.inFlight -= 1;
    }
  }

  /** A URL this fetcher may request at all: https, and not a refused address literal. */
  private target(url: string): URL {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new FetchError(`${url} is not a URL`);
    }
    if (target.protocol !== 'https:') throw new FetchError(`${url} is not an https URL`);
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal) && !this.options.allowPrivateNetworks && isPrivateAddress(literal)) {
      throw new FetchError(`${target.host} is a private, loopback or link-local address`);
    }
    return target;
  }

  private async follow(url: string, accept: string, redirects: number, deadline: number): Promise<Buffer> {
    const target = this.target(url);
    const { status, location, body } = await this.once(target, accept, deadline - Date.now());
    if ([301, 302, 303, 307, 308].includes(status) && location) {
      if (redirects >= (this.options.maxRedirects ?? 3)) throw new FetchError(`too many redirects from ${url}`);
      let next: string;
      try {
        next = new URL(location, target).toString();
      } catch {
        throw new FetchError(`${url} redirected to an invalid location`);
      }
      return this.follow(next, accept, redirects + 1, deadline);
    }
    if (status !== 200) throw new FetchError(`${url} answered HTTP ${status}`);
    return body;
  }

  private guardedLookup = (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const allowed = addresses.filter((a) => this.options.allowPrivateNetworks || !isPrivateAddress(a.address));
      if (allowed.length === 0 || allowed.length < addresses.length) {
        const blocked = Object.assign(new FetchError(`${hostname} resolves to a private, loopback or link-local address`), { code: 'EPRIVATE' });
        return callback(blocked, []);
      }
      if (options.all) return callback(null, allowed);
      return callback(null, allowed[0].address, allowed[0].family);
    });
  };

  private once(
    target: URL,
    accept: string,
    remainingMs: number,
    maxBytes = this.options.maxBytes,
    send?: { method: 'POST'; body: string; headers: Record<string, string> },
  ): Promise<Answer> {
    const timeoutMs = this.options.timeoutMs;
    if (remainingMs <= 0) return Promise.reject(new FetchError(`${target} took longer than ${timeoutMs} ms`));
    const tooLarge = () => new FetchTooLargeError(`${target} is larger than ${maxBytes} bytes`);
    return new Promise((resolve, reject) => {
      // Settled once: the first failure wins, and a body that went over the
      // limit never resolves, even when its end arrives with the last chunk.
      let settled = false;
      const succeed = (value: Answer) => {
        if (!settled) resolve(value);
        settled = true;
      };
      const fail = (err: unknown) => {
        if (!settled) reject(err);
        settled = true;
      };
      const req = https.request(
        target,
        {
          method: send?.method ?? 'GET',
          headers: {
            accept,
            'user-agent': 'registrar',
            ...(send ? { ...send.headers, 'content-length': String(Buffer.byteLength(send.body)) } : {}),
          },
          lookup: this.guardedLookup as never,
          ca: this.options.ca ? [this.options.ca] : undefined,
          // No shared keep-alive pool: every connection goes through the address check above.
          agent: false,
          timeout: remainingMs,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400) {
            res.resume();
            succeed({ status, location: res.headers.location, headers: res.headers, body: Buffer.alloc(0) });
            return;
          }
          const declared = Number(res.headers['content-length'] ?? 0);
          if (declared > maxBytes) {
            fail(tooLarge());
            req.destroy();
            return;
          }
          // Without a Content-Length (chunked), or with one that lies, the bytes themselves are counted.
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (settled) return;
            size += chunk.length;
            if (size <= maxBytes) {
              chunks.push(chunk);
              return;
            }
            fail(tooLarge());
            req.destroy();
          });
          res.on('end', () => {
            if (size > maxBytes) fail(tooLarge());
            else succeed({ status, headers: res.headers, body: Buffer.concat(chunks) });
          });
          res.on('error', (err) => fail(err instanceof FetchError ? err : new FetchError(`${target} could not be read: ${err.message}`)));
        },
      );
      // The socket timeout covers idle time; the deadline covers a slow trickle.
      const deadline = setTimeout(() => req.destroy(new FetchError(`${target} took longer than ${timeoutMs} ms`)), remainingMs);
      req.on('timeout', () => req.destroy(new FetchError(`${target} took longer than ${timeoutMs} ms`)));
      req.on('error', (err) => fail(err instanceof FetchError ? err : new FetchError(`${target} could not be fetched: ${err.message}`)));
      req.on('close', () => clearTimeout(deadline));
      req.end(send?.body);
    });
  }
}

/** The application's fetcher, configured from the fetch.* keys. */
@Injectable()
export class ServerFetcher extends SafeFetcher {
  constructor(config: ConfigService) {
    const caFile = config.get('fetch.ca_file');
    super({
      timeoutMs: config.get('fetch.timeout') * 1000,
      maxBytes: config.get('fetch.max_bytes'),
      allowPrivateNetworks: config.get('fetch.allow_private_networks'),
      ca: caFile ? readFileSync(caFile, 'utf8') : undefined,
      maxConcurrent: config.get('fetch.max_concurrent'),
    });
  }
}
