// audit.webhooks: where audit events are POSTed (README "Audit events").
import { createHash } from 'node:crypto';
import { ParseError, type Parser } from '../config/parsers.js';
import { AUDIT_EVENT_TYPES, isAuditEventType, type AuditEventType } from './audit-event.js';

export interface AuditWebhook {
  /** May carry a token of the receiver's: stored and logged only as `webhookId`. */
  url: string;
  /** Key of the Registrar-Signature HMAC; never logged or stored. */
  secret: string;
  /** The event types sent; undefined = every type. */
  types?: AuditEventType[];
}

const EXPECTED = 'a JSON array of {"url": "https://...", "secret": "...", "types": [...]} objects';

function refuse(detail: string): never {
  throw new ParseError(`${EXPECTED}; ${detail}`);
}

function webhook(entry: unknown, index: number): AuditWebhook {
  const at = `entry ${index + 1}`;
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) refuse(`${at} is not an object`);
  const e = entry as Record<string, unknown>;
  const unknown = Object.keys(e).filter((k) => !['url', 'secret', 'types'].includes(k));
  if (unknown.length > 0) refuse(`${at} has unknown members ${unknown.join(', ')}`);
  let url: URL;
  try {
    url = new URL(typeof e.url === 'string' ? e.url : '');
  } catch {
    refuse(`${at}: url must be an absolute https URL`);
  }
  // Deliveries go through the server-side fetcher, which speaks https only (README "Audit events").
  if (url.protocol !== 'https:') refuse(`${at}: url must be an https URL`);
  if (url.username !== '' || url.password !== '') refuse(`${at}: url must not carry credentials`);
  if (url.hash !== '') refuse(`${at}: url must not carry a fragment`);
  if (typeof e.secret !== 'string' || e.secret.trim() === '') refuse(`${at}: secret must be a non-empty string`);
  let types: AuditEventType[] | undefined;
  if (e.types !== undefined) {
    if (!Array.isArray(e.types) || e.types.length === 0) refuse(`${at}: types must be a non-empty array of event types`);
    for (const t of e.types) {
      if (typeof t !== 'string' || !isAuditEventType(t)) refuse(`${at}: types: ${JSON.stringify(t)} is not one of ${AUDIT_EVENT_TYPES.join(', ')}`);
    }
    types = [...new Set(e.types as AuditEventType[])];
  }
  return { url: e.url as string, secret: e.secret, ...(types ? { types } : {}) };
}

/** How an outbox row and a log line name a webhook: the first 16 hex digits of the SHA-256 of its URL. */
export function webhookId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}

/** A YAML sequence or a JSON array; URLs are unique, since an outbox row names its webhook by URL. */
export const auditWebhooks: Parser<AuditWebhook[]> = Object.assign(
  (raw: unknown): AuditWebhook[] => {
    let value = raw;
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        throw new ParseError(EXPECTED);
      }
    }
    if (!Array.isArray(value)) throw new ParseError(EXPECTED);
    const hooks = value.map(webhook);
    const urls = hooks.map((h) => h.url);
    // A URL may carry a token of the receiver's (a path or query secret): it is never echoed.
    const repeated = urls.findIndex((u, i) => urls.indexOf(u) !== i);
    if (repeated >= 0) refuse(`entry ${repeated + 1} repeats the url of entry ${urls.indexOf(urls[repeated]) + 1}`);
    return hooks;
  },
  { expected: EXPECTED },
);
