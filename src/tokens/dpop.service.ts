// DPoP (RFC 9449): checking the proof a client sends in the DPoP header at the
// token endpoint (§4.3) and with a DPoP-bound access token at userinfo (§7.1),
// and the server nonces of §8, derived from secrets.system and the clock so
// that every instance issues and accepts the same ones without shared state.
import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  errors as joseErrors,
  importJWK,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from 'jose';
import type { HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { keyedHash, matchesAny } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { DPoPProofsRepository } from './dpop-proofs.repository.js';

/** Asymmetric algorithms accepted for proofs (RFC 9449 §4.3 item 5: never none, never a MAC); advertised in discovery. */
export const DPOP_SIGNING_ALGS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA'];
/** Allowed difference between the client's clock and ours, in seconds, on both sides of iat. */
const CLOCK_SKEW_S = 5;
/** A nonce is valid in the window it was issued in and the next one: between 5 and 10 minutes. */
const NONCE_WINDOW_S = 300;
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A proof that passed every check: the thumbprint of its key (RFC 7638), which the tokens are bound to. */
export interface DPoPProof {
  jkt: string;
}

/** What the request the proof came with must look like. */
export interface ProofContext {
  /** The request's method and URL (without query), as htm and htu must name them. */
  htm: string;
  htu: string;
  /** At a protected resource: the access token the proof must be bound to by its ath claim (§4.3 item 12). */
  accessToken?: string;
}

/** The htu of a proof compared as RFC 9449 §4.3 item 9 says: without query and fragment, after URL normalisation. */
function normaliseUrl(value: string): string | undefined {
  try {
    const url = new URL(value);
    url.search = '';
    url.hash = '';
    return url.href;
  } catch {
    return undefined;
  }
}

/** base64url(SHA-256(access token)): the ath claim of a proof sent with that token (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

@Injectable()
export class DPoPService {
  constructor(
    private readonly config: ConfigService,
    private readonly proofs: DPoPProofsRepository,
  ) {}

  /** Whether every proof must carry a nonce this server issued (oauth2.dpop.require_nonce). */
  nonceRequired(): boolean {
    return this.config.get('oauth2.dpop.require_nonce') === true;
  }

  /** The nonce of the current window under the first system secret; what the DPoP-Nonce header carries. */
  currentNonce(): string {
    return this.nonceFor(this.config.systemSecrets()[0], this.window());
  }

  /**
   * Checks the request's DPoP proof; undefined when there is none. At the
   * token endpoint (`resource` false) failures are 400 invalid_dpop_proof or
   * use_dpop_nonce (§5, §8); at a protected resource 401 with a DPoP challenge (§7.1, §9).
   */
  async verify(req: HttpRequest, context: ProofContext, resource = false): Promise<DPoPProof | undefined> {
    const invalid = (why: string): OAuthError =>
      new OAuthError('invalid_dpop_proof', `DPoP proof: ${why}`, resource ? { status: 401, headers: { 'WWW-Authenticate': this.challenge('invalid_dpop_proof') } } : {});
    const proof = this.headerValue(req, invalid);
    if (proof === undefined) return undefined;
    const { header, payload } = await this.verifySignature(proof, invalid);
    const jkt = await calculateJwkThumbprint(header.jwk as JWK, 'sha256');
    const { jti, iat } = this.checkClaims(payload, context, invalid);
    this.checkNonce(payload.nonce, resource);
    const maxAge = this.config.get('oauth2.dpop.proof_max_age');
    if (!(await this.proofs.recordJti(jkt, jti, iat + maxAge + CLOCK_SKEW_S))) throw invalid('its jti was already used (a replayed proof)');
    return { jkt };
  }

  /** The WWW-Authenticate challenge of a protected resource that takes DPoP-bound tokens (RFC 9449 §7.1). */
  challenge(error?: string): string {
    return `DPoP${error ? ` error="${error}",` : ''} algs="${DPOP_SIGNING_ALGS.join(' ')}"`;
  }

  /** Exactly one DPoP header (§4.3 item 1), holding one compact JWS; undefined when absent. */
  private headerValue(req: HttpRequest, invalid: (why: string) => OAuthError): string | undefined {
    const raw = req.raw.rawHeaders;
    let count = 0;
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'dpop') count += 1;
    if (count === 0) return undefined;
    const value = req.headers.dpop;
    // Repeated header lines, or several values folded into one line (a JWS has no comma).
    if (count > 1 || (typeof value === 'string' && value.includes(','))) throw invalid('send exactly one DPoP header');
    if (typeof value !== 'string' || value.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(value.trim())) {
      throw invalid('the DPoP header must hold one JWT in compact serialisation');
    }
    return value.trim();
  }

  /** §4.3 items 2-7: typ, an asymmetric alg, a public jwk in the header, and a signature by that key. */
  private async verifySignature(proof: string, invalid: (why: string) => OAuthError): Promise<{ header: ProtectedHeaderParameters; payload: JWTPayload }> {
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(proof);
    } catch {
      throw invalid('the JOSE header is not valid JSON');
    }
    if (header.typ !== 'dpop+jwt') throw invalid('typ must be dpop+jwt');
    const alg = header.alg;
    if (typeof alg !== 'string' || !DPOP_SIGNING_ALGS.includes(alg)) {
      throw invalid(`alg ${JSON.stringify(alg ?? null)} is not supported; use one of ${DPOP_SIGNING_ALGS.join(', ')}`);
    }
    const jwk = header.jwk as Record<string, unknown> | undefined;
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw invalid('the jwk header must carry the public key');
    const priv = PRIVATE_JWK_MEMBERS.find((m) => Object.hasOwn(jwk, m));
    if (priv) throw invalid(`the jwk header carries the private or symmetric member "${priv}"; send the public key only`);
    let key;
    try {
      key = await importJWK(jwk as JWK, alg);
    } catch {
      throw invalid(`the jwk header is not a public key usable with ${alg}`);
    }
    try {
      const { payload } = await jwtVerify(proof, key, { algorithms: [alg], typ: 'dpop+jwt' });
      return { header, payload };
    } catch (err) {
      if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw invalid('the signature does not verify with the jwk header');
      if (err instanceof joseErrors.JWTClaimValidationFailed || err instanceof joseErrors.JWTExpired) {
        throw invalid(`claim ${err.claim}: ${err.reason}`);
      }
      throw invalid(`the JWT is malformed (${(err as { code?: string }).code ?? 'invalid'})`);
    }
  }

  /** §4.3 items 8-12: jti, htm, htu, iat within oauth2.dpop.proof_max_age, ath. */
  private checkClaims(payload: JWTPayload, context: ProofContext, invalid: (why: string) => OAuthError): { jti: string; iat: number } {
    const { jti, htm, htu, iat } = payload as { jti?: unknown; htm?: unknown; htu?: unknown; iat?: unknown };
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw invalid(`jti is required (a string of at most ${MAX_JTI_LENGTH} characters)`);
    if (htm !== context.htm) throw invalid(`htm must be ${context.htm}, the method of this request`);
    if (typeof htu !== 'string' || normaliseUrl(htu) !== normaliseUrl(context.htu)) throw invalid(`htu must be ${context.htu}`);
    if (typeof iat !== 'number' || !Number.isInteger(iat)) throw invalid('iat is required (seconds since the epoch)');
    const now = Math.floor(Date.now() / 1000);
    const maxAge = this.config.get('oauth2.dpop.proof_max_age');
    if (iat > now + CLOCK_SKEW_S) throw invalid('iat is in the future');
    if (iat < now - maxAge - CLOCK_SKEW_S) throw invalid(`iat is more than ${maxAge} s ago; make a new proof for every request`);
    if (context.accessToken !== undefined) {
      if (typeof payload.ath !== 'string') throw invalid('ath (the hash of the access token) is required');
      if (payload.ath !== accessTokenHash(context.accessToken)) throw invalid('ath does not match the access token');
    }
    return { jti, iat };
  }

  /** §8, §9: a nonce sent must be one this server issued recently; with require_nonce, one must be sent. */
  private checkNonce(nonce: unknown, resource: boolean): void {
    if (nonce === undefined && !this.nonceRequired()) return;
    if (typeof nonce === 'string' && this.nonceValid(nonce)) return;
    const why = nonce === undefined ? 'this server requires a nonce in DPoP proofs' : 'the nonce is not a current one';
    throw new OAuthError('use_dpop_nonce', `${why}; retry with the one in the DPoP-Nonce header`, {
      ...(resource ? { status: 401 } : {}),
      headers: {
        'DPoP-Nonce': this.currentNonce(),
        ...(resource ? { 'WWW-Authenticate': this.challenge('use_dpop_nonce') } : {}),
      },
    });
  }

  private nonceValid(nonce: string): boolean {
    const window = this.window();
    const valid = this.config.systemSecrets().flatMap((secret) => [this.nonceFor(secret, window), this.nonceFor(secret, window - 1)]);
    return matchesAny(nonce, valid);
  }

  private window(): number {
    return Math.floor(Date.now() / 1000 / NONCE_WINDOW_S);
  }

  private nonceFor(secret: string, window: number): string {
    return keyedHash(secret, `dpop-nonce:${window}`);
  }
}
