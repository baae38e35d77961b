// The consent_sessions table: consent a user asked to remember for one client.
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import type { GrantSession } from '../tokens/grants.service.js';

export interface RememberedConsent {
  id: string;
  granted_scope: string[];
  granted_audience: string[];
}

export interface NewConsentSession {
  subject: string;
  clientId: string;
  scope: string[];
  audience: string[];
  session: GrantSession;
  /** 0 = until revoked. */
  rememberFor: number;
}

/** How many of the newest remembered consents are looked at: bounds the work for a subject who remembered many. */
const REMEMBERED_LIMIT = 20;

@Injectable()
export class ConsentSessionsRepository {
  constructor(private readonly database: Database) {}

  async insert(consent: NewConsentSession): Promise<void> {
    await this.database.run(
      'consent_remember',
      `INSERT INTO consent_sessions (id, subject, client_id, granted_scope, granted_audience, session, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int > 0 THEN now() + make_interval(secs => $7) END)`,
      [
        randomUUID(),
        consent.subject,
        consent.clientId,
        JSON.stringify(consent.scope),
        JSON.stringify(consent.audience),
        JSON.stringify(consent.session),
        consent.rememberFor,
      ],
    );
  }

  /** The subject's live remembered consents for the client, newest first. */
  async findLive(subject: string, clientId: string): Promise<RememberedConsent[]> {
    return this.database.run<RememberedConsent>(
      'consent_remembered',
      `SELECT id, granted_scope, granted_audience FROM consent_sessions
        WHERE subject = $1 AND client_id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
        ORDER BY created_at DESC LIMIT ${REMEMBERED_LIMIT}`,
      [subject, clientId],
    );
  }

  /** Forgets the subject's remembered consent for one client, or for every client when none is named. */
  async revoke(subject: string, clientId?: string): Promise<void> {
    await this.database.run(
      'consent_revoke',
      `UPDATE consent_sessions SET revoked_at = now() WHERE subject = $1 AND ($2::text IS NULL OR client_id = $2) AND revoked_at IS NULL`,
      [subject, clientId ?? null],
    );
  }
}
