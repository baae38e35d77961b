// Queries on access_tokens (opaque tokens, stored as keyed hashes), grant_jwts
// (the JWTs each grant issued) and revoked_jwts (JWTs revoked before expiry).
// Issuing and looking up tokens are the hot paths: named prepared statements.
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import { GroupCommit, type Outcome } from '../database/group-commit.js';
import { AccessTokenEntity } from './access-token.entity.js';

/** An opaque access token as stored; times in epoch seconds. */
export interface StoredAccessToken {
  jti: string;
  clientId: string;
  subject: string;
  scope: string;
  audience: string[];
  issuedAt: number;
  expiresAt: number;
  grantId?: string;
  /** RFC 7638 thumbprint of the DPoP key the token is bound to (RFC 9449 §6). */
  jkt?: string;
  /** RFC 8693 §4.1: the actor chain of a token issued by token exchange. */
  act?: Record<string, unknown>;
}

/** An active opaque token with the consent app's access token claims of its grant. */
export interface ActiveAccessToken extends Omit<StoredAccessToken, 'act'> {
  ext: Record<string, unknown> | null;
  act: Record<string, unknown> | null;
}

interface NewAccessToken {
  tokenHash: string;
  token: StoredAccessToken;
}

/** What introspection reads of an opaque token, of either kind (RFC 7662 token_type_hint names the same two). */
export type OpaqueTokenUse = 'access_token' | 'refresh_token';

/** An active opaque access or refresh token; a refresh token has its grant's subject and audience, and no ext or act. */
export interface ActiveOpaqueToken extends ActiveAccessToken {
  use: OpaqueTokenUse;
}

interface AccessTokenRow {
  id: string;
  client_id: string;
  subject: string;
  scope: string;
  audience: string[];
  iat: string;
  exp: string;
  grant_id: string | null;
  dpop_jkt: string | null;
  ext: Record<string, unknown> | null;
  act: Record<string, unknown> | null;
}

@Injectable()
export class AccessTokensRepository {
  constructor(private readonly database: Database) {}

  /** Opaque tokens issued outside a transaction are written together (README "Performance"). */
  private readonly inserts = new GroupCommit<NewAccessToken, void>((rows) => this.insertRows(rows));

  /** Stores a token; it resolves once the row is committed (or part of the ambient transaction). */
  async insert(tokenHash: string, token: StoredAccessToken): Promise<void> {
    if (this.database.inTransaction) {
      const [outcome] = await this.insertRows([{ tokenHash, token }]);
      if (!outcome.ok) throw outcome.error;
      return;
    }
    await this.inserts.submit({ tokenHash, token });
  }

  /** Any number of tokens in one statement: one round trip and one commit. */
  private async insertRows(rows: readonly NewAccessToken[]): Promise<Array<Outcome<void>>> {
    // Plain SQL on the hot path: the ORM's insert costs more CPU than the round trip.
    // The rows as one JSON parameter: serialised natively, whatever their number.
    const json = rows.map(({ tokenHash, token: t }) => ({
      id: t.jti,
      token_hash: tokenHash,
      client_id: t.clientId,
      subject: t.subject,
      scope: t.scope,
      audience: t.audience,
      iat: t.issuedAt,
      exp: t.expiresAt,
      grant_id: t.grantId ?? null,
      dpop_jkt: t.jkt ?? null,
      act: t.act ?? null,
    }));
    await this.database.run(
      'access_token_insert',
      `INSERT INTO access_tokens (id, token_hash, client_id, subject, scope, audience, issued_at, expires_at, grant_id, dpop_jkt, act)
       SELECT id, token_hash, client_id, subject, scope, audience, to_timestamp(iat), to_timestamp(exp), grant_id, dpop_jkt, act
         FROM json_to_recordset($1::json)
           AS t(id text, token_hash text, client_id text, subject text, scope text, audience jsonb, iat bigint, exp bigint,
                grant_id text, dpop_jkt text, act jsonb)`,
      [JSON.stringify(json)],
    );
    return rows.map(() => ({ ok: true, value: undefined }));
  }

  /** The unrevoked, unexpired token whose keyed hash is one of `hashes` (one per system secret). */
  async findActiveByHash(hashes: string[]): Promise<ActiveAccessToken | undefined> {
    const [row] = await this.database.run<AccessTokenRow>(
      'access_token_by_hash',
      `SELECT t.id, t.client_id, t.subject, t.scope, t.audience, t.grant_id, t.dpop_jkt, g.session->'access_token' AS ext, t.act,
              extract(epoch FROM t.issued_at)::bigint AS iat, extract(epoch FROM t.expires_at)::bigint AS exp
         FROM access_tokens t LEFT JOIN oauth2_grants g ON g.id = t.grant_id
        WHERE t.token_hash = ANY($1) AND t.revoked_at IS NULL AND t.expires_at > now()`,
      [hashes],
    );
    return row ? activeToken(row) : undefined;
  }

