// Client authentication at the token, introspection and revocation endpoints
// (RFC 6749 §2.3, RFC 7523 §2.2): the method must be the one the client registered.
import { Injectable } from '@nestjs/common';
import type { HttpRequest } from '../common/http.js';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { CLIENT_SIGNING_ALGS, SECRET_SIGNING_ALGS, type AuthMethod } from '../clients/client-metadata.js';
import { usableSecrets } from '../clients/client-secrets.js';
import { isSuspended } from '../clients/client-suspension.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { AppLogger } from '../common/logging.js';
import { OAuthError } from '../common/oauth-error.js';
import { ServerFetcher } from '../common/safe-fetch.js';
import { decryptWithSecrets, SecretVerifier } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { ClientAssertionsRepository } from './client-assertions.repository.js';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MAX_ASSERTION_LIFETIME_S = 600;
const REMOTE_JWKS_CACHE = 500;
/** A stored hash no secret matches, so unknown clients cost the same as wrong secrets. */
const DUMMY_HASH = 'sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
/**
 * The one description of every authentication failure: naming the method a
 * client registered, or that a secret expired, would tell a caller which
 * client ids exist. The reason goes to the log.
 */
const AUTHENTICATION_FAILED = 'client authentication failed';

interface Presented {
  method: AuthMethod;
  clientId: string;
  secret?: string;
  assertion?: string;
  viaBasic: boolean;
}

function decodeBasicPart(part: string): string {
  try {
    // RFC 6749 §2.3.1: the id and secret are form-urlencoded before Base64.
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    throw new OAuthError('invalid_request', 'malformed Basic credentials');
  }
}

function presentedCredentials(req: HttpRequest, params: Record<string, string>): Presented {
  const presented = readCredentials(req, params);
  // A NUL or broken UTF-8 can name no client (and PostgreSQL refuses it in a query).
  if (presented.clientId.includes('\u0000') || !presented.clientId.isWellFormed() || !(presented.secret ?? '').isWellFormed()) {
    throw new OAuthError('invalid_client', AUTHENTICATION_FAILED);
  }
  return presented;
}

function readCredentials(req: HttpRequest, params: Record<string, string>): Presented {
  const header = req.headers.authorization;
  const basic = header && /^Basic /i.test(header) ? header.slice(6).trim() : undefined;
  const assertion = params.client_assertion;
  const used = [basic !== undefined, params.client_secret !== undefined, assertion !== undefined].filter(Boolean).length;
  if (used > 1) throw new OAuthError('invalid_request', 'use exactly one client authentication method');
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthError('invalid_request', 'malformed Basic credentials');
    const clientId = decodeBasicPart(decoded.slice(0, colon));
    if (params.client_id !== undefined && params.client_id !== clientId) {
      throw new OAuthError('invalid_request', 'client_id differs from the Basic credentials');
    }
    return { method: 'client_secret_basic', clientId, secret: decodeBasicPart(decoded.slice(colon + 1)), viaBasic: true };
  }
  if (assertion !== undefined) {
    if (params.client_assertion_type !== JWT_BEARER_ASSERTION) {
      throw new OAuthError('invalid_request', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
    }
    let sub: unknown;
    let alg: unknown;
    try {
      sub = decodeJwt(assertion).sub;
      alg = decodeProtectedHeader(assertion).alg;
    } catch {
      throw new OAuthError('invalid_client', AUTHENTICATION_FAILED);
    }
    if (typeof sub !== 'string' || (params.client_id !== undefined && params.client_id !== sub)) {
      throw new OAuthError('invalid_client', AUTHENTICATION_FAILED);
    }
    // RFC 7523 §2.2 names one assertion type for both methods: an HMAC is client_secret_jwt
    // (OIDC Core §9), anything else private_key_jwt; the method must still be the registered one.
    const method = typeof alg === 'string' && SECRET_SIGNING_ALGS.includes(alg) ? 'client_secret_jwt' : 'private_key_jwt';
    return { method, clientId: sub, assertion, viaBasic: false };
  }
  if (params.client_id === undefined) throw new OAuthError('invalid_client', `${AUTHENTICATION_FAILED}: no client credentials were sent`);
  if (params.client_secret !== undefined) {
    return { method: 'client_secret_post', clientId: params.client_id, secret: params.client_secret, viaBasic: false };
  }
  return { method: 'none', clientId: params.client_id, viaBasic: false };
}

