// Clients identified by an https URL whose Client ID Metadata Document
// (draft-ietf-oauth-client-id-metadata-document) describes them. The document
// is fetched through the guarded fetcher, checked like a registration (the
// metadata validator and the configured DCR policies), cached per HTTP caching,
// and never stored as a client (README, "Client ID Metadata Documents").
import { Injectable } from '@nestjs/common';
import { AppLogger } from '../common/logging.js';
import { OAuthError } from '../common/oauth-error.js';
import { FetchBusyError, FetchError, FetchTooLargeError, ServerFetcher, tooManyFetches, type FetchedResponse } from '../common/safe-fetch.js';
import { ConfigService } from '../config/config.service.js';
import { PoliciesService, type ResolvedPolicy } from '../policy/policies.service.js';
import {
  cacheLifetime,
  clientIdUrlProblem,
  documentProblem,
  hostAllowed,
  isJsonMediaType,
  looksLikeClientIdUrl,
} from './client-id-metadata-document.js';
import { validateClientMetadata, type ValidationOptions } from './client-validator.js';
import { ClientEntity } from './client.entity.js';
import { MetadataDocumentClientsRepository } from './metadata-document-clients.repository.js';

const CACHE_MAX = 1000;
const KEY_BASED_METHODS = ['none', 'private_key_jwt'];

/**
 * A client_id URL on an allowed host whose document cannot describe a client;
 * the description says why (RFC 6749 §5.2 allows 400 for invalid_client when
 * no Authorization header was used, and such a client has no secret to send in one).
 */
export class MetadataDocumentError extends OAuthError {
  constructor(url: string, reason: string) {
    super('invalid_client', `the client metadata document at ${url} ${reason}`, { status: 400 });
  }
}

@Injectable()
export class MetadataDocumentClientsService {
  /** Accepted documents' clients, until their cache lifetime ends. Failures are never cached (draft §5.2). */
  private readonly cache = new Map<string, { client: ClientEntity; expires: number }>();
  /** Fetches in progress, so that concurrent requests for one client_id share one. */
  private readonly pending = new Map<string, Promise<ClientEntity>>();

  constructor(
    private readonly config: ConfigService,
    private readonly fetcher: ServerFetcher,
    private readonly policies: PoliciesService,
    private readonly repository: MetadataDocumentClientsRepository,
    private readonly logger: AppLogger,
  ) {}

  /** Whether client_id URLs are accepted from any host, so discovery may say so. */
  enabled(): boolean {
    return this.config.get('oidc.client_id_metadata_document.enabled') && this.config.get('oidc.client_id_metadata_document.allowed_hosts').length > 0;
  }

  /**
   * The client a client_id URL names. Null, as for any unknown client_id,
   * while the feature is off, for ids that are not https URLs and for hosts
   * not allowed: nothing is fetched then. Throws MetadataDocumentError naming
   * what is wrong with a document from an allowed host.
   */
  async resolve(clientId: string): Promise<ClientEntity | null> {
    if (!this.enabled() || !looksLikeClientIdUrl(clientId)) return null;
    let host: string;
    try {
      host = new URL(clientId).hostname;
    } catch {
      return null;
    }
    if (!hostAllowed(host, this.config.get('oidc.client_id_metadata_document.allowed_hosts'))) {
      this.logger.info({ client_id: clientId }, 'client_id URL refused: its host is not in oidc.client_id_metadata_document.allowed_hosts');
      return null;
    }
    const problem = clientIdUrlProblem(clientId);
    if (problem) throw this.refuse(clientId, `cannot be used: the client_id URL ${problem}`);
    const hit = this.cache.get(clientId);
    if (hit && hit.expires > Date.now()) return hit.client;
    let pending = this.pending.get(clientId);
    if (!pending) {
      pending = this.load(clientId).finally(() => this.pending.delete(clientId));
      this.pending.set(clientId, pending);
    }
    return pending;
  }

