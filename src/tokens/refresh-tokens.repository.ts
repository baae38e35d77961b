// Queries on refresh_tokens: stored as keyed hashes, spent on use (rotation),
// revoked with their grant.
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

/** A refresh token as presented at the token endpoint, whatever its state. */
export interface PresentedRefreshToken {
  token_id: string;
  grant_id: string;
  token_client: string;
  token_scope: string;
  used_at: Date | null;
  token_revoked: Date | null;
  live: boolean;
  /** The DPoP key the token is bound to (RFC 9449 §5), or null. */
  dpop_jkt: string | null;
}

/** An active refresh token with its grant's subject and audience; times in epoch seconds. */
export interface ActiveRefreshToken {
  token_id: string;
  grant_id: string;
  client_id: string;
  token_scope: string;
  subject: string;
  audience: string[];
  iat: string;
  exp: string;
  dpop_jkt: string | null;
}

@Injectable()
export class RefreshTokensRepository {
  constructor(private readonly database: Database) {}

  async insert(id: string, tokenHash: string, grantId: string, clientId: string, scope: string[], lifetime: number, jkt?: string): Promise<void> {
    await this.database.run(
      'refresh_token_insert',
      `INSERT INTO refresh_tokens (id, token_hash, grant_id, client_id, scope, issued_at, expires_at, dpop_jkt)
       VALUES ($1, $2, $3, $4, $5, now(), now() + make_interval(secs => $6), $7)`,
      [id, tokenHash, grantId, clientId, scope.join(' '), lifetime, jkt ?? null],
    );
  }

  async findByHash(hashes: string[]): Promise<PresentedRefreshToken | undefined> {
    const [row] = await this.database.run<PresentedRefreshToken>(
      'refresh_token_lookup',
      `SELECT r.id AS token_id, r.grant_id, r.client_id AS token_client, r.scope AS token_scope, r.used_at, r.revoked_at AS token_revoked,
              r.expires_at > now() AS live, r.dpop_jkt
         FROM refresh_tokens r WHERE r.token_hash = ANY($1)`,
      [hashes],
    );
    return row;
  }

  /** Marks the token used unless it already is (or was revoked); false when another request got there first. */
  async spend(id: string): Promise<boolean> {
    const spent = await this.database.run(
      'refresh_token_spend',
      `UPDATE refresh_tokens SET used_at = now() WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL RETURNING id`,
      [id],
    );
    return spent.length > 0;
  }

  /** The unused, unrevoked, unexpired token of a live grant. */
  async findActiveByHash(hashes: string[]): Promise<ActiveRefreshToken | undefined> {
    const [row] = await this.database.run<ActiveRefreshToken>(
      'refresh_token_active',
      `SELECT r.id AS token_id, r.grant_id, r.client_id, r.scope AS token_scope, g.subject, g.audience,
              extract(epoch FROM r.issued_at)::bigint AS iat, extract(epoch FROM r.expires_at)::bigint AS exp, r.dpop_jkt
         FROM refresh_tokens r JOIN oauth2_grants g ON g.id = r.grant_id
        WHERE r.token_hash = ANY($1) AND r.used_at IS NULL AND r.revoked_at IS NULL AND g.revoked_at IS NULL
          AND r.expires_at > now()`,
      [hashes],
    );
    return row;
  }

  async revokeOfGrants(grantIds: string[]): Promise<void> {
    await this.database.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE grant_id = ANY($1) AND revoked_at IS NULL`, [grantIds]);
  }
}
