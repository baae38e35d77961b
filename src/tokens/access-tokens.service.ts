// Issuing, introspecting and revoking access tokens in both formats: JWTs
// (RFC 9068), verified by signature, and opaque tokens, stored as keyed hashes.
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { SignJWT, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { DataSource, type Repository } from 'typeorm';
import { effectiveStrategy } from '../clients/access-token-strategy.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { clientLifespan } from '../clients/lifespans.js';
import { MetricsService } from '../common/metrics.js';
import { OAuthError } from '../common/oauth-error.js';
import { keyedHash, keyedHashes, randomToken } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { AccessTokenEntity } from './access-token.entity.js';
import { SigningKeysService } from './signing-keys.service.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

/** What an access token is issued for: the client itself, or a subject through a grant of the authorization code flow. */
export interface AccessGrant {
  subject: string;
  scope: string;
  audience: string[];
  /** The authorization code grant the token belongs to; revoking the grant revokes the token. */
  grantId?: string;
  /** Extra claims the consent app set in session.access_token (the `ext` claim). */
  ext?: Record<string, unknown>;
}

/** The facts about a token that introspection reports. */
export interface TokenInfo {
  jti: string;
  clientId: string;
  subject: string;
  scope: string;
  audience: string[];
  issuedAt: number;
  expiresAt: number;
  grantId?: string;
  ext?: Record<string, unknown>;
}

export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      client_id: string;
      sub: string;
      scope: string;
      aud: string[];
      iss: string;
      exp: number;
      iat: number;
      jti: string;
      token_type: 'Bearer';
      token_use: 'access_token' | 'refresh_token';
      ext?: Record<string, unknown>;
    };

const INACTIVE = { active: false } as const;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return [...new Set(value.split(' ').filter((s) => s !== ''))];
}

