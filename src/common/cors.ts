// CORS for the endpoints browser-based clients call: registration, token,
// introspection, revocation, userinfo, discovery and JWKS. Admin routes, the
// authorization endpoint and the login pages never answer cross-origin requests.
//
// Two sources of allowed origins: serve.public.cors.allowed_origins, for every
// public endpoint, and a client's own allowed_cors_origins (Hydra's field), for
// the endpoints where that client authenticates (token, introspection,
// revocation) or presents its access token (userinfo).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestPath } from './http.js';

const PUBLIC_PREFIXES = ['/oauth2/register', '/oauth2/token', '/oauth2/introspect', '/oauth2/revoke', '/userinfo', '/.well-known/'];
/** Where a client's own allowed_cors_origins apply: the request names the client by its credentials. */
const CLIENT_PATHS = new Set(['/oauth2/token', '/oauth2/introspect', '/oauth2/revoke', '/userinfo']);
const EXPOSED = 'X-Request-Id, Retry-After, WWW-Authenticate, DPoP-Nonce';

/** Whether any client lists the origin in its allowed_cors_origins. */
export type OriginLookup = (origin: string) => Promise<boolean>;

function allow(reply: FastifyReply, origin: string): void {
  reply.header('Access-Control-Allow-Origin', origin);
  reply.header('Vary', 'Origin');
  reply.header('Access-Control-Expose-Headers', EXPOSED);
}

/**
 * An onRequest hook; answers preflights itself. A preflight carries no
 * credentials, so for the client endpoints it is answered for an origin some
 * client lists; the request that follows gets its CORS headers only when
 * the authenticated client lists the origin (allowClientOrigin).
 */
export function corsHook(allowedOrigins: readonly string[], listedByClient?: OriginLookup) {
  const any = allowedOrigins.includes('*');
  const origins = new Set(allowedOrigins.map((o) => o.replace(/\/+$/, '')));
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const origin = req.headers.origin;
    if (!origin) return;
    const path = requestPath(req);
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    const configured = any || origins.has(origin);
    const allowed = configured
      ? PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`))
      : preflight && CLIENT_PATHS.has(path) && listedByClient !== undefined && (await listedByClient(origin));
    if (!allowed) return;
    allow(reply, configured && any ? '*' : origin);
    if (preflight) {
      reply.header('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE');
      reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id, DPoP');
      reply.header('Access-Control-Max-Age', '600');
      await reply.code(204).send();
    }
  };
}

/** After a client authenticated: lets its browser origin read the answer when the client lists that origin. */
export function allowClientOrigin(req: FastifyRequest, reply: FastifyReply, clientOrigins: unknown): void {
  const origin = req.headers.origin;
  if (!origin || reply.hasHeader('Access-Control-Allow-Origin')) return;
  if (Array.isArray(clientOrigins) && clientOrigins.includes(origin)) allow(reply, origin);
}