@Injectable()
export class ClientAuthenticationService {
  private readonly remoteKeySets = new Map<string, JWTVerifyGetKey>();
  private readonly secrets = new SecretVerifier();

  constructor(
    private readonly clients: ClientsService,
    private readonly config: ConfigService,
    private readonly assertions: ClientAssertionsRepository,
    private readonly fetcher: ServerFetcher,
    private readonly logger: AppLogger,
  ) {}

  /**
   * Authenticates the calling client. Every failure is the same invalid_client
   * (401; with a Basic challenge when Basic was tried), so callers cannot tell
   * an unknown client from a wrong secret.
   */
  async authenticate(req: HttpRequest, params: Record<string, string>, allowPublic: boolean): Promise<ClientEntity> {
    const presented = presentedCredentials(req, params);
    const fail = (why: string): never => {
      this.logger.info({ client_id: presented.clientId, method: presented.method, reason: why }, 'client authentication failed');
      throw new OAuthError('invalid_client', AUTHENTICATION_FAILED, {
        headers: presented.viaBasic ? { 'WWW-Authenticate': 'Basic realm="registrar", charset="UTF-8"' } : {},
      });
    };
    const client = await this.clients.findPresented(presented.clientId).catch((err: unknown) => {
      // A client described by a metadata document holds no secret, so Basic credentials fail as any wrong secret does (401).
      if (presented.viaBasic && err instanceof OAuthError && err.code === 'invalid_client') return fail(err.description ?? err.code);
      throw err;
    });
    if (presented.secret !== undefined && !(await this.matchesSecret(presented.secret, client))) {
      fail('unknown client, or a wrong or expired secret');
    }
    if (!client) return fail('unknown client or wrong secret');
    if (client.fields.token_endpoint_auth_method !== presented.method) {
      fail(`the client is registered for ${String(client.fields.token_endpoint_auth_method)}`);
    }
    if (presented.method === 'none' && !allowPublic) fail('public clients cannot use this endpoint');
    if (presented.assertion !== undefined) await this.verifyAssertion(client, presented.assertion, fail);
    if (isSuspended(client)) {
      // Told only to a caller that proved it is the client (or, for a public client, knows its id, which is no secret):
      // the reason to stop retrying (README "Operating a fleet of dynamic clients").
      this.logger.info({ client_id: client.id }, 'suspended client refused');
      throw new OAuthError('invalid_client', 'the client is suspended');
    }
    return client;
  }

  /**
   * Authenticates a private_key_jwt client at an endpoint of this server other
   * than the token endpoint (README "Re-registration and recovering a
   * registration access token"): the checks of RFC 7523 §3 as at the token
   * endpoint, the same jti record, and `endpoint` or the issuer as the
   * audience. Every failure is the same invalid_client; the reason is logged.
   */
  async verifyPrivateKeyJwt(client: ClientEntity, assertion: string, endpoint: string): Promise<void> {
    const fail = (why: string): never => {
      this.logger.info({ client_id: client.id, method: 'private_key_jwt', endpoint, reason: why }, 'client authentication failed');
      throw new OAuthError('invalid_client', AUTHENTICATION_FAILED);
    };
    if (client.fields.token_endpoint_auth_method !== 'private_key_jwt') {
      fail(`the client is registered for ${String(client.fields.token_endpoint_auth_method)}`);
    }
    await this.verifyAssertion(client, assertion, fail, [this.config.issuer(), endpoint]);
  }

