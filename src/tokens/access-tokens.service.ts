// Issuing, introspecting and revoking access tokens in both formats: JWTs
// (RFC 9068), verified by signature, and opaque tokens, stored as keyed hashes.
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { SignJWT, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { effectiveStrategy } from '../clients/access-token-strategy.js';
import { isSuspended, revokedByCutoff } from '../clients/client-suspension.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { clientLifespan } from '../clients/lifespans.js';
import { MetricsService } from '../common/metrics.js';
import { OAuthError } from '../common/oauth-error.js';
import { keyedHash, keyedHashes, randomToken } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { AccessTokenCache } from './access-token-cache.js';
import { AccessTokensRepository, type ActiveOpaqueToken, type OpaqueTokenUse, type StoredAccessToken } from './access-tokens.repository.js';
import { SigningKeysService } from './signing-keys.service.js';

/** Bearer (RFC 6750), or DPoP when the token is bound to the key of a DPoP proof (RFC 9449 §5). */
export type TokenType = 'Bearer' | 'DPoP';

export interface TokenResponse {
  access_token: string;
  token_type: TokenType;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
  /** RFC 8693 §2.2.1: the type of the token issued by token exchange. */
  issued_token_type?: string;
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
  /** The thumbprint of the DPoP proof's key: the token is bound to it (RFC 9449 §6). */
  jkt?: string;
  /** RFC 8693 §4.1: the acting party, and the chain of prior ones nested in it. */
  act?: Record<string, unknown>;
  /** The token expires no later than this (epoch seconds): an exchanged token does not outlive its subject token. */
  notAfter?: number;
}

/** The facts about a token that introspection reports. */
export interface TokenInfo extends StoredAccessToken {
  ext?: Record<string, unknown>;
}

/** A token as introspection found it: an access token, or (opaque only) a refresh token. */
interface FoundToken extends TokenInfo {
  use: OpaqueTokenUse;
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
      token_type: TokenType;
      token_use: 'access_token' | 'refresh_token';
      ext?: Record<string, unknown>;
      /** RFC 9449 §6.2: the key a DPoP-bound token is bound to. */
      cnf?: { jkt: string };
      act?: Record<string, unknown>;
    };

/** The token_type and cnf of a token bound (or not) to a DPoP key, as responses and introspection show them. */
export function binding(jkt: string | undefined): { token_type: TokenType; cnf?: { jkt: string } } {
  return jkt ? { token_type: 'DPoP', cnf: { jkt } } : { token_type: 'Bearer' };
}

const INACTIVE = { active: false } as const;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The jkt of a JWT's cnf claim (RFC 9449 §6.1), when it has one. */
function jwtConfirmation(cnf: unknown): string | undefined {
  const jkt = cnf && typeof cnf === 'object' ? (cnf as { jkt?: unknown }).jkt : undefined;
  return typeof jkt === 'string' ? jkt : undefined;
}

@Injectable()
export class AccessTokensService {
  constructor(
    private readonly repository: AccessTokensRepository,
    private readonly clients: ClientsService,
    private readonly keys: SigningKeysService,
    private readonly config: ConfigService,
    private readonly metrics: MetricsService,
    private readonly cache: AccessTokenCache,
  ) {}

  /** Issues one access token in the format the client's strategy decides (README "Access tokens and the strategy"), for any grant. */
  async issue(client: ClientEntity, grantType: string, grant: AccessGrant): Promise<TokenResponse> {
    // Hydra's <grant>_grant_access_token_lifespan, else ttl.access_token (README "Token lifetimes").
    const ttl = clientLifespan(client.fields, grantType, 'access_token') ?? this.config.get('ttl.access_token');
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = grant.notAfter === undefined ? now + ttl : Math.min(now + ttl, grant.notAfter);
    const info: TokenInfo = {
      jti: randomUUID(),
      clientId: client.id,
      subject: grant.subject,
      scope: grant.scope,
      // RFC 9068 requires aud; without a requested audience the token is for this server.
      audience: grant.audience.length > 0 ? grant.audience : [this.config.issuer()],
      issuedAt: now,
      expiresAt,
      grantId: grant.grantId,
      ext: grant.ext && Object.keys(grant.ext).length > 0 ? grant.ext : undefined,
      jkt: grant.jkt,
      act: grant.act,
    };
    const format = effectiveStrategy(client.accessTokenStrategy, this.config.accessTokenStrategy());
    const accessToken = format === 'jwt' ? await this.signJwt(info) : await this.storeOpaque(info);
    this.metrics.tokensIssued.inc({ format, grant_type: grantType });
    return { access_token: accessToken, token_type: binding(info.jkt).token_type, expires_in: expiresAt - now, ...(info.scope ? { scope: info.scope } : {}) };
  }

  private async signJwt(info: TokenInfo): Promise<string> {
    const key = await this.keys.signingKey(info.expiresAt);
    if (info.grantId) {
      // Listed so that revoking the grant (code replay, refresh token reuse, consent revoked) revokes this JWT too.
      await this.repository.recordGrantJwt(info.jti, info.grantId, info.expiresAt);
    }
    return new SignJWT({
      client_id: info.clientId,
      scope: info.scope,
      ...(info.ext ? { ext: info.ext } : {}),
      // RFC 9449 §6.1: the confirmation of a DPoP-bound token.
      ...(info.jkt ? { cnf: { jkt: info.jkt } } : {}),
      // RFC 8693 §4.1: the actor chain of an exchanged token.
      ...(info.act ? { act: info.act } : {}),
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.config.issuer())
      .setSubject(info.subject)
      // RFC 9068 §2.2 / RFC 7519 §4.1.3: one audience as a string, several as an array.
      .setAudience(info.audience.length === 1 ? info.audience[0] : info.audience)
      .setIssuedAt(info.issuedAt)
      .setExpirationTime(info.expiresAt)
      .setJti(info.jti)
      .sign(key.privateKey);
  }

  private async storeOpaque(info: TokenInfo): Promise<string> {
    const token = randomToken(32);
    await this.repository.insert(keyedHash(this.config.systemSecrets()[0], token), info).catch((err: { code?: string }) => {
      // The client was deleted (by another instance) between authentication and now.
      if (err?.code === '23503') throw new OAuthError('invalid_client', 'client authentication failed: unknown client');
      throw err;
    });
    return token;
  }

  /**
   * The token's facts if it is active: valid, unexpired, unrevoked, and its
   * client still exists and is not suspended. Always read from the database:
   * what revokes, exchanges or registers with a token decides on its row.
   */
  lookup(token: string): Promise<TokenInfo | undefined> {
    return this.lookupToken(token, false);
  }

  private async lookupToken(token: string, introspection: boolean): Promise<FoundToken | undefined> {
    if (token.length > 8192) return undefined;
    if (!JWT_SHAPE.test(token)) return this.lookupOpaque(token, introspection);
    const info = await this.lookupJwt(token);
    // A suspended client's tokens are inactive while it is suspended, and active again once it is resumed.
    if (!info || (await this.clients.suspended(info.clientId))) return undefined;
    return { ...info, use: 'access_token' };
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
    if (await this.repository.isJwtRevoked(payload.jti!)) return undefined;
    // A deleted client's JWTs die with it, also if a new client later takes the same id.
    const client = await this.clients.find(clientId);
    if (!client || Math.floor(client.createdAt.getTime() / 1000) > payload.iat!) return undefined;
    if (revokedByCutoff(client, payload.iat!)) return undefined;
    return {
      jti: payload.jti!,
      clientId,
      subject: payload.sub!,
      scope: typeof payload.scope === 'string' ? payload.scope : '',
      audience: Array.isArray(payload.aud) ? payload.aud : payload.aud ? [payload.aud] : [],
      issuedAt: payload.iat!,
      expiresAt: payload.exp!,
      ext: payload.ext && typeof payload.ext === 'object' ? (payload.ext as Record<string, unknown>) : undefined,
      jkt: jwtConfirmation(payload.cnf),
      act: payload.act && typeof payload.act === 'object' ? (payload.act as Record<string, unknown>) : undefined,
    };
  }

  /**
   * An opaque token from one prepared read or, for introspection, from the
   * token cache (README "Performance"), which revocations and deletions drop.
   * Introspection's read finds refresh tokens too (never cached: spending one
   * sends no signal). An unknown token is never cached: another instance may
   * have just issued it.
   */
  private async lookupOpaque(token: string, introspection: boolean): Promise<FoundToken | undefined> {
    const hashes = keyedHashes(this.config.systemSecrets(), token);
    let found = introspection ? this.cache.get(hashes[0]) : undefined;
    let use: OpaqueTokenUse = 'access_token';
    let client: ClientEntity | null;
    if (found) {
      client = await this.clients.stored(found.token.clientId);
    } else {
      const ticket = this.cache.ticket();
      const row = introspection ? await this.repository.findActiveOpaque(hashes) : await this.repository.findActiveByHash(hashes);
      if (!row) return undefined;
      if (introspection) use = (row as ActiveOpaqueToken).use;
      client = await this.clients.stored(row.clientId);
      found = { token: row, storedClient: client !== null };
      if (introspection && use === 'access_token') this.cache.store(hashes[0], found, ticket);
    }
    // The client comes from the client cache, which every change of the client reaches (in this instance before the change is answered).
    // A suspended client's tokens are inactive while it is suspended, and active again once it is resumed.
    if (isSuspended(client)) return undefined;
    // Deleting a client deletes its tokens: a cached row must not outlive it, nor pass for a token of a
    // client created later with the same client_id.
    if (found.storedClient && (!client || Math.floor(client.createdAt.getTime() / 1000) > found.token.issuedAt)) return undefined;
    const row = found.token;
    return {
      ...row,
      use,
      audience: [...row.audience],
      ext: row.ext && Object.keys(row.ext).length > 0 ? row.ext : undefined,
      act: row.act ?? undefined,
    };
  }

  /**
   * RFC 7662, for access tokens in either format and opaque refresh tokens,
   * in one database read at most. With a `caller`, only tokens issued to it
   * (or, for an access token, naming it in their audience) are reported
   * active; the admin endpoint passes none.
   */
  async introspect(token: string, caller?: ClientEntity): Promise<IntrospectionResponse> {
    const info = await this.lookupToken(token, true);
    if (!info) return INACTIVE;
    if (caller && caller.id !== info.clientId && (info.use === 'refresh_token' || !info.audience.includes(caller.id))) return INACTIVE;
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
      ...binding(info.jkt),
      token_use: info.use,
      ...(info.ext ? { ext: info.ext } : {}),
      ...(info.act ? { act: info.act } : {}),
    };
  }

  /**
   * An active access token of this server presented for token exchange
   * (RFC 8693 §2.1), with the grant it belongs to in either format, so that
   * what is exchanged from it is revoked with that grant.
   */
  async lookupForExchange(token: string): Promise<TokenInfo | undefined> {
    const info = await this.lookup(token);
    if (info && info.grantId === undefined && JWT_SHAPE.test(token)) info.grantId = await this.repository.grantOfJwt(info.jti);
    return info;
  }

  /** RFC 7009: unknown and inactive tokens are fine (false); another client's token is refused. */
  async revoke(token: string, caller: ClientEntity): Promise<boolean> {
    const info = await this.lookup(token);
    if (!info) return false;
    if (info.clientId !== caller.id) throw new OAuthError('unauthorized_client', 'the token was not issued to this client');
    if (JWT_SHAPE.test(token)) {
      await this.repository.revokeJwt(info.jti, info.expiresAt);
    } else {
      await this.repository.revoke(info.jti);
      await this.cache.invalidate();
    }
    return true;
  }
}
