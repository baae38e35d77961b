// RFC 7591 §2.3 software statements: a JWT whose claims describe the client
// software, accepted only when signed by a configured trusted issuer.
import { Injectable } from '@nestjs/common';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeJwt, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { CLIENT_SIGNING_ALGS } from '../clients/client-metadata.js';
import { OAuthError } from '../common/oauth-error.js';
import { FetchBusyError, ServerFetcher, tooManyFetches } from '../common/safe-fetch.js';
import { ConfigService } from '../config/config.service.js';
import type { TrustedIssuer } from '../config/parsers.js';

/** A verified statement: the client metadata it carries, who signed it and until when it holds. */
export interface VerifiedStatement {
  claims: Record<string, unknown>;
  issuer: string;
  /** The statement's exp; null when it has none (it then never expires). */
  expiresAt: Date | null;
}

/** JWT claims that describe the statement itself, not the client. */
const ENVELOPE_CLAIMS = ['iss', 'sub', 'aud', 'iat', 'exp', 'nbf', 'jti'];

@Injectable()
export class SoftwareStatementVerifier {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(
    private readonly config: ConfigService,
    private readonly fetcher: ServerFetcher,
  ) {}

  /** Verifies a statement and returns the client metadata it carries. */
  async verify(statement: unknown): Promise<Record<string, unknown>> {
    return (await this.verifyWithIssuer(statement)).claims;
  }

  /** Verifies a statement and returns the client metadata it carries, with its (trusted) issuer and expiry. */
  async verifyWithIssuer(statement: unknown): Promise<VerifiedStatement> {
    if (typeof statement !== 'string' || statement.length > 16_384) {
      throw new OAuthError('invalid_software_statement', 'software_statement must be a signed JWT');
    }
    let issuer: unknown;
    try {
      issuer = decodeJwt(statement).iss;
    } catch {
      throw new OAuthError('invalid_software_statement', 'software_statement is not a JWT');
    }
    const trusted = this.config.get('oidc.dynamic_client_registration.software_statement.trusted_issuers').find(
      (t) => t.issuer === issuer,
    );
    if (!trusted) {
      throw new OAuthError('unapproved_software_statement', `software statements from ${JSON.stringify(issuer ?? null)} are not accepted`);
    }
    try {
      const { payload } = await jwtVerify(statement, this.keySet(trusted), { issuer: trusted.issuer, algorithms: CLIENT_SIGNING_ALGS });
      return {
        claims: Object.fromEntries(Object.entries(payload).filter(([claim]) => !ENVELOPE_CLAIMS.includes(claim))),
        issuer: trusted.issuer,
        expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000) : null,
      };
    } catch (err) {
      // The issuer's keys could not be fetched for want of a free slot: a reason to retry, not a bad statement.
      if (err instanceof FetchBusyError) throw tooManyFetches(err);
      const code = (err as { code?: string }).code ?? 'ERR_INVALID';
      throw new OAuthError('invalid_software_statement', `software_statement could not be verified (${code})`);
    }
  }

  private keySet(trusted: TrustedIssuer): JWTVerifyGetKey {
    let set = this.keySets.get(trusted.issuer);
    if (!set) {
      set = trusted.jwks
        ? createLocalJWKSet(trusted.jwks as JSONWebKeySet)
        : createRemoteJWKSet(new URL(trusted.jwks_uri!), { [customFetch]: this.fetcher.asFetch() as never, cacheMaxAge: 600_000 });
      this.keySets.set(trusted.issuer, set);
    }
    return set;
  }
}
