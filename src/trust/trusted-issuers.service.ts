// Trust relationships of the JWT bearer grant (RFC 7523 §2.1), managed by
// admins the way Ory Hydra manages them: one issuer, one subject (or any),
// the scopes assertions may lead to, one public key, and an expiry.
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CLIENT_SIGNING_ALGS } from '../clients/client-metadata.js';
import { OAuthError } from '../common/oauth-error.js';
import type { PageRequest } from '../common/pagination.js';
import { isUniqueViolation } from '../database/db-errors.js';
import type { TrustedJwtGrantIssuerDto } from './trusted-issuer.dto.js';
import { TrustedIssuersRepository, type TrustedIssuer } from './trusted-issuers.repository.js';

const FIELDS = ['issuer', 'subject', 'allow_any_subject', 'scope', 'jwk', 'expires_at'];
const MAX_STRING = 2000;
const MAX_SCOPES = 100;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/;
/** Members of a private or symmetric JWK (RFC 7518 §6.2.2, §6.3.2, §6.4). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const PUBLIC_MEMBERS: Record<string, string[]> = { RSA: ['n', 'e'], EC: ['crv', 'x', 'y'], OKP: ['crv', 'x'] };
const CURVES: Record<string, string[]> = { EC: ['P-256', 'P-384'], OKP: ['Ed25519'] };
/** 2048-bit RSA moduli are 342 base64url characters or more. */
const MIN_RSA_MODULUS_CHARS = 342;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

function invalid(description: string): OAuthError {
  return new OAuthError('invalid_request', description);
}

function boundedString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalid(`${name} must be a string`);
  if (value.length > MAX_STRING) throw invalid(`${name} must be at most ${MAX_STRING} characters`);
  if (value.includes('\u0000') || !value.isWellFormed()) throw invalid(`${name} contains characters that are not allowed`);
  return value;
}

function scopeList(value: unknown): string[] {
  if (!Array.isArray(value)) throw invalid('scope must be an array of scope values (RFC 6749 §3.3)');
  if (value.length > MAX_SCOPES) throw invalid(`scope must have at most ${MAX_SCOPES} entries`);
  for (const s of value) {
    if (typeof s !== 'string' || !SCOPE_TOKEN.test(s)) throw invalid(`scope contains the invalid scope value ${JSON.stringify(s)}`);
  }
  return [...new Set(value as string[])];
}

/** A public signature key of a type the grant can verify; private, symmetric and unknown members are refused. */
function publicJwk(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('jwk must be a JSON Web Key object');
  const jwk = value as Record<string, unknown>;
  const secret = PRIVATE_MEMBERS.find((m) => Object.hasOwn(jwk, m));
  if (jwk.kty === 'oct') throw invalid('jwk must be a public key; symmetric (oct) keys are refused');
  if (secret) throw invalid(`jwk carries the private member "${secret}"; send the public key only`);
  const kty = jwk.kty;
  if (typeof kty !== 'string' || !Object.hasOwn(PUBLIC_MEMBERS, kty)) throw invalid('jwk.kty must be RSA, EC or OKP');
  const members = PUBLIC_MEMBERS[kty];
  const unknown = Object.keys(jwk).find((m) => !['kty', 'kid', 'alg', 'use', ...members].includes(m));
  if (unknown) throw invalid(`jwk carries the member "${unknown}", which is not accepted for a ${kty} public key`);
  if (typeof jwk.kid !== 'string' || jwk.kid === '') throw invalid('jwk.kid is required (assertions name it in their kid header)');
  boundedString('jwk.kid', jwk.kid);
  if (jwk.use !== undefined && jwk.use !== 'sig') throw invalid('jwk.use must be sig');
  if (jwk.alg !== undefined && (typeof jwk.alg !== 'string' || !CLIENT_SIGNING_ALGS.includes(jwk.alg))) {
    throw invalid(`jwk.alg must be one of ${CLIENT_SIGNING_ALGS.join(', ')}`);
  }
  for (const m of members) {
    const v = jwk[m];
    if (typeof v !== 'string' || v === '' || v.length > 4096) throw invalid(`jwk.${m} is required for a ${kty} key`);
    if (m !== 'crv' && !BASE64URL.test(v)) throw invalid(`jwk.${m} must be base64url`);
  }
  if (CURVES[kty] && !CURVES[kty].includes(jwk.crv as string)) throw invalid(`jwk.crv must be one of ${CURVES[kty].join(', ')}`);
  if (kty === 'RSA' && (jwk.n as string).length < MIN_RSA_MODULUS_CHARS) throw invalid('jwk.n must be a modulus of at least 2048 bits');
  return Object.fromEntries(['kty', 'kid', 'alg', 'use', ...members].filter((m) => jwk[m] !== undefined).map((m) => [m, jwk[m]]));
}

