// The SQL of audit events and of their webhook outbox (README "Audit events").
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import { actorFromColumns, actorId, type ActorType, type AuditEvent, type AuditEventType, type AuditEventView } from './audit-event.js';

/** An event as written: its row, and the webhooks (by id) that get its JSON `body`. */
export interface RecordedEvent {
  event: AuditEvent;
  /** What webhooks and the log show of it, and that as JSON when a webhook gets it (empty otherwise). */
  view: AuditEventView;
  body: string;
  webhookIds: string[];
}

export interface AuditEventFilter {
  types?: AuditEventType[];
  clientId?: string;
  actorType?: ActorType;
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
}

/** Where a page starts: after this event in newest-first order. */
export interface AuditCursor {
  time: Date;
  id: string;
}

/** A delivery the worker claimed; `attempts` counts this one. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  webhookId: string;
  body: string;
  attempts: number;
  createdAt: Date;
}

interface EventRow {
  id: string;
  occurred_at: Date;
  type: AuditEventType;
  actor_type: string;
  actor_id: string | null;
  client_id: string | null;
  request_id: string | null;
  trace_id: string | null;
  details: AuditEvent['details'];
}

/**
 * Writes `events` and their webhook deliveries (one outbox row per webhook id)
 * as two CTEs, `audit_written` and `audit_queued`, for a statement that may
 * write other rows too; its two parameters, `$first` and the next, are JSON
 * arrays (one parameter each, whatever the number of rows). With
 * `onlyClientsIn`, the name of a CTE of that statement with an `id` column,
 * only the events of the clients it returns are written: an event then exists
 * exactly when its client's row was written by the same statement.
 */
export function auditEventsWrite(events: readonly RecordedEvent[], first: number, onlyClientsIn?: string): { ctes: string; values: [string, string] } {
  const rows = events.map(({ event }) => ({
    id: event.id,
    occurred_at: event.time,
    type: event.type,
    actor_type: event.actor.type,
    actor_id: actorId(event.actor),
    client_id: event.clientId,
    request_id: event.requestId,
    trace_id: event.traceId,
    details: event.details,
  }));
  const deliveries = events.flatMap((e) => e.webhookIds.map((webhookId) => ({ id: randomUUID(), event_id: e.event.id, webhook_id: webhookId, body: e.body, due: e.event.time })));
  const ctes = `audit_written AS (
       INSERT INTO audit_events (id, occurred_at, type, actor_type, actor_id, client_id, request_id, trace_id, details)
       SELECT e.id, e.occurred_at, e.type, e.actor_type, e.actor_id, e.client_id, e.request_id, e.trace_id, e.details
         FROM json_to_recordset($${first}::json) AS e(id uuid, occurred_at timestamptz, type text, actor_type text, actor_id text,
                                                     client_id text, request_id text, trace_id text, details jsonb)
       ${onlyClientsIn ? `WHERE e.client_id IN (SELECT id FROM ${onlyClientsIn})` : ''}
       RETURNING id),
     audit_queued AS (
       INSERT INTO audit_outbox (id, event_id, webhook_id, body, next_attempt_at, created_at)
       SELECT o.id, o.event_id, o.webhook_id, o.body, o.due, o.due
         FROM json_to_recordset($${first + 1}::json) AS o(id uuid, event_id uuid, webhook_id text, body text, due timestamptz)
       ${onlyClientsIn ? 'WHERE o.event_id IN (SELECT id FROM audit_written)' : ''})`;
  return { ctes, values: [JSON.stringify(rows), JSON.stringify(deliveries)] };
}

@Injectable()
export class AuditEventsRepository {
  constructor(private readonly database: Database) {}

  /**
   * Events and their webhook deliveries (one outbox row per webhook id), any
   * number in one statement, in the ambient transaction when there is one.
   */
  async insert(events: readonly RecordedEvent[]): Promise<void> {
    const write = auditEventsWrite(events, 1);
    await this.database.run('audit_events_insert', `WITH ${write.ctes} SELECT 1`, write.values);
  }

  /** Newest first; `limit` rows after `after`. */
  async page(filter: AuditEventFilter, limit: number, after?: AuditCursor): Promise<AuditEvent[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (value: unknown): string => {
      values.push(value);
      return `$${values.length}`;
    };
    if (filter.types) where.push(`type = ANY(${param(filter.types)}::text[])`);
    if (filter.clientId !== undefined) where.push(`client_id = ${param(filter.clientId)}`);
    if (filter.actorType !== undefined) where.push(`actor_type = ${param(filter.actorType)}`);
    if (filter.since) where.push(`occurred_at >= ${param(filter.since)}`);
    if (filter.until) where.push(`occurred_at < ${param(filter.until)}`);
    if (after) where.push(`(occurred_at, id) < (${param(after.time)}, ${param(after.id)}::uuid)`);
    const rows = await this.database.query<EventRow>(
      `SELECT id, occurred_at, type, actor_type, actor_id, client_id, request_id, trace_id, details
         FROM audit_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY occurred_at DESC, id DESC LIMIT ${param(limit)}`,
      values,
    );
    return rows.map((r) => ({
      id: r.id,
      time: r.occurred_at,
      type: r.type,
      actor: actorFromColumns(r.actor_type, r.actor_id),
      clientId: r.client_id,
      requestId: r.request_id,
      traceId: r.trace_id,
      details: r.details,
    }));
  }

  /**
   * Claims up to `limit` due deliveries. Rows are picked with FOR UPDATE SKIP
   * LOCKED, so instances polling at once take different rows, and leased:
   * their next attempt moves `leaseSeconds` ahead, so that a delivery whose
   * instance died is taken up again after the lease (at least once).
   */
  async claimDue(limit: number, leaseSeconds: number): Promise<ClaimedDelivery[]> {
    const rows = await this.database.query<{ id: string; event_id: string; webhook_id: string; body: string; attempts: number; created_at: Date }>(
      `UPDATE audit_outbox SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
        WHERE id IN (SELECT id FROM audit_outbox WHERE state = 'pending' AND next_attempt_at <= now()
                      ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING id, event_id, webhook_id, body, attempts, created_at`,
      [limit, leaseSeconds],
    );
    return rows.map((r) => ({ id: r.id, eventId: r.event_id, webhookId: r.webhook_id, body: r.body, attempts: r.attempts, createdAt: r.created_at }));
  }

  /** The claim still holds when no other instance took the row up since (its attempts are unchanged). */
  async markDelivered(claim: ClaimedDelivery): Promise<void> {
    await this.database.query(
      `UPDATE audit_outbox SET state = 'delivered', finished_at = now(), last_error = NULL WHERE id = $1 AND attempts = $2 AND state = 'pending'`,
      [claim.id, claim.attempts],
    );
  }

  async retryLater(claim: ClaimedDelivery, delaySeconds: number, error: string): Promise<void> {
    await this.database.query(
      `UPDATE audit_outbox SET next_attempt_at = now() + make_interval(secs => $3), last_error = $4
        WHERE id = $1 AND attempts = $2 AND state = 'pending'`,
      [claim.id, claim.attempts, delaySeconds, error],
    );
  }

  async markFailed(claim: ClaimedDelivery, error: string): Promise<void> {
    await this.database.query(
      `UPDATE audit_outbox SET state = 'failed', finished_at = now(), last_error = $3 WHERE id = $1 AND attempts = $2 AND state = 'pending'`,
      [claim.id, claim.attempts, error],
    );
  }
}