  /**
   * Compares the secret with every secret of the client that is still valid
   * (the current one and those a rotation replaced, README "Rotating client
   * secrets"), each in constant time and all of them every time, so neither
   * the answer nor its timing tells which one matched.
   */
  private async matchesSecret(secret: string, client: ClientEntity | null): Promise<boolean> {
    const hashes = client ? usableSecrets(client).map((s) => s.hash) : [];
    // Unknown clients, and clients without a valid secret, cost one comparison like the others.
    const compared = hashes.length > 0 ? hashes : [DUMMY_HASH];
    const results = await Promise.all(compared.map((hash) => this.secrets.verify(secret, hash)));
    return hashes.length > 0 && results.includes(true);
  }

  /**
   * RFC 7523 §3 with Registrar's limits: iss = sub = client_id, aud names this
   * server, exp within 10 minutes, jti once. private_key_jwt assertions are
   * signed with a key of the client's JWKS; client_secret_jwt ones carry an
   * HMAC keyed with the client secret (OIDC Core §9).
   */
  private async verifyAssertion(client: ClientEntity, assertion: string, fail: (why: string) => never, audience?: string[]): Promise<void> {
    const issuer = this.config.issuer();
    const alg = client.fields.token_endpoint_auth_signing_alg as string | undefined;
    const hmac = client.fields.token_endpoint_auth_method === 'client_secret_jwt';
    const options: JWTVerifyOptions = {
      issuer: client.id,
      subject: client.id,
      audience: audience ?? [issuer, `${issuer}/oauth2/token`, `${issuer}/oauth2/introspect`, `${issuer}/oauth2/revoke`],
      algorithms: alg ? [alg] : hmac ? SECRET_SIGNING_ALGS : CLIENT_SIGNING_ALGS,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: 5,
    };
    let payload: JWTPayload;
    try {
      payload = hmac ? await this.verifyHmac(client, assertion, options) : (await jwtVerify(assertion, this.keySet(client), options)).payload;
    } catch (err) {
      return fail(`client_assertion rejected (${(err as { code?: string }).code ?? 'invalid'})`);
    }
    const now = Math.floor(Date.now() / 1000);
    if (payload.exp! > now + MAX_ASSERTION_LIFETIME_S) fail(`client_assertion exp is more than ${MAX_ASSERTION_LIFETIME_S} s ahead`);
    if (!(await this.assertions.recordJti(client.id, payload.jti!, payload.exp!))) fail('client_assertion jti was already used');
  }

  /**
   * Verifies a client_secret_jwt assertion with every secret of the client
   * that is still valid (during a rotation's overlap the previous one too),
   * trying all of them so the timing does not tell which one signed it.
   */
  private async verifyHmac(client: ClientEntity, assertion: string, options: JWTVerifyOptions): Promise<JWTPayload> {
    const secrets = this.config.systemSecrets();
    const keys = usableSecrets(client)
      .filter((s) => s.encrypted !== null)
      .map((s) => new TextEncoder().encode(decryptWithSecrets(s.encrypted!, secrets)));
    if (keys.length === 0) throw Object.assign(new Error('no client secret to verify with'), { code: 'ERR_NO_SECRET' });
    const outcomes = await Promise.allSettled(keys.map((key) => jwtVerify(assertion, key, options)));
    const verified = outcomes.find((o) => o.status === 'fulfilled');
    if (verified) return verified.value.payload;
    // A claim error (aud, exp) comes from the key that verified the signature; otherwise every key failed alike.
    const failures = outcomes.map((o) => (o as PromiseRejectedResult).reason as { code?: string });
    throw failures.find((f) => f.code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') ?? failures[0];
  }

  private keySet(client: ClientEntity): JWTVerifyGetKey {
    const jwks = client.fields.jwks as JSONWebKeySet | undefined;
    if (jwks) return createLocalJWKSet(jwks);
    const uri = client.fields.jwks_uri as string;
    let set = this.remoteKeySets.get(uri);
    if (!set) {
      if (this.remoteKeySets.size >= REMOTE_JWKS_CACHE) this.remoteKeySets.delete(this.remoteKeySets.keys().next().value!);
      // Fetched through the guarded fetcher: https only, bounded, never to private networks unless allowed.
      set = createRemoteJWKSet(new URL(uri), { [customFetch]: this.fetcher.asFetch() as never, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
      this.remoteKeySets.set(uri, set);
    }
    return set;
  }
}