function futureTime(value: unknown): Date {
  if (typeof value !== 'string' || !RFC3339.test(value)) throw invalid('expires_at must be an RFC 3339 date-time such as 2030-01-01T00:00:00Z');
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw invalid('expires_at is not a valid date-time');
  if (at.getTime() <= Date.now()) throw invalid('expires_at must be in the future');
  if (at.getUTCFullYear() > 9999) throw invalid('expires_at is too far in the future');
  return at;
}

export function trustView(t: TrustedIssuer): TrustedJwtGrantIssuerDto {
  return {
    id: t.id,
    issuer: t.issuer,
    subject: t.subject,
    allow_any_subject: t.allowAnySubject,
    scope: t.scope,
    public_key: { set: t.issuer, kid: t.keyId },
    expires_at: t.expiresAt.toISOString(),
    created_at: t.createdAt.toISOString(),
  };
}

@Injectable()
export class TrustedIssuersService {
  constructor(private readonly repository: TrustedIssuersRepository) {}

  async create(body: Record<string, unknown>): Promise<TrustedIssuer> {
    const unknown = Object.keys(body).find((k) => !FIELDS.includes(k));
    if (unknown) throw invalid(`${unknown} is not a field of a trusted issuer (${FIELDS.join(', ')})`);
    if (body.issuer === undefined || body.issuer === '') throw invalid('issuer is required');
    const issuer = boundedString('issuer', body.issuer);
    const anySubject = body.allow_any_subject ?? false;
    if (typeof anySubject !== 'boolean') throw invalid('allow_any_subject must be a boolean');
    const subject = body.subject === undefined || body.subject === null ? '' : boundedString('subject', body.subject);
    if (anySubject && subject !== '') throw invalid('subject and allow_any_subject are mutually exclusive');
    if (!anySubject && subject === '') throw invalid('subject is required unless allow_any_subject is true');
    if (body.scope === undefined) throw invalid('scope is required');
    if (body.jwk === undefined) throw invalid('jwk is required');
    if (body.expires_at === undefined) throw invalid('expires_at is required');
    const jwk = publicJwk(body.jwk);
    const trust: TrustedIssuer = {
      id: randomUUID(),
      issuer,
      subject,
      allowAnySubject: anySubject,
      scope: scopeList(body.scope),
      keyId: jwk.kid as string,
      jwk,
      createdAt: new Date(Math.floor(Date.now() / 1000) * 1000),
      expiresAt: futureTime(body.expires_at),
    };
    try {
      await this.repository.insert(trust);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new OAuthError('conflict', `issuer ${issuer} is already trusted for ${anySubject ? 'any subject' : `subject ${subject}`} with key ${trust.keyId}`);
      }
      throw err;
    }
    return trust;
  }

  async get(id: string): Promise<TrustedIssuer> {
    const trust = await this.repository.findById(id);
    if (!trust) throw new OAuthError('not_found', `trusted issuer ${id} does not exist`);
    return trust;
  }

  list(page: PageRequest, issuer?: string): Promise<TrustedIssuer[]> {
    return this.repository.page(page, issuer);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.repository.deleteById(id))) throw new OAuthError('not_found', `trusted issuer ${id} does not exist`);
  }

  /** The issuer's trust relationships, expired ones included. */
  forIssuer(issuer: string): Promise<TrustedIssuer[]> {
    return this.repository.forIssuer(issuer);
  }
}
