// Grants of the authorization code flow: what a subject consented to for a
// client, the single-use code that redeems it, the refresh tokens that renew
// it, and revocation of everything issued from it (RFC 6749 §4.1, §6, §10.5;
// RFC 7636; RFC 9700 §4.14 on refresh token reuse).
import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { clientLifespan, type LifespanToken } from '../clients/lifespans.js';
import { OAuthError } from '../common/oauth-error.js';
import { keyedHashes, randomToken, safeEqual } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { AccessTokensService, type IntrospectionResponse, type TokenInfo, type TokenResponse } from './access-tokens.service.js';
import { extraClaims, IdTokensService } from './id-tokens.service.js';
import type { SigningAlgorithm } from './signing-key.entity.js';
import { SubjectIdentifiersService } from './subject-identifiers.service.js';

/** The consent app's extra claims for ID tokens / userinfo and for access tokens. */
export interface GrantSession {
  id_token: Record<string, unknown>;
  access_token: Record<string, unknown>;
}

/** Everything the flow settled, handed over when consent completes. */
export interface NewGrant {
  clientId: string;
  subject: string;
  scope: string[];
  audience: string[];
  authTime: Date;
  acr: string;
  amr: string[];
  loginSessionId?: string;
  session: GrantSession;
  /** The redirect_uri parameter of the authorization request, when it carried one (RFC 6749 §4.1.3). */
  redirectUri?: string;
  codeChallenge?: string;
  nonce?: string;
}

interface GrantRow {
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

const GRANT_COLUMNS = `g.id, g.client_id, g.subject, g.scope, g.audience, extract(epoch FROM g.auth_time)::bigint AS auth_time,
  g.acr, g.amr, g.login_session_id, g.session, g.revoked_at`;

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
export const OFFLINE_SCOPES = ['offline_access', 'offline'];
type CodeFlowGrantType = 'authorization_code' | 'refresh_token';

export function splitScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(' ').filter((s) => s !== ''))];
}

function invalidGrant(why: string): OAuthError {
  return new OAuthError('invalid_grant', why);
}

@Injectable()
export class GrantsService {
  constructor(
    private readonly database: Database,
    private readonly config: ConfigService,
    private readonly clients: ClientsService,
    private readonly accessTokens: AccessTokensService,
    private readonly idTokens: IdTokensService,
    private readonly subjects: SubjectIdentifiersService,
  ) {}

  private hashes(token: string): string[] {
    return keyedHashes(this.config.systemSecrets(), token);
  }

  /** How long a token of this grant type lives for this client: its Hydra lifespan, else ttl.* (README "Token lifetimes"). */
  private ttl(fields: Record<string, unknown>, grantType: CodeFlowGrantType, token: LifespanToken): number {
    return clientLifespan(fields, grantType, token) ?? (this.config.get(`ttl.${token}`) as number);
  }

  /** How long the grant must outlive a code exchange or refresh: as long as any token either may issue. */
  private lifetime(fields: Record<string, unknown>, scope: string[]): number {
    const longest = (token: LifespanToken) => Math.max(this.ttl(fields, 'authorization_code', token), this.ttl(fields, 'refresh_token', token));
    const refresh = scope.some((s) => OFFLINE_SCOPES.includes(s)) ? longest('refresh_token') : 0;
    // Counted from consent: the tokens are issued when the code is redeemed, up to ttl.auth_code later.
    return Math.max(longest('access_token'), refresh) + this.config.get('ttl.auth_code');
  }

