// RFC 7523 §2.1 and §3: a JWT from an issuer an admin trusts, as the
// authorization grant, for the subject the JWT names (README "JWT bearer grant").
import { Injectable } from '@nestjs/common';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { CLIENT_SIGNING_ALGS, JWT_BEARER_GRANT } from '../../clients/client-metadata.js';
import type { ClientEntity } from '../../clients/client.entity.js';
import { ClientActivityService } from '../../clients/client-activity.service.js';
import { OAuthError } from '../../common/oauth-error.js';
import { clientAudience } from '../../common/resource-indicators.js';
import { splitScope } from '../../common/scopes.js';
import { ConfigService } from '../../config/config.service.js';
import type { TrustedIssuer } from '../../trust/trusted-issuers.repository.js';
import { TrustedIssuersService } from '../../trust/trusted-issuers.service.js';
import { AccessTokensService, type TokenResponse } from '../access-tokens.service.js';
import { ClientAssertionsRepository } from '../client-assertions.repository.js';
import { invalidGrant, type GrantHandler, type TokenRequest } from './grant-handler.js';
import { requestedTokenAudience } from './token-audience.js';

const MAX_ASSERTION_LENGTH = 16_384;
const MAX_CLAIM_LENGTH = 2000;
const CLOCK_SKEW_S = 5;
/** jose's errors that mean "this key did not verify this signature", so the next trusted key may. */
const KEY_MISMATCH = new Set(['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'ERR_JOSE_NOT_SUPPORTED', 'ERR_JOSE_ALG_NOT_ALLOWED', 'ERR_JWK_INVALID']);

/** A claim that will be stored or looked up: a bounded string PostgreSQL accepts. */
function textClaim(payload: JWTPayload, name: 'iss' | 'sub' | 'jti'): string {
  const value = payload[name];
  if (typeof value !== 'string' || value === '') throw invalidGrant(`the assertion has no ${name} claim`);
  if (value.length > MAX_CLAIM_LENGTH || value.includes('\u0000') || !value.isWellFormed()) {
    throw invalidGrant(`the assertion's ${name} claim is malformed or too long`);
  }
  return value;
}

function decode(assertion: string): { header: ProtectedHeaderParameters; payload: JWTPayload } {
  if (assertion.length > MAX_ASSERTION_LENGTH) throw invalidGrant(`the assertion is longer than ${MAX_ASSERTION_LENGTH} characters`);
  try {
    const header = decodeProtectedHeader(assertion);
    return { header, payload: decodeJwt(assertion) };
  } catch {
    throw invalidGrant('the assertion is not a signed JWT (RFC 7523 §3)');
  }
}

/** The error of a claim check that followed a verified signature. */
function claimError(err: unknown): OAuthError {
  const { code, claim } = err as { code?: string; claim?: string };
  if (code === 'ERR_JWT_EXPIRED') return invalidGrant('the assertion has expired');
  if (claim === 'aud') return invalidGrant('the assertion\'s aud names neither the token endpoint nor the issuer');
  if (claim === 'nbf') return invalidGrant('the assertion is not valid yet (nbf)');
  if (claim === 'exp' || claim === 'jti') return invalidGrant(`the assertion has no ${claim} claim`);
  return invalidGrant('the assertion\'s claims are invalid');
}

@Injectable()
export class JwtBearerGrant implements GrantHandler {
  readonly grantType = JWT_BEARER_GRANT;
  // The client authenticates as usual: the assertion names a subject, not the client.
  readonly allowsPublicClients = false;

  constructor(
    private readonly config: ConfigService,
    private readonly trusts: TrustedIssuersService,
    private readonly jtis: ClientAssertionsRepository,
    private readonly accessTokens: AccessTokensService,
    private readonly activity: ClientActivityService,
  ) {}

  enabled(): boolean {
    return this.config.get('oauth2.grant.jwt.enabled') === true;
  }

  async handle(client: ClientEntity, request: TokenRequest): Promise<TokenResponse> {
    const { params, dpop } = request;
    if (!params.assertion) throw new OAuthError('invalid_request', 'assertion is required');
    const { trust, payload } = await this.verify(params.assertion);
    const subject = payload.sub!;
    const scope = this.scope(params.scope, trust, client);
    // Like client_credentials: audiences and RFC 8707 resources within the client's audience.
    const audience = requestedTokenAudience(request, clientAudience(client.fields), 'is not a resource the client may request') ?? [];
    // Spent last: an assertion refused for its scope or audience may be sent again with a narrower request.
    if (!(await this.jtis.recordGrantJti(trust.issuer, payload.jti!, payload.exp!))) {
      throw invalidGrant('the assertion was already used (its jti was seen before)');
    }
    const response = await this.accessTokens.issue(client, this.grantType, { subject, scope: scope.join(' '), audience, jkt: dpop?.jkt });
    await this.activity.touch(client);
    return response;
  }

  /** RFC 7523 §3: a trusted issuer, a trusted subject, a signature by one of its keys, and the time and audience claims. */
  private async verify(assertion: string): Promise<{ trust: TrustedIssuer; payload: JWTPayload }> {
    const { header, payload } = decode(assertion);
    const issuer = textClaim(payload, 'iss');
    const subject = textClaim(payload, 'sub');
    textClaim(payload, 'jti');
    const trusts = await this.trusts.forIssuer(issuer);
    if (trusts.length === 0) throw invalidGrant('the assertion\'s issuer is not trusted');
    const live = trusts.filter((t) => t.expiresAt.getTime() > Date.now());
    if (live.length === 0) throw invalidGrant('the trust relationship with the assertion\'s issuer has expired');
    const forSubject = live.filter((t) => t.allowAnySubject || t.subject === subject);
    if (forSubject.length === 0) throw invalidGrant('the issuer is not trusted for the assertion\'s subject');
    // By kid when the assertion names one; otherwise each of the issuer's keys for this subject.
    const candidates = header.kid === undefined ? forSubject : forSubject.filter((t) => t.keyId === header.kid);
    if (candidates.length === 0) throw invalidGrant('no trusted key of the issuer has the assertion\'s kid');
    if (typeof header.alg !== 'string' || !CLIENT_SIGNING_ALGS.includes(header.alg)) {
      throw invalidGrant(`the assertion's alg must be one of ${CLIENT_SIGNING_ALGS.join(', ')}`);
    }
    const issuerUrl = this.config.issuer();
    for (const trust of candidates) {
      let verified: JWTPayload;
      try {
        const key = await importJWK(trust.jwk as JWK, header.alg);
        ({ payload: verified } = await jwtVerify(assertion, key, {
          algorithms: [header.alg],
          audience: [`${issuerUrl}/oauth2/token`, issuerUrl],
          requiredClaims: ['exp', 'jti'],
          clockTolerance: CLOCK_SKEW_S,
        }));
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === undefined || KEY_MISMATCH.has(code)) continue;
        throw claimError(err);
      }
      this.checkTimes(verified);
      return { trust, payload: verified };
    }
    throw invalidGrant('the assertion\'s signature does not verify with a trusted key of its issuer');
  }

  private checkTimes(payload: JWTPayload): void {
    const now = Math.floor(Date.now() / 1000);
    const maxTtl = this.config.get('oauth2.grant.jwt.max_ttl');
    if (payload.exp! > now + maxTtl) throw invalidGrant(`the assertion's exp is more than ${maxTtl} s ahead (oauth2.grant.jwt.max_ttl)`);
    if (payload.iat !== undefined && payload.iat > now + CLOCK_SKEW_S) throw invalidGrant('the assertion\'s iat is in the future');
  }

  /** Within the trust's scopes and the client's; omitted, every scope both allow. */
  private scope(requested: string | undefined, trust: TrustedIssuer, client: ClientEntity): string[] {
    const clientScope = splitScope(typeof client.fields.scope === 'string' ? client.fields.scope : undefined);
    if (requested === undefined) return trust.scope.filter((s) => clientScope.includes(s));
    const scope = splitScope(requested);
    const untrusted = scope.filter((s) => !trust.scope.includes(s));
    if (untrusted.length > 0) throw new OAuthError('invalid_scope', `the issuer is not trusted for the scope: ${untrusted.join(' ')}`);
    const beyondClient = scope.filter((s) => !clientScope.includes(s));
    if (beyondClient.length > 0) throw new OAuthError('invalid_scope', `the client may not request: ${beyondClient.join(' ')}`);
    return scope;
  }
}
