// CORS for the endpoints browser-based clients call: registration, token,
// introspection, revocation, userinfo, discovery and JWKS. Admin routes, the
// authorization endpoint and the login pages never answer cross-origin requests.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestPath } from './http.js';

const PUBLIC_PREFIXES = ['/oauth2/register', '/oauth2/token', '/oauth2/introspect', '/oauth2/revoke', '/userinfo', '/.well-known/'];

/** An onRequest hook; answers preflights itself. */
export function corsHook(allowedOrigins: readonly string[]) {
  const any = allowedOrigins.includes('*');
  const origins = new Set(allowedOrigins.map((o) => o.replace(/\/+$/, '')));
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const origin = req.headers.origin;
    if (!origin || !(any || origins.has(origin))) return;
    const path = requestPath(req);
    if (!PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`))) return;
    reply.header('Access-Control-Allow-Origin', any ? '*' : origin);
    reply.header('Vary', 'Origin');
    reply.header('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, WWW-Authenticate');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      reply.header('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE');
      reply.header('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id');
      reply.header('Access-Control-Max-Age', '600');
      await reply.code(204).send();
    }
  };
}