  /** Records the grant and returns the authorization code that redeems it. */
  async createGrant(grant: NewGrant): Promise<string> {
    const id = randomUUID();
    const code = randomToken(32);
    const client = await this.clients.find(grant.clientId);
    const lifetime = this.lifetime(client?.fields ?? {}, grant.scope);
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
        `INSERT INTO authorization_codes (code_hash, grant_id, client_id, redirect_uri, code_challenge, nonce, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
        [
          this.hashes(code)[0],
          id,
          grant.clientId,
          grant.redirectUri ?? null,
          grant.codeChallenge ?? null,
          grant.nonce ?? null,
          this.config.get('ttl.auth_code'),
        ],
      );
    });
    return code;
  }

  /** RFC 6749 §4.1.3 with PKCE: the code is spent first, then checked, so a wrong verifier or redirect_uri burns it. */
  async exchangeCode(client: ClientEntity, params: Record<string, string>): Promise<TokenResponse> {
    if (!params.code) throw new OAuthError('invalid_request', 'code is required');
    const hashes = this.hashes(params.code);
    const [used] = await this.database.run(
      'code_redeem',
      `UPDATE authorization_codes SET used_at = now()
        WHERE code_hash = ANY($1) AND used_at IS NULL AND client_id = $2
        RETURNING grant_id, redirect_uri, code_challenge, nonce, expires_at > now() AS live`,
      [hashes, client.id],
    );
    if (!used) {
      // Another client's code is refused without spending it; its own client's second use is a replay.
      const [replayed] = await this.database.run(
        'code_replayed',
        `SELECT grant_id FROM authorization_codes WHERE code_hash = ANY($1) AND client_id = $2 AND used_at IS NOT NULL`,
        [hashes, client.id],
      );
      if (replayed) {
        // RFC 6749 §4.1.2: a code used twice revokes what its first use issued.
        await this.revokeGrants([replayed.grant_id]);
        throw invalidGrant('the authorization code was already used; the tokens issued for it are revoked');
      }
      throw invalidGrant('the authorization code is unknown, expired or was issued to another client');
    }
    if (!used.live) throw invalidGrant('the authorization code has expired');
    if (used.redirect_uri !== null && params.redirect_uri !== used.redirect_uri) {
      throw invalidGrant('redirect_uri does not match the one of the authorization request');
    }
    this.checkVerifier(used.code_challenge, params.code_verifier);
    const grant = await this.liveGrant(used.grant_id);
    if (!grant) throw invalidGrant('the grant was revoked');
    return this.issueFrom(client, grant, splitScope(grant.scope), 'authorization_code', used.nonce ?? undefined);
  }

  private checkVerifier(challenge: string | null, verifier: string | undefined): void {
    if (challenge === null) {
      // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a downgrade attempt.
      if (verifier !== undefined) throw invalidGrant('code_verifier was sent but the authorization request had no code_challenge');
      return;
    }
    if (verifier === undefined) throw invalidGrant('code_verifier is required');
    if (!CODE_VERIFIER.test(verifier)) throw invalidGrant('code_verifier must be 43 to 128 unreserved characters');
    const computed = createHash('sha256').update(verifier).digest('base64url');
    if (!safeEqual(computed, challenge)) throw invalidGrant('code_verifier does not match the code_challenge');
  }

  /** RFC 6749 §6 with rotation: the presented token is spent; presenting a spent one revokes the whole grant. */
  async refresh(client: ClientEntity, params: Record<string, string>): Promise<TokenResponse> {
    if (!params.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
    const [row] = await this.database.run(
      'refresh_token_lookup',
      `SELECT r.id AS token_id, r.grant_id, r.client_id AS token_client, r.scope AS token_scope, r.used_at, r.revoked_at AS token_revoked,
              r.expires_at > now() AS live
         FROM refresh_tokens r WHERE r.token_hash = ANY($1)`,
      [this.hashes(params.refresh_token)],
    );
    if (!row || row.token_client !== client.id) throw invalidGrant('the refresh token is unknown or was issued to another client');
    if (row.token_revoked) throw invalidGrant('the refresh token was revoked');
    if (row.used_at) {
      await this.revokeGrants([row.grant_id]);
      throw invalidGrant('the refresh token was already used; every token of its grant is revoked');
    }
    if (!row.live) throw invalidGrant('the refresh token has expired');
    const tokenScope = splitScope(row.token_scope);
    const requested = params.scope === undefined ? tokenScope : splitScope(params.scope);
    const wider = requested.filter((s) => !tokenScope.includes(s));
    if (wider.length > 0) throw new OAuthError('invalid_scope', `the refresh token was not granted: ${wider.join(' ')}`);
    const spent = await this.database.run(
      'refresh_token_spend',
      `UPDATE refresh_tokens SET used_at = now() WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL RETURNING id`,
      [row.token_id],
    );
    if (spent.length === 0) {
      // Another request spent it a moment ago: two holders of one token.
      await this.revokeGrants([row.grant_id]);
      throw invalidGrant('the refresh token was already used; every token of its grant is revoked');
    }
    const grant = await this.liveGrant(row.grant_id);
    if (!grant) throw invalidGrant('the grant was revoked');
    await this.database.run(
      'grant_extend',
      `UPDATE oauth2_grants SET expires_at = greatest(expires_at, now() + make_interval(secs => $2)) WHERE id = $1`,
      [grant.id, this.lifetime(client.fields, tokenScope)],
    );
    return this.issueFrom(client, grant, requested, 'refresh_token', undefined, tokenScope);
  }

  private async liveGrant(id: string): Promise<GrantRow | undefined> {
    const [row] = await this.database.run(
      'grant_by_id',
      `SELECT ${GRANT_COLUMNS} FROM oauth2_grants g WHERE g.id = $1 AND g.revoked_at IS NULL`,
      [id],
    );
    return row ? ({ ...row, auth_time: Number(row.auth_time) } as GrantRow) : undefined;
  }

  private async issueFrom(
    client: ClientEntity,
    grant: GrantRow,
    scope: string[],
    grantType: CodeFlowGrantType,
    nonce?: string,
    refreshScope: string[] = scope,
  ): Promise<TokenResponse> {
    const response = await this.accessTokens.issue(client, grantType, {
      subject: grant.subject,
      scope: scope.join(' '),
      audience: grant.audience,
      grantId: grant.id,
      ext: grant.session.access_token,
    });
    const grantTypes = client.fields.grant_types as string[];
    if (refreshScope.some((s) => OFFLINE_SCOPES.includes(s)) && grantTypes.includes('refresh_token')) {
      response.refresh_token = await this.storeRefreshToken(client, grant.id, refreshScope, this.ttl(client.fields, grantType, 'refresh_token'));
    }
    if (scope.includes('openid')) {
      response.id_token = await this.idTokens.sign({
        clientId: client.id,
        subject: await this.subjects.forClient(client, grant.subject),
        lifetime: this.ttl(client.fields, grantType, 'id_token'),
        alg: client.fields.id_token_signed_response_alg as SigningAlgorithm | undefined,
        authTime: grant.auth_time,
        nonce,
        acr: grant.acr || undefined,
        amr: grant.amr,
        sessionId: grant.login_session_id ?? undefined,
        accessToken: response.access_token,
        extra: grant.session.id_token,
      });
    }
    // Checked after the writes: a revocation that raced this request either saw the new tokens or is seen here.
    if (!(await this.liveGrant(grant.id))) {
      await this.revokeGrants([grant.id]);
      throw invalidGrant('the grant was revoked');
    }
    await this.clients.touch(client);
    return response;
  }

  private async storeRefreshToken(client: ClientEntity, grantId: string, scope: string[], lifetime: number): Promise<string> {
    const token = randomToken(32);
    await this.database.run(
      'refresh_token_insert',
      `INSERT INTO refresh_tokens (id, token_hash, grant_id, client_id, scope, issued_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, now(), now() + make_interval(secs => $6))`,
      [randomUUID(), this.hashes(token)[0], grantId, client.id, scope.join(' '), lifetime],
    );
    return token;
  }

  /** Revokes grants and every token issued from them, in both formats. */
  async revokeGrants(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.database.transaction(async () => {
      // The grant first: a refresh racing this sees it revoked after its own writes (see issueFrom).
      await this.database.query(`UPDATE oauth2_grants SET revoked_at = now() WHERE id = ANY($1) AND revoked_at IS NULL`, [ids]);
      await this.database.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE grant_id = ANY($1) AND revoked_at IS NULL`, [ids]);
      await this.database.query(`UPDATE access_tokens SET revoked_at = now() WHERE grant_id = ANY($1) AND revoked_at IS NULL`, [ids]);
      await this.database.query(
        `INSERT INTO revoked_jwts (jti, expires_at) SELECT jti, expires_at FROM grant_jwts WHERE grant_id = ANY($1)
         ON CONFLICT DO NOTHING`,
        [ids],
      );
    });
  }

  /** Revokes every grant a subject gave a client (or every client, when none is named). */
  async revokeGrantsOf(subject: string, clientId?: string): Promise<void> {
    const rows: Array<{ id: string }> = await this.database.run(
      'grants_of_subject',
      `SELECT id FROM oauth2_grants WHERE subject = $1 AND ($2::text IS NULL OR client_id = $2) AND revoked_at IS NULL`,
      [subject, clientId ?? null],
    );
    await this.revokeGrants(rows.map((r) => r.id));
  }

  /** RFC 7662 for refresh tokens. */
  async introspectRefreshToken(token: string, caller?: ClientEntity): Promise<IntrospectionResponse> {
    const row = await this.activeRefreshToken(token);
    if (!row || (caller && caller.id !== row.client_id)) return { active: false };
    return {
      active: true,
      client_id: row.client_id,
      sub: row.subject,
      scope: row.token_scope,
      aud: row.audience,
      iss: this.config.issuer(),
      exp: Number(row.exp),
      iat: Number(row.iat),
      jti: row.token_id,
      token_type: 'Bearer',
      token_use: 'refresh_token',
    };
  }

  /** RFC 7009 §2.1: revoking a refresh token revokes its grant, access tokens included. */
  async revokeRefreshToken(token: string, caller: ClientEntity): Promise<boolean> {
    const row = await this.activeRefreshToken(token);
    if (!row) return false;
    if (row.client_id !== caller.id) throw new OAuthError('unauthorized_client', 'the token was not issued to this client');
    await this.revokeGrants([row.grant_id]);
    return true;
  }

  private async activeRefreshToken(token: string) {
    if (token.length > 512) return undefined;
    const [row] = await this.database.run(
      'refresh_token_active',
      `SELECT r.id AS token_id, r.grant_id, r.client_id, r.scope AS token_scope, g.subject, g.audience,
              extract(epoch FROM r.issued_at)::bigint AS iat, extract(epoch FROM r.expires_at)::bigint AS exp
         FROM refresh_tokens r JOIN oauth2_grants g ON g.id = r.grant_id
        WHERE r.token_hash = ANY($1) AND r.used_at IS NULL AND r.revoked_at IS NULL AND g.revoked_at IS NULL
          AND r.expires_at > now()`,
      [this.hashes(token)],
    );
    return row as
      | { token_id: string; grant_id: string; client_id: string; token_scope: string; subject: string; audience: string[]; iat: string; exp: string }
      | undefined;
  }

  /**
   * OIDC Core §5.3 for an active access token: the consent session's ID token
   * claims and the subject as the client knows it, as JSON or, when the client
   * registered userinfo_signed_response_alg, as a signed JWT (§5.3.2).
   * Undefined when the token was not issued with openid or its grant is gone.
   */
  async userinfo(info: TokenInfo): Promise<{ claims: Record<string, unknown> } | { jwt: string } | undefined> {
    if (!info.scope.split(' ').includes('openid')) return undefined;
    const grantId = info.grantId ?? (await this.grantOfJwt(info.jti));
    const grant = grantId ? await this.liveGrant(grantId) : undefined;
    const client = grant ? await this.clients.find(info.clientId) : null;
    if (!grant || !client) return undefined;
    const claims = { ...extraClaims(grant.session.id_token), sub: await this.subjects.forClient(client, info.subject) };
    const alg = client.fields.userinfo_signed_response_alg;
    if (typeof alg !== 'string' || alg === 'none') return { claims };
    return { jwt: await this.idTokens.signUserinfo(client.id, alg as SigningAlgorithm, claims) };
  }

  /** The grant an access token was issued from (JWTs are listed in grant_jwts, opaque tokens carry it). */
  async grantOfJwt(jti: string): Promise<string | undefined> {
    const [row] = await this.database.run('grant_of_jwt', `SELECT grant_id FROM grant_jwts WHERE jti = $1`, [jti]);
    return row?.grant_id;
  }
}