  /**
   * Introspection's one statement (RFC 7662 §2.1: a token of either kind):
   * the active access token whose keyed hash is one of `hashes`, else the
   * unused, unrevoked, unexpired refresh token of a live grant. The second
   * branch runs only when the first found nothing.
   */
  async findActiveOpaque(hashes: string[]): Promise<ActiveOpaqueToken | undefined> {
    const [row] = await this.database.run<AccessTokenRow & { token_use: OpaqueTokenUse }>(
      'opaque_token_by_hash',
      `(SELECT 'access_token' AS token_use, t.id, t.client_id, t.subject, t.scope, t.audience, t.grant_id, t.dpop_jkt,
               g.session->'access_token' AS ext, t.act,
               extract(epoch FROM t.issued_at)::bigint AS iat, extract(epoch FROM t.expires_at)::bigint AS exp
          FROM access_tokens t LEFT JOIN oauth2_grants g ON g.id = t.grant_id
         WHERE t.token_hash = ANY($1) AND t.revoked_at IS NULL AND t.expires_at > now())
       UNION ALL
       (SELECT 'refresh_token', r.id, r.client_id, g.subject, r.scope, g.audience, r.grant_id, r.dpop_jkt, NULL, NULL,
               extract(epoch FROM r.issued_at)::bigint, extract(epoch FROM r.expires_at)::bigint
          FROM refresh_tokens r JOIN oauth2_grants g ON g.id = r.grant_id
         WHERE r.token_hash = ANY($1) AND r.used_at IS NULL AND r.revoked_at IS NULL AND g.revoked_at IS NULL
           AND r.expires_at > now())
       LIMIT 1`,
      [hashes],
    );
    return row ? { ...activeToken(row), use: row.token_use } : undefined;
  }

  async revoke(id: string): Promise<void> {
    await this.database.manager().getRepository(AccessTokenEntity).update({ id }, { revokedAt: new Date() });
  }

  /** Lists a JWT under its grant, so that revoking the grant revokes the JWT too. */
  async recordGrantJwt(jti: string, grantId: string, expiresAt: number): Promise<void> {
    await this.database.run(
      'grant_jwt_insert',
      `INSERT INTO grant_jwts (jti, grant_id, expires_at) VALUES ($1, $2, to_timestamp($3))`,
      [jti, grantId, expiresAt],
    );
  }

  async grantOfJwt(jti: string): Promise<string | undefined> {
    const [row] = await this.database.run<{ grant_id: string }>('grant_of_jwt', `SELECT grant_id FROM grant_jwts WHERE jti = $1`, [jti]);
    return row?.grant_id;
  }

  async isJwtRevoked(jti: string): Promise<boolean> {
    const rows = await this.database.run('revoked_jwt', `SELECT 1 FROM revoked_jwts WHERE jti = $1`, [jti]);
    return rows.length > 0;
  }

  /** Kept until the JWT expires (the janitor drops it then). */
  async revokeJwt(jti: string, expiresAt: number): Promise<void> {
    await this.database.query(`INSERT INTO revoked_jwts (jti, expires_at) VALUES ($1, to_timestamp($2)) ON CONFLICT DO NOTHING`, [jti, expiresAt]);
  }

  /** Revokes every access token, in either format, issued from these grants. */
  async revokeIssuedFrom(grantIds: string[]): Promise<void> {
    await this.database.query(`UPDATE access_tokens SET revoked_at = now() WHERE grant_id = ANY($1) AND revoked_at IS NULL`, [grantIds]);
    await this.database.query(
      `INSERT INTO revoked_jwts (jti, expires_at) SELECT jti, expires_at FROM grant_jwts WHERE grant_id = ANY($1)
       ON CONFLICT DO NOTHING`,
      [grantIds],
    );
  }
}

function activeToken(row: AccessTokenRow): ActiveAccessToken {
  return {
    jti: row.id,
    clientId: row.client_id,
    subject: row.subject,
    scope: row.scope,
    audience: row.audience,
    issuedAt: Number(row.iat),
    expiresAt: Number(row.exp),
    grantId: row.grant_id ?? undefined,
    jkt: row.dpop_jkt ?? undefined,
    ext: row.ext,
    act: row.act,
  };
}
