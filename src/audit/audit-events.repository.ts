// The SQL of audit events and of their webhook outbox (README "Audit events").
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import { actorFromColumns, actorId, type ActorType, type AuditEvent, type AuditEventType, type AuditEventView } from './audit-event.js';

/** An event as written: its row, and the webhooks (by id) that get its JSON `body`. */
export interface RecordedEvent {
  event: AuditEvent;
  /** What webhooks and the log show of it, and that as JSON. */
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

@Injectable()
export class AuditEventsRepository {
  constructor(private readonly database: Database) {}

  /**
   * Events and their webhook deliveries (one outbox row per webhook id), any
   * number in one statement, in the ambient transaction when there is one.
   */
  async insert(events: readonly RecordedEvent[]): Promise<void> {
    const deliveries = events.flatMap((e) => e.webhookIds.map((webhookId) => ({ eventId: e.event.id, webhookId, body: e.body, time: e.event.time })));
    await this.database.run(
      'audit_events_insert',
      `WITH events AS (
         INSERT INTO audit_events (id, occurred_at, type, actor_type, actor_id, client_id, request_id, trace_id, details)
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[]))
       INSERT INTO audit_outbox (id, event_id, webhook_id, body, next_attempt_at, created_at)
       SELECT id, event_id, webhook_id, body, due, due FROM unnest($10::uuid[], $11::uuid[], $12::text[], $13::text[], $14::timestamptz[])
           AS o(id, event_id, webhook_id, body, due)`,
      [
        events.map((e) => e.event.id),
        events.map((e) => e.event.time),
        events.map((e) => e.event.type),
        events.map((e) => e.event.actor.type),
        events.map((e) => actorId(e.event.actor)),
        events.map((e) => e.event.clientId),
        events.map((e) => e.event.requestId),
        events.map((e) => e.event.traceId),
        events.map((e) => JSON.stringify(e.event.details)),
        deliveries.map(() => randomUUID()),
        deliveries.map((d) => d.eventId),
        deliveries.map((d) => d.webhookId),
        deliveries.map((d) => d.body),
        deliveries.map((d) => d.time),
      ],
    );
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
