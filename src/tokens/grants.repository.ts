// Queries on oauth2_grants (what a subject consented to for a client) and
// authorization_codes (the single-use codes that redeem them).
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import type { GrantSession, NewGrant } from './grants.service.js';

/** A grant as stored; auth_time in epoch seconds. */
export interface GrantRow {
  id: string;
  client_id: string;
  subject: string;
  scope: string;
  audience: string[];
  auth_time: number;
  acr: string;
  amr: string[];
  login_session_id: string | null;
  session: GrantSession;
  revoked_at: Date | null;
}

/** What the authorization request bound a code to, once the code is spent. */
export interface RedeemedCode {
  grant_id: string;
  redirect_uri: string | null;
  code_challenge: string | null;
  nonce: string | null;
  dpop_jkt: string | null;
  live: boolean;
}

@Injectable()
export class GrantsRepository {
  constructor(private readonly database: Database) {}

  /** The grant and its code, in one transaction; both expire after their lifetimes in seconds. */
  async insertWithCode(id: string, grant: NewGrant, lifetime: number, codeHash: string, codeLifetime: number): Promise<void> {
    await this.database.transaction(async () => {
      await this.database.query(
        `INSERT INTO oauth2_grants (id, client_id, subject, scope, audience, auth_time, acr, amr, login_session_id, session, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11))`,
        [
          id,
          grant.clientId,
          grant.subject,
          grant.scope.join(' '),
          JSON.stringify(grant.audience),
          grant.authTime,
          grant.acr,
          JSON.stringify(grant.amr),
          grant.loginSessionId ?? null,
          JSON.stringify(grant.session),
          lifetime,
        ],
      );
      await this.database.query(
        `INSERT INTO authorization_codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, nonce, dpop_jkt, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))`,
        [codeHash, id, grant.clientId, grant.redirectUri ?? null, grant.codeChallenge ?? null, grant.nonce ?? null, grant.dpopJkt ?? null, codeLifetime],
      );
    });
  }

  /** Spends the client's unused code in one conditional update, so two concurrent redemptions cannot both succeed. */
  async redeemCode(hashes: string[], clientId: string): Promise<RedeemedCode | undefined> {
    const [used] = await this.database.run<RedeemedCode>(
      'code_redeem',
      `UPDATE authorization_codes SET used_at = now()
        WHERE code_hash = ANY($1) AND used_at IS NULL AND client_id = $2
        RETURNING grant_id, redirect_uri, code_challenge, nonce, dpop_jkt, expires_at > now() AS live`,
      [hashes, clientId],
    );
    return used;
  }

  /** The grant of the client's code when that code was already spent. */
  async grantOfSpentCode(hashes: string[], clientId: string): Promise<string | undefined> {
    const [row] = await this.database.run<{ grant_id: string }>(
      'code_replayed',
      `SELECT grant_id FROM authorization_codes WHERE code_hash = ANY($1) AND client_id = $2 AND used_at IS NOT NULL`,
      [hashes, clientId],
    );
    return row?.grant_id;
  }

  async findLive(id: string): Promise<GrantRow | undefined> {
    const [row] = await this.database.run<GrantRow>(
      'grant_by_id',
      `SELECT g.id, g.client_id, g.subject, g.scope, g.audience, extract(epoch FROM g.auth_time)::bigint AS auth_time,
              g.acr, g.amr, g.login_session_id, g.session, g.revoked_at
         FROM oauth2_grants g WHERE g.id = $1 AND g.revoked_at IS NULL`,
      [id],
    );
    return row ? { ...row, auth_time: Number(row.auth_time) } : undefined;
  }

  /** Lets the grant live at least `lifetime` more seconds; never shortens it. */
  async extend(id: string, lifetime: number): Promise<void> {
    await this.database.run(
      'grant_extend',
      `UPDATE oauth2_grants SET expires_at = greatest(expires_at, now() + make_interval(secs => $2)) WHERE id = $1`,
      [id, lifetime],
    );
  }

  async liveIdsOf(subject: string, clientId: string | undefined): Promise<string[]> {
    const rows = await this.database.run<{ id: string }>(
      'grants_of_subject',
      `SELECT id FROM oauth2_grants WHERE subject = $1 AND ($2::text IS NULL OR client_id = $2) AND revoked_at IS NULL`,
      [subject, clientId ?? null],
    );
    return rows.map((r) => r.id);
  }

  async revoke(ids: string[]): Promise<void> {
    await this.database.query(`UPDATE oauth2_grants SET revoked_at = now() WHERE id = ANY($1) AND revoked_at IS NULL`, [ids]);
  }
}