  private async load(url: string): Promise<ClientEntity> {
    const response = await this.fetch(url);
    const fields = await this.validate(url, this.parse(url, response));
    const client = new ClientEntity();
    client.id = url;
    client.createdVia = 'metadata_document';
    // Self-described clients are third parties, as DCR clients are: the DCR format applies to them.
    client.accessTokenStrategy = this.config.dcrAccessTokenStrategy() ?? null;
    client.secretHash = null;
    client.secretExpiresAt = null;
    client.fields = fields;
    client.ratHash = null;
    client.ratExpiresAt = null;
    client.registrationPolicies = [...this.config.get('oidc.dynamic_client_registration.policies')];
    client.initialAccessTokenId = null;
    client.lastUsedAt = null;
    client.suspendedAt = client.suspendedReason = client.tokensRevokedAt = null;
    client.softwareStatementIssuer = client.softwareStatementExpiresAt = null;
    client.updatedAt = new Date();
    client.createdAt = await this.repository.recordFetch(url, client.updatedAt);
    const lifetime = cacheLifetime(response.headers, {
      minSeconds: this.config.get('oidc.client_id_metadata_document.cache.min_ttl'),
      maxSeconds: this.config.get('oidc.client_id_metadata_document.cache.max_ttl'),
    });
    if (lifetime > 0) {
      this.cache.delete(url);
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(url, { client, expires: Date.now() + lifetime * 1000 });
    }
    return client;
  }

  /** Draft §5: one GET, Accept: application/json, 200 only, no redirects followed, at most max_bytes. */
  private async fetch(url: string): Promise<FetchedResponse> {
    const maxBytes = this.config.get('oidc.client_id_metadata_document.max_bytes');
    let response: FetchedResponse;
    try {
      response = await this.fetcher.getResponse(url, 'application/json', maxBytes);
    } catch (err) {
      if (err instanceof FetchBusyError) throw tooManyFetches(err);
      if (err instanceof FetchTooLargeError) throw this.refuse(url, `is larger than ${maxBytes} bytes`);
      if (!(err instanceof FetchError)) throw err;
      // The detail (DNS answers, refused addresses, TLS errors) stays in the log.
      this.logger.info({ client_id: url, error: err.message }, 'client metadata document fetch failed');
      throw this.refuse(url, 'could not be fetched');
    }
    if (response.status >= 300 && response.status < 400) {
      throw this.refuse(url, `answered HTTP ${response.status}: redirects are not followed`);
    }
    if (response.status !== 200) throw this.refuse(url, `answered HTTP ${response.status} instead of 200`);
    return response;
  }

  private parse(url: string, response: FetchedResponse): Record<string, unknown> {
    const contentType = response.headers['content-type'] as string | undefined;
    if (!isJsonMediaType(contentType)) {
      throw this.refuse(url, `has content type ${JSON.stringify(contentType ?? '')} instead of application/json`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(response.body.toString('utf8'));
    } catch {
      throw this.refuse(url, 'is not valid JSON');
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw this.refuse(url, 'is not a JSON object');
    return doc as Record<string, unknown>;
  }

  /**
   * The document's own rules, then what a registration goes through: the
   * policies of oidc.dynamic_client_registration.policies (an initial access
   * token names none here) and the metadata validator with the DCR limits.
   */
  private async validate(url: string, doc: Record<string, unknown>): Promise<Record<string, unknown>> {
    const problem = documentProblem(doc, url);
    if (problem) throw this.refuse(url, problem);
    const { client_id: _, ...submitted } = doc;
    // RFC 7591's default, client_secret_basic, needs a secret a document cannot carry: none is the default here.
    submitted.token_endpoint_auth_method ??= 'none';
    const policies = await this.policies.forRequest([], 'fail');
    let fields: Record<string, unknown>;
    try {
      fields = validateClientMetadata(await this.policies.apply(policies, submitted), this.validation(policies));
    } catch (err) {
      if (!(err instanceof OAuthError) || err.status >= 500) throw err;
      throw this.refuse(url, `is not acceptable client metadata: ${err.description ?? err.code}`);
    }
    if (!KEY_BASED_METHODS.includes(fields.token_endpoint_auth_method as string)) {
      throw this.refuse(url, `would use token_endpoint_auth_method ${String(fields.token_endpoint_auth_method)}; only none and private_key_jwt are allowed`);
    }
    return fields;
  }

  /** The limits a registration has (RegistrationService.validation), for a client that has no stored audiences. */
  private validation(policies: readonly ResolvedPolicy[]): ValidationOptions {
    const policyDecides = policies.some((p) => p.allowedAudiences !== undefined);
    return {
      defaultScope: this.config.get('oidc.dynamic_client_registration.default_scope').join(' '),
      allowLocalhostRedirects: this.config.get('oidc.dynamic_client_registration.allow_localhost_redirects'),
      allowedScopes: this.config.get('oidc.dynamic_client_registration.allowed_scopes'),
      allowedAudiences: policyDecides ? undefined : (this.config.get('oidc.dynamic_client_registration.allowed_audiences') ?? []),
    };
  }

  private refuse(url: string, reason: string): MetadataDocumentError {
    const err = new MetadataDocumentError(url, reason);
    this.logger.info({ client_id: url, reason }, 'client metadata document refused');
    return err;
  }
}
