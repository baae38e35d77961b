// What an audit event is (README "Audit events"): its types, who can cause
// one, and the one JSON shape it has in the API, the log and webhook bodies.
// Events name clients, keys and tokens by id only: never a secret, a token or a hash of one.

export const AUDIT_EVENT_TYPES = [
  'client.registered',
  'client.registration_refused',
  'client.read',
  'client.updated',
  'client.deleted',
  'client.rat_rotated',
  'client.secret_rotated',
  'client.suspended',
  'client.resumed',
  'client.rat_recovered',
  'client.reregistered',
  'admin.client.created',
  'admin.client.updated',
  'admin.client.deleted',
  'admin.iat.minted',
  'admin.iat.revoked',
  'admin.policy.created',
  'admin.policy.updated',
  'admin.policy.deleted',
  'admin.key.rotated',
  'token.revoked',
  'bulk.action',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export function isAuditEventType(value: string): value is AuditEventType {
  return (AUDIT_EVENT_TYPES as readonly string[]).includes(value);
}

export const ACTOR_TYPES = ['admin', 'iat', 'rat', 'client', 'anonymous', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

/**
 * Who caused an event: an admin API key (by its key id, README "Audit
 * events"), an initial access token (by id), a client through its
 * registration access token or its own credentials, nobody known (open
 * registration), or the server itself (work no request started).
 */
export type AuditActor =
  | { type: 'admin'; key_id: string }
  | { type: 'iat'; id: string }
  | { type: 'rat'; client_id: string }
  | { type: 'client'; client_id: string }
  | { type: 'anonymous' }
  | { type: 'system' };

/** Small facts about the change: ids, names, counts; never a secret. */
export type AuditDetails = Record<string, string | number | boolean | null | string[]>;

/** What a caller records; the rest (id, time, request and trace) is filled in. */
export interface AuditEventInput {
  type: AuditEventType;
  /** Defaults to the caller of the current request. */
  actor?: AuditActor;
  clientId?: string | null;
  details?: AuditDetails;
}

export interface AuditEvent {
  id: string;
  time: Date;
  type: AuditEventType;
  actor: AuditActor;
  clientId: string | null;
  requestId: string | null;
  traceId: string | null;
  details: AuditDetails;
}

/** The event as the API returns it, the log writes it and webhooks receive it. */
export interface AuditEventView {
  id: string;
  time: string;
  type: AuditEventType;
  actor: AuditActor;
  client_id: string | null;
  request_id: string | null;
  trace_id: string | null;
  details: AuditDetails;
}

export function auditEventView(event: AuditEvent): AuditEventView {
  return {
    id: event.id,
    time: event.time.toISOString(),
    type: event.type,
    actor: event.actor,
    client_id: event.clientId,
    request_id: event.requestId,
    trace_id: event.traceId,
    details: event.details,
  };
}

/** The actor's id as stored in one column: the key id, IAT id or client id. */
export function actorId(actor: AuditActor): string | null {
  switch (actor.type) {
    case 'admin':
      return actor.key_id;
    case 'iat':
      return actor.id;
    case 'rat':
    case 'client':
      return actor.client_id;
    default:
      return null;
  }
}

export function actorFromColumns(type: string, id: string | null): AuditActor {
  switch (type) {
    case 'admin':
      return { type, key_id: id ?? '' };
    case 'iat':
      return { type, id: id ?? '' };
    case 'rat':
    case 'client':
      return { type, client_id: id ?? '' };
    case 'system':
      return { type };
    default:
      return { type: 'anonymous' };
  }
}
