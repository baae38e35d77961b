// The login_sessions table: logins the user asked to remember, named by the
// browser's signed session cookie.
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

export interface LoginSession {
  id: string;
  subject: string;
  /** Seconds since the epoch. */
  authenticated_at: number;
  acr: string;
  amr: string[];
}

export interface NewLoginSession {
  id: string;
  subject: string;
  /** Seconds since the epoch. */
  authenticatedAt: number;
  acr: string;
  amr: string[];
  ttlSeconds: number;
}

@Injectable()
export class LoginSessionsRepository {
  constructor(private readonly database: Database) {}

  /** The session, unless it was revoked or has expired. */
  async findLive(id: string): Promise<LoginSession | undefined> {
    const [row] = await this.database.run(
      'session_live',
      `SELECT id, subject, extract(epoch FROM authenticated_at)::bigint AS authenticated_at, acr, amr FROM login_sessions
        WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [id],
    );
    return row ? ({ ...row, authenticated_at: Number(row.authenticated_at) } as LoginSession) : undefined;
  }

  /** When the session's user authenticated (seconds since the epoch), whatever became of the session since. */
  async authenticatedAt(id: string | null): Promise<number | undefined> {
    const [row] = await this.database.run(
      'session_auth_time',
      `SELECT extract(epoch FROM authenticated_at)::bigint AS t FROM login_sessions WHERE id = $1`,
      [id],
    );
    return row ? Number(row.t) : undefined;
  }

  async insert(session: NewLoginSession): Promise<void> {
    await this.database.run(
      'session_insert',
      `INSERT INTO login_sessions (id, subject, authenticated_at, acr, amr, remember, expires_at)
       VALUES ($1, $2, to_timestamp($3), $4, $5, true, now() + make_interval(secs => $6))`,
      [session.id, session.subject, session.authenticatedAt, session.acr, JSON.stringify(session.amr), session.ttlSeconds],
    );
  }

  /** Ends the live sessions named by id, or all of a subject's; returns how many ended. */
  async revoke(by: { ids?: string[]; subject?: string }): Promise<number> {
    const rows = await this.database.run(
      'sessions_revoke',
      `UPDATE login_sessions SET revoked_at = now()
        WHERE revoked_at IS NULL AND (id = ANY($1) OR subject = $2) RETURNING id`,
      [by.ids ?? [], by.subject ?? null],
    );
    return rows.length;
  }
}
