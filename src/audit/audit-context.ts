// The request an audit event happens in, for the services that record it
// deep below the controller: its id (the access log's) and who made it, as
// the guards found out (admin key, initial access token, registration access token).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { AdminRequest } from '../common/admin-api-key.guard.js';
import type { AuditActor } from './audit-event.js';

/** What the guards leave on a request (AdminApiKeyGuard, RegistrationAuthorizationGuard, RegistrationAccessTokenGuard). */
export type AuditedRequest = AdminRequest & {
  initialAccessToken?: { id: string };
  registeredClient?: { id: string };
  /** Registration authorised by an access token: the token's client (README "Registering with an access token"). */
  tokenRegistrar?: { clientId: string };
};

const current = new AsyncLocalStorage<AuditedRequest>();

/** The request being served by the current async call chain, if any. */
export function currentRequest(): AuditedRequest | undefined {
  return current.getStore();
}

/** Runs `work` as part of `req` (for callbacks that may have lost the request's async context). */
export function withRequest<T>(req: AuditedRequest, work: () => T): T {
  return current.run(req, work);
}

/** The caller of a request, by the credential its guard accepted. */
export function actorOf(req: AuditedRequest): AuditActor {
  if (req.adminKeyId !== undefined) return { type: 'admin', key_id: req.adminKeyId };
  if (req.registeredClient) return { type: 'rat', client_id: req.registeredClient.id };
  if (req.initialAccessToken) return { type: 'iat', id: req.initialAccessToken.id };
  if (req.tokenRegistrar) return { type: 'client', client_id: req.tokenRegistrar.clientId };
  return { type: 'anonymous' };
}

/**
 * A Fastify preHandler hook that runs the rest of the request (Nest's guards,
 * pipes and route handler) inside its request's context. The guards record
 * who the caller is on the request object itself, which the context holds, so
 * an event recorded later reads what they found. A hook rather than a Nest
 * interceptor: an interceptor puts every route's answer through an RxJS
 * pipeline, measurable CPU on the token and introspection endpoints.
 */
export function enterRequestContext(req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  current.run(req as AuditedRequest, done);
}
