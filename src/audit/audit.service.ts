// Records audit events (README "Audit events"): one row per event, written in
// the transaction of the change it describes, so an event exists exactly when
// its change committed; an outbox row per webhook that wants it, in the same
// transaction; and, once committed, a JSON log line.
import { randomUUID } from 'node:crypto';
import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { adminKeyId } from '../common/admin-api-key.guard.js';
import { AppLogger } from '../common/logging.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { actorOf, currentRequest } from './audit-context.js';
import { GroupCommit } from '../database/group-commit.js';
import { auditEventView, type AuditEvent, type AuditEventInput } from './audit-event.js';
import { AuditEventsRepository, type AuditCursor, type AuditEventFilter, type RecordedEvent } from './audit-events.repository.js';
import { webhookId } from './webhook-config.js';

/** Longest detail string kept (error descriptions); events stay small. */
const MAX_DETAIL_LENGTH = 500;

let lastMs = 0;
let sequence = 0;

/**
 * A time-ordered UUID (version 7, RFC 9562 §5.7) whose 12 bits after the
 * millisecond count the events of that millisecond in this process, so that
 * the list's tie-break on id keeps the order in which events were recorded.
 */
function eventId(now: number): string {
  if (now <= lastMs) {
    sequence += 1;
    if (sequence > 0xfff) {
      lastMs += 1;
      sequence = 0;
    }
  } else {
    lastMs = now;
    sequence = 0;
  }
  // The random part from Node's pooled UUID entropy: its last 16 hex digits (the variant and 62 random bits).
  const time = lastMs.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8)}-${(0x7000 | sequence).toString(16)}-${randomUUID().slice(19)}`;
}

@Injectable()
export class AuditService implements OnApplicationBootstrap {
  private readonly listeners: Array<() => void> = [];
  /** Events recorded outside a transaction, written together (README "Performance"). */
  private readonly writes = new GroupCommit<RecordedEvent, void>(async (batch) => {
    await this.events.insert(batch);
    this.announce(batch);
    return batch.map(() => ({ ok: true, value: undefined }));
  });

  constructor(
    private readonly events: AuditEventsRepository,
    private readonly database: Database,
    private readonly config: ConfigService,
    private readonly logger: AppLogger,
  ) {}

  onApplicationBootstrap(): void {
    // The admin actor's key_id of each configured key, so operators can tell whose events are whose.
    const secret = this.config.systemSecrets()[0];
    this.logger.info({ admin_key_ids: this.config.adminApiKeys().map((key) => adminKeyId(key, secret)) }, 'audit: admin API key ids');
  }

  /**
   * Records an event in the ambient transaction: call it inside the
   * transaction that makes the change. Outside one (a read, a refusal) the
   * event joins the next group commit (README "Performance") and this
   * resolves once it is committed. The actor defaults to the caller of the
   * current request, or the server outside any request.
   */
  async record(input: AuditEventInput): Promise<AuditEvent> {
    const recorded = this.prepare(input);
    if (this.database.inTransaction) {
      await this.insert([recorded]);
      await this.database.afterCommit(() => this.announce([recorded]));
    } else {
      await this.writes.submit(recorded);
    }
    return recorded.event;
  }

  /**
   * An event made now, in the current request's context, to be written by the
   * caller (with `insert` of the repository, with other rows in one statement)
   * and announced once that has committed.
   */
  prepare(input: AuditEventInput): RecordedEvent {
    const req = currentRequest();
    const actor = input.actor ?? (req ? actorOf(req) : { type: 'system' as const });
    const span = trace.getActiveSpan()?.spanContext();
    const now = new Date();
    const event: AuditEvent = {
      id: eventId(now.getTime()),
      time: now,
      type: input.type,
      actor,
      clientId: input.clientId ?? null,
      requestId: req ? String(req.id) : null,
      traceId: span && isSpanContextValid(span) ? span.traceId : null,
      details: bounded(input.details ?? {}),
    };
    const webhookIds = this.config
      .get('audit.webhooks')
      .filter((hook) => !hook.types || hook.types.includes(event.type))
      .map((hook) => webhookId(hook.url));
    const view = auditEventView(event);
    // The JSON only webhooks need (none are configured by default).
    return { event, view, body: webhookIds.length > 0 ? JSON.stringify(view) : '', webhookIds };
  }

  /** Writes prepared events in the ambient transaction; announce them once it has committed. */
  async insert(recorded: readonly RecordedEvent[]): Promise<void> {
    if (recorded.length > 0) await this.events.insert(recorded);
  }

  /** After the commit of prepared events: their log lines, and the delivery worker woken for webhooks. */
  announce(recorded: readonly RecordedEvent[]): void {
    if (this.config.get('audit.log.enabled')) for (const { view } of recorded) this.logger.info({ audit: view }, 'audit');
    if (recorded.some((r) => r.webhookIds.length > 0)) for (const listener of this.listeners) listener();
  }

  /** Called after each commit that queued webhook deliveries (the delivery worker starts at once). */
  onQueued(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** One page, newest first, with one extra row that tells whether more follow. */
  list(filter: AuditEventFilter, pageSize: number, after?: AuditCursor): Promise<AuditEvent[]> {
    return this.events.page(filter, pageSize + 1, after);
  }
}

function bounded(details: AuditEvent['details']): AuditEvent['details'] {
  return Object.fromEntries(
    Object.entries(details).map(([k, v]) => [k, typeof v === 'string' && v.length > MAX_DETAIL_LENGTH ? `${v.slice(0, MAX_DETAIL_LENGTH)}…` : v]),
  );
}
