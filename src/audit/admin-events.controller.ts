import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery } from '@nestjs/swagger';
import { AdminApi } from '../common/admin-api-key.guard.js';
import { ApiErrorResponse, ApiPageResponse, PAGE_TOKEN_QUERY } from '../common/api-responses.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageRequest, queryParam, sendPage } from '../common/pagination.js';
import { ACTOR_TYPES, AUDIT_EVENT_TYPES, auditEventView, isAuditEventType, type ActorType, type AuditEventType, type AuditEventView } from './audit-event.js';
import { AuditEventDto } from './audit-event.dto.js';
import type { AuditCursor, AuditEventFilter } from './audit-events.repository.js';
import { AuditService } from './audit.service.js';

const PATH = '/admin/events';
const FILTERS = ['type', 'client_id', 'actor_type', 'since', 'until'];
const KNOWN_PARAMS = new Set(['page_size', 'page_token', ...FILTERS]);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `type=a&type=b` and `type=a,b` alike. */
function typesParam(req: HttpRequest): AuditEventType[] | undefined {
  const raw = (req.query as Record<string, unknown>).type;
  if (raw === undefined) return undefined;
  const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(',')).map((v) => v.trim());
  if (values.length > AUDIT_EVENT_TYPES.length || values.some((v) => v === '')) {
    throw new OAuthError('invalid_request', 'type must be one or more event types, repeated or comma-separated');
  }
  const unknown = values.filter((v) => !isAuditEventType(v));
  if (unknown.length > 0) throw new OAuthError('invalid_request', `type: ${unknown.map((v) => JSON.stringify(v)).join(', ')} is not an event type`);
  return [...new Set(values as AuditEventType[])];
}

function timeParam(req: HttpRequest, name: string): Date | undefined {
  const raw = queryParam(req, name);
  if (raw === undefined) return undefined;
  const time = RFC3339.test(raw) ? new Date(raw) : undefined;
  if (!time || Number.isNaN(time.getTime())) {
    throw new OAuthError('invalid_request', `${name} must be an RFC 3339 date-time such as 2025-11-27T10:00:00Z`);
  }
  return time;
}

function filterOf(req: HttpRequest): AuditEventFilter {
  const unknown = Object.keys(req.query as object).filter((name) => !KNOWN_PARAMS.has(name));
  if (unknown.length > 0) throw new OAuthError('invalid_request', `unknown query parameter ${unknown.join(', ')}; known: ${[...KNOWN_PARAMS].join(', ')}`);
  const actorType = queryParam(req, 'actor_type');
  if (actorType !== undefined && !(ACTOR_TYPES as readonly string[]).includes(actorType)) {
    throw new OAuthError('invalid_request', `actor_type must be one of ${ACTOR_TYPES.join(', ')}`);
  }
  return {
    types: typesParam(req),
    clientId: queryParam(req, 'client_id'),
    actorType: actorType as ActorType | undefined,
    since: timeParam(req, 'since'),
    until: timeParam(req, 'until'),
  };
}

/** The page token's key: the last event's time and id (see common/pagination.ts). */
function cursorKey(event: AuditEventView): string {
  return `${event.time}|${event.id}`;
}

function cursorOf(after: string | undefined): AuditCursor | undefined {
  if (after === undefined) return undefined;
  const [time, id] = after.split('|');
  const at = RFC3339.test(time ?? '') ? new Date(time) : undefined;
  if (!at || Number.isNaN(at.getTime()) || !UUID.test(id ?? '')) throw new OAuthError('invalid_request', 'page_token is not a token this server issued');
  return { time: at, id };
}

@AdminApi('admin: audit events')
@Controller('admin/events')
export class AdminEventsController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({ summary: 'List audit events, newest first, paginated (README "Audit events")', operationId: 'listAuditEvents' })
  @ApiQuery({ name: 'page_size', required: false, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } })
  @ApiQuery(PAGE_TOKEN_QUERY)
  @ApiQuery({
    name: 'type',
    required: false,
    description: 'Only events of these types: repeat the parameter or separate types with commas',
    style: 'form',
    explode: true,
    schema: { type: 'array', items: { type: 'string', enum: [...AUDIT_EVENT_TYPES] } },
  })
  @ApiQuery({ name: 'client_id', required: false, description: 'Only events about this client', schema: { type: 'string' } })
  @ApiQuery({ name: 'actor_type', required: false, description: 'Only events caused by this kind of caller', schema: { type: 'string', enum: [...ACTOR_TYPES] } })
  @ApiQuery({ name: 'since', required: false, description: 'Only events at or after this time (RFC 3339)', schema: { type: 'string', format: 'date-time' } })
  @ApiQuery({ name: 'until', required: false, description: 'Only events before this time (RFC 3339)', schema: { type: 'string', format: 'date-time' } })
  @ApiPageResponse(AuditEventDto, PATH)
  @ApiErrorResponse(400, 'A bad filter, page_size or page_token, a repeated single-valued parameter or an unknown one', {
    type: ['invalid_request', 'type: "client.created" is not an event type'],
    since: ['invalid_request', 'since must be an RFC 3339 date-time such as 2025-11-27T10:00:00Z'],
    actor_type: ['invalid_request', 'actor_type must be one of admin, iat, rat, client, anonymous, system'],
    page_token: ['invalid_request', 'page_token is not a token this server issued'],
    unknown: ['invalid_request', 'unknown query parameter client; known: page_size, page_token, type, client_id, actor_type, since, until'],
  })
  async list(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<AuditEventView[]> {
    const filter = filterOf(req);
    const page = pageRequest(req);
    const rows = (await this.audit.list(filter, page.pageSize, cursorOf(page.after))).map(auditEventView);
    return sendPage(req, res, page, rows, FILTERS, cursorKey);
  }
}