@Injectable()
export class AccessTokensService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly database: Database,
    private readonly clients: ClientsService,
    private readonly keys: SigningKeysService,
    private readonly config: ConfigService,
    private readonly metrics: MetricsService,
  ) {}

  private get tokens(): Repository<AccessTokenEntity> {
    return this.dataSource.getRepository(AccessTokenEntity);
  }

  /** RFC 6749 §4.4: the client_credentials grant. */
  async clientCredentials(client: ClientEntity, scopeParam: string | undefined, audienceParam: string[]): Promise<TokenResponse> {
    const grants = client.fields.grant_types as string[];
    if (!grants.includes('client_credentials')) {
      throw new OAuthError('unauthorized_client', 'the client is not registered for the client_credentials grant');
    }
    const allowedScopes = splitList(client.fields.scope as string) ?? [];
    const scopes = splitList(scopeParam) ?? allowedScopes;
    const refused = scopes.filter((s) => !allowedScopes.includes(s));
    if (refused.length > 0) throw new OAuthError('invalid_scope', `the client may not request: ${refused.join(' ')}`);

    const allowedAudience = client.fields.audience as string[];
    const audience = [...new Set(audienceParam.flatMap((a) => a.split(' ')).filter((a) => a !== ''))];
    const outside = audience.filter((a) => !allowedAudience.includes(a));
    if (outside.length > 0) throw new OAuthError('invalid_request', `the client may not request the audience: ${outside.join(' ')}`);

    const response = await this.issue(client, 'client_credentials', { subject: client.id, scope: scopes.join(' '), audience });
    await this.clients.touch(client);
    return response;
  }

  /** Issues one access token in the format the client's strategy decides (SPEC §1), for any grant. */
  async issue(client: ClientEntity, grantType: string, grant: AccessGrant): Promise<TokenResponse> {
    // Hydra's <grant>_grant_access_token_lifespan, else ttl.access_token (README "Token lifetimes").
    const ttl = clientLifespan(client.fields, grantType, 'access_token') ?? this.config.get('ttl.access_token');
    const now = Math.floor(Date.now() / 1000);
    const info: TokenInfo = {
      jti: randomUUID(),
      clientId: client.id,
      subject: grant.subject,
      scope: grant.scope,
      // RFC 9068 requires aud; without a requested audience the token is for this server.
      audience: grant.audience.length > 0 ? grant.audience : [this.config.issuer()],
      issuedAt: now,
      expiresAt: now + ttl,
      grantId: grant.grantId,
      ext: grant.ext && Object.keys(grant.ext).length > 0 ? grant.ext : undefined,
    };
    const format = effectiveStrategy(client.accessTokenStrategy, this.config.accessTokenStrategy());
    const accessToken = format === 'jwt' ? await this.signJwt(info) : await this.storeOpaque(info);
    this.metrics.tokensIssued.inc({ format, grant_type: grantType });
    return { access_token: accessToken, token_type: 'Bearer', expires_in: ttl, ...(info.scope ? { scope: info.scope } : {}) };
  }

  private async signJwt(info: TokenInfo): Promise<string> {
    const key = await this.keys.signingKey(info.expiresAt);
    if (info.grantId) {
      // Listed so that revoking the grant (code replay, refresh token reuse, consent revoked) revokes this JWT too.
      await this.database.run(
        'grant_jwt_insert',
        `INSERT INTO grant_jwts (jti, grant_id, expires_at) VALUES ($1, $2, to_timestamp($3))`,
        [info.jti, info.grantId, info.expiresAt],
      );
    }
    return new SignJWT({ client_id: info.clientId, scope: info.scope, ...(info.ext ? { ext: info.ext } : {}) })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.config.issuer())
      .setSubject(info.subject)
      .setAudience(info.audience)
      .setIssuedAt(info.issuedAt)
      .setExpirationTime(info.expiresAt)
      .setJti(info.jti)
      .sign(key.privateKey);
  }

  private async storeOpaque(info: TokenInfo): Promise<string> {
    const token = randomToken(32);
    // Plain SQL on the hot path: the ORM's insert costs more CPU than the round trip.
    await this.database
      .run(
      'access_token_insert',
      `INSERT INTO access_tokens (id, token_hash, client_id, subject, scope, audience, issued_at, expires_at, grant_id)
       VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7), to_timestamp($8), $9)`,
      [
        info.jti,
        keyedHash(this.config.systemSecrets()[0], token),
        info.clientId,
        info.subject,
        info.scope,
        JSON.stringify(info.audience),
        info.issuedAt,
        info.expiresAt,
        info.grantId ?? null,
      ],
    )
      .catch((err: { code?: string }) => {
        // The client was deleted (by another instance) between authentication and now.
        if (err?.code === '23503') throw new OAuthError('invalid_client', 'client authentication failed: unknown client');
        throw err;
      });
    return token;
  }

  /** The token's facts if it is active: valid, unexpired, unrevoked, and its client still exists. */
  async lookup(token: string): Promise<TokenInfo | undefined> {
    if (token.length > 8192) return undefined;
    return JWT_SHAPE.test(token) ? this.lookupJwt(token) : this.lookupOpaque(token);
  }

  private async lookupJwt(token: string): Promise<TokenInfo | undefined> {
    let payload: JWTPayload;
    try {
      const { kid } = decodeProtectedHeader(token);
      const key = await this.keys.verificationKey(kid);
      if (!key) return undefined;
      ({ payload } = await jwtVerify(token, key.publicKey, {
        issuer: this.config.issuer(),
        typ: 'at+jwt',
        algorithms: [key.alg],
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
      }));
    } catch {
      return undefined;
    }
    const clientId = payload.client_id as string;
    const revoked = await this.database.run('revoked_jwt', `SELECT 1 FROM revoked_jwts WHERE jti = $1`, [payload.jti]);
    if (revoked.length > 0) return undefined;
    // A deleted client's JWTs die with it, also if a new client later takes the same id.
    const client = await this.clients.find(clientId);
    if (!client || Math.floor(client.createdAt.getTime() / 1000) > payload.iat!) return undefined;
    return {
      jti: payload.jti!,
      clientId,
      subject: payload.sub!,
      scope: typeof payload.scope === 'string' ? payload.scope : '',
      audience: Array.isArray(payload.aud) ? payload.aud : payload.aud ? [payload.aud] : [],
      issuedAt: payload.iat!,
      expiresAt: payload.exp!,
      ext: payload.ext && typeof payload.ext === 'object' ? (payload.ext as Record<string, unknown>) : undefined,
    };
  }

  private async lookupOpaque(token: string): Promise<TokenInfo | undefined> {
    const hashes = keyedHashes(this.config.systemSecrets(), token);
    const rows: Array<{
      id: string;
      client_id: string;
      subject: string;
      scope: string;
      audience: string[];
      iat: number;
      exp: number;
      grant_id: string | null;
      ext: Record<string, unknown> | null;
    }> = await this.database.run(
        'access_token_by_hash',
        `SELECT t.id, t.client_id, t.subject, t.scope, t.audience, t.grant_id, g.session->'access_token' AS ext,
                extract(epoch FROM t.issued_at)::bigint AS iat, extract(epoch FROM t.expires_at)::bigint AS exp
           FROM access_tokens t LEFT JOIN oauth2_grants g ON g.id = t.grant_id
          WHERE t.token_hash = ANY($1) AND t.revoked_at IS NULL AND t.expires_at > now()`,
        [hashes],
      );
    const row = rows[0];
    if (!row) return undefined;
    return {
      jti: row.id,
      clientId: row.client_id,
      subject: row.subject,
      scope: row.scope,
      audience: row.audience,
      issuedAt: Number(row.iat),
      expiresAt: Number(row.exp),
      grantId: row.grant_id ?? undefined,
      ext: row.ext && Object.keys(row.ext).length > 0 ? row.ext : undefined,
    };
  }

  /**
   * RFC 7662. With a `caller`, only tokens issued to it or naming it in their
   * audience are reported active; the admin endpoint passes none.
   */
  async introspect(token: string, caller?: ClientEntity): Promise<IntrospectionResponse> {
    const info = await this.lookup(token);
    if (!info) return INACTIVE;
    if (caller && caller.id !== info.clientId && !info.audience.includes(caller.id)) return INACTIVE;
    return {
      active: true,
      client_id: info.clientId,
      sub: info.subject,
      scope: info.scope,
      aud: info.audience,
      iss: this.config.issuer(),
      exp: info.expiresAt,
      iat: info.issuedAt,
      jti: info.jti,
      token_type: 'Bearer',
      token_use: 'access_token',
      ...(info.ext ? { ext: info.ext } : {}),
    };
  }

  /** RFC 7009: unknown and inactive tokens are fine; another client's token is refused. */
  async revoke(token: string, caller: ClientEntity): Promise<void> {
    const info = await this.lookup(token);
    if (!info) return;
    if (info.clientId !== caller.id) throw new OAuthError('unauthorized_client', 'the token was not issued to this client');
    if (JWT_SHAPE.test(token)) {
      await this.dataSource.query(
        `INSERT INTO revoked_jwts (jti, expires_at) VALUES ($1, to_timestamp($2)) ON CONFLICT DO NOTHING`,
        [info.jti, info.expiresAt],
      );
    } else {
      await this.tokens.update({ id: info.jti }, { revokedAt: new Date() });
    }
  }
}
