// OpenID Connect ID tokens (Core §2) and signed userinfo responses (Core §5.3.2),
// signed with the active key of the client's algorithm, and the check of an
// id_token_hint at logout.
import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { SignJWT, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { ConfigService } from '../config/config.service.js';
import type { SigningAlgorithm } from './signing-key.entity.js';
import { SigningKeysService } from './signing-keys.service.js';

/** Claims the server sets; extra claims from the consent session cannot replace them. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'auth_time', 'nonce', 'at_hash', 'c_hash', 'acr', 'amr', 'azp', 'sid']);

export interface IdTokenFacts {
  clientId: string;
  /** The subject as the client knows it: pairwise clients get their own (OIDC Core §8). */
  subject: string;
  /** Seconds the token lives (the client's lifespan, else ttl.id_token). */
  lifetime: number;
  /** The client's id_token_signed_response_alg; default jwt.signing_algorithm. */
  alg?: SigningAlgorithm;
  authTime: number;
  nonce?: string;
  acr?: string;
  amr?: string[];
  sessionId?: string;
  accessToken: string;
  extra?: Record<string, unknown>;
}

/** OIDC Core §3.1.3.6: the left half of the access token's hash, with the hash of the signing algorithm. */
export function accessTokenHash(accessToken: string, alg: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** The consent app's extra claims, minus any that would overwrite a claim the server sets. */
export function extraClaims(extra: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(Object.entries(extra ?? {}).filter(([name]) => !RESERVED_CLAIMS.has(name)));
}

@Injectable()
export class IdTokensService {
  constructor(
    private readonly keys: SigningKeysService,
    private readonly config: ConfigService,
  ) {}

  async sign(facts: IdTokenFacts): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const key = await this.keys.signingKey(now + facts.lifetime, facts.alg);
    const claims: JWTPayload = {
      ...extraClaims(facts.extra),
      auth_time: facts.authTime,
      at_hash: accessTokenHash(facts.accessToken, key.alg),
      ...(facts.nonce ? { nonce: facts.nonce } : {}),
      ...(facts.acr ? { acr: facts.acr } : {}),
      ...(facts.amr && facts.amr.length > 0 ? { amr: facts.amr } : {}),
      ...(facts.sessionId ? { sid: facts.sessionId } : {}),
    };
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.config.issuer())
      .setSubject(facts.subject)
      .setAudience([facts.clientId])
      .setIssuedAt(now)
      .setExpirationTime(now + facts.lifetime)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  /**
   * A signed userinfo response (OIDC Core §5.3.2) for a client that registered
   * userinfo_signed_response_alg: the claims with iss and aud, as a JWT.
   */
  async signUserinfo(clientId: string, alg: SigningAlgorithm, claims: Record<string, unknown>): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const lifetime = this.config.get('ttl.id_token');
    const key = await this.keys.signingKey(now + lifetime, alg);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.config.issuer())
      .setAudience(clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + lifetime)
      .sign(key.privateKey);
  }

  /**
   * An id_token_hint (OIDC RP-Initiated Logout §2): one of ours, by signature
   * and issuer; an expired one is still a good hint. Undefined when it is not.
   */
  async verifyHint(token: string): Promise<{ clientId: string; subject: string; sessionId?: string } | undefined> {
    try {
      const key = await this.keys.verificationKey(decodeProtectedHeader(token).kid);
      if (!key) return undefined;
      const { payload } = await jwtVerify(token, key.publicKey, {
        issuer: this.config.issuer(),
        algorithms: [key.alg],
        typ: 'JWT',
        currentDate: new Date(0),
        requiredClaims: ['sub', 'aud'],
      });
      const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud!];
      if (aud.length !== 1) return undefined;
      return { clientId: aud[0], subject: payload.sub!, sessionId: typeof payload.sid === 'string' ? payload.sid : undefined };
    } catch {
      return undefined;
    }
  }
}
