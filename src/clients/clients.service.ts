import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { OAuthError, clientMetadataError, redirectUriError } from '../common/oauth-error.js';
import { FetchBusyError, FetchError, ServerFetcher, tooManyFetches } from '../common/safe-fetch.js';
import type { PageRequest } from '../common/pagination.js';
import { encryptWithSecret, hashClientSecret, randomToken } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { isUniqueViolation } from '../database/db-errors.js';
import { Database } from '../database/database.js';
import { DatabaseEvents } from '../database/database-events.js';
import { AppLogger } from '../common/logging.js';
import type { AccessTokenStrategy } from '../config/schema.js';
import { strategyAtCreation } from './access-token-strategy.js';
import { rotatedAfterRotation } from './client-secrets.js';
import { adminClientView, registrationClientUri, type IssuedClient } from './client-views.js';
import { usesClientSecret, validateClientMetadata, type ValidationOptions } from './client-validator.js';
import { isSuspended } from './client-suspension.js';
import { ClientEntity } from './client.entity.js';
import type { ClientFilter } from './client-filter.js';
import { ClientsRepository } from './clients.repository.js';
import { MetadataDocumentClientsService, MetadataDocumentError } from './metadata-document-clients.service.js';

declare const validated: unique symbol;

/**
 * Client metadata that passed every check, the remote ones included. Only
 * ClientsService.validate makes one, so nothing is stored unchecked.
 */
export type ValidatedFields = Record<string, unknown> & { readonly [validated]: true };

/**
 * What the registration door decides for the clients it creates, handed to
 * the one create path (registrants choose none of it).
 */
export interface DcrClientTerms {
  /** The configured DCR access token strategy; undefined leaves the client on the global one. */
  accessTokenStrategy: AccessTokenStrategy | undefined;
  /** Seconds a client secret lives; undefined: it never expires. */
  secretLifetime: number | undefined;
}

export interface CreateClientCommand {
  fields: ValidatedFields;
  /** Present for clients created through dynamic registration; absent for the admin API's. */
  dcr?: DcrClientTerms;
  clientId?: string;
  /** An operator-chosen secret; otherwise one is generated when the auth method needs it. */
  clientSecret?: string;
  /** The admin's choice; ignored for DCR clients, whose strategy comes from their terms. */
  accessTokenStrategy?: AccessTokenStrategy | null;
  /** The RFC 7592 registration access token, as stored; absent when management is off. */
  registrationAccessToken?: { hash: string; expiresAt: Date | null };
  registrationPolicies?: string[];
  initialAccessTokenId?: string | null;
  /** The hash of the key a policy's reregistration rule recognises the registrant by, if one applied. */
  reregistrationKey?: string;
  /** The access token's client and subject that authorised the registration (README "Registering with an access token"). */
  registeredBy?: { clientId: string; subject: string };
  /** The verified software statement the client registered with (RFC 7591 §2.3), kept to re-check it later. */
  softwareStatement?: StatementProvenance;
  /**
   * Writes the new row; a plain insert by default. Registration passes one
   * that also counts the initial access token's use in the same statement.
   */
  store?: (client: ClientEntity) => Promise<void>;
}

/** Who signed a client's software statement and until when it is valid. */
export interface StatementProvenance {
  issuer: string;
  expiresAt: Date | null;
}

export interface ReplaceOptions {
  clientSecret?: string;
  /**
   * The current secret as the caller presented it (and the caller verified):
   * a client switching to client_secret_jwt keeps it, encrypted, instead of getting a new one.
   */
  presentedSecret?: string;
  /** Seconds a new client secret lives; undefined: it never expires. */
  secretLifetime?: number;
  /** Fields the caller carries over from the stored client. */
  keep?: Record<string, unknown>;
}

export interface RotateOptions {
  /** Seconds the replaced secret keeps authenticating; 0: it stops at once. */
  overlap: number;
  /** Seconds the new secret lives; undefined: it never expires. */
  secretLifetime?: number;
}

/** HMAC keys guessable offline from one captured assertion are refused: at least 256 bits of a random-looking string. */
const MIN_HMAC_SECRET_LENGTH = 32;

const CLIENT_CHANGED = 'client-changed';
const CLIENT_CACHE_MS = 30_000;
const CLIENT_CACHE_MAX = 10_000;

/**
 * The one create/update path for clients. The admin door (AdminClientsService)
 * and the registration door each apply their own rules first, then call it.
 */
@Injectable()
export class ClientsService {
  /**
   * Clients read on the hot paths (token, introspection, RFC 7592), by id.
   * Every change drops the entry here and, through NOTIFY, in every other
   * instance; CLIENT_CACHE_MS bounds staleness should a notification be lost.
   */
  private readonly cache = new Map<string, { client: ClientEntity; loadedAt: number }>();
  /** Bumped by every invalidation, so a read that raced one is not cached. */
  private generation = 0;

  constructor(
    private readonly clients: ClientsRepository,
    private readonly config: ConfigService,
    private readonly fetcher: ServerFetcher,
    private readonly events: DatabaseEvents,
    private readonly logger: AppLogger,
    private readonly documents: MetadataDocumentClientsService,
    private readonly database: Database,
  ) {
    events.subscribe(CLIENT_CHANGED, (id) => {
      this.generation += 1;
      if (id === undefined) this.cache.clear();
      else this.cache.delete(id);
    });
  }

  /**
   * Forgets a changed or deleted client here and in every other instance, once
   * the change committed (at once outside a transaction). The change stands even if the signal cannot
   * be sent (the other instances' entries then expire within CLIENT_CACHE_MS).
   */
  invalidate(id: string): Promise<void> {
    return this.database.afterCommit(() => this.forget(id));
  }

  private async forget(id: string): Promise<void> {
    this.generation += 1;
    this.cache.delete(id);
    await this.events.publish(CLIENT_CHANGED, id).catch((err: Error) => {
      this.logger.warn({ client_id: id, error: err.message }, 'could not signal a client change to other instances');
    });
  }

  /** Forgets every cached client here and in every other instance, after a change to many (a bulk action). */
  async invalidateAll(): Promise<void> {
    this.generation += 1;
    this.cache.clear();
    await this.events.publish(CLIENT_CHANGED).catch((err: Error) => {
      this.logger.warn({ error: err.message }, 'could not signal a client change to other instances');
    });
  }

  /**
   * Validates metadata and applies defaults, fetching what the checks need.
   * Call it before opening a transaction: a fetch may take fetch.timeout, and
   * a transaction holds a pooled connection (the only one, on the embedded
   * database) and its row locks all along.
   */
  async validate(input: Record<string, unknown>, validation: ValidationOptions): Promise<ValidatedFields> {
    const fields = validateClientMetadata(input, validation);
    await this.validateRemote(fields);
    return fields as ValidatedFields;
  }

  /** Validation that needs the network: a sector_identifier_uri must list every redirect URI (OIDC Registration §5). */
  private async validateRemote(fields: Record<string, unknown>): Promise<void> {
    const uri = fields.sector_identifier_uri;
    if (typeof uri !== 'string') return;
    let listed: unknown;
    try {
      listed = await this.fetcher.fetchJson(uri);
    } catch (err) {
      if (err instanceof FetchBusyError) throw tooManyFetches(err);
      if (!(err instanceof FetchError)) throw err;
      // The detail (DNS answers, refused addresses, statuses) stays in the log: told to a
      // registrant, it would make the server a probe of networks it can reach.
      this.logger.info({ sector_identifier_uri: uri, error: err.message }, 'sector_identifier_uri fetch failed');
      throw clientMetadataError(
        'sector_identifier_uri could not be fetched: it must be a public https URL that answers 200 with a JSON array, within the size and time limits',
      );
    }
    if (!Array.isArray(listed) || !listed.every((u) => typeof u === 'string')) {
      throw clientMetadataError('sector_identifier_uri must return a JSON array of redirect URIs');
    }
    const missing = (fields.redirect_uris as string[]).filter((u) => !listed.includes(u));
    if (missing.length > 0) throw redirectUriError(`redirect URIs not listed at sector_identifier_uri: ${missing.join(', ')}`);
  }

  /** Stores a client from validated metadata; nothing here leaves the database. */
  async create(cmd: CreateClientCommand): Promise<IssuedClient> {
    const client = new ClientEntity();
    client.id = cmd.clientId ?? randomUUID();
    client.createdVia = cmd.dcr ? 'dcr' : 'admin';
    client.accessTokenStrategy = strategyAtCreation(client.createdVia, cmd.dcr?.accessTokenStrategy, cmd.accessTokenStrategy ?? null);
    client.fields = cmd.fields;
    client.secretExpiresAt = null;
    client.secretCreatedAt = null;
    client.secretEncrypted = null;
    client.rotatedSecrets = [];
    client.registrationPolicies = cmd.registrationPolicies ?? [];
    client.initialAccessTokenId = cmd.initialAccessTokenId ?? null;
    client.registeredByClientId = cmd.registeredBy?.clientId ?? null;
    client.registeredBySubject = cmd.registeredBy?.subject ?? null;
    client.lastUsedAt = null;
    client.reregistrationKey = cmd.reregistrationKey ?? null;
    client.suspendedAt = client.suspendedReason = client.tokensRevokedAt = null;
    client.softwareStatementIssuer = cmd.softwareStatement?.issuer ?? null;
    client.softwareStatementExpiresAt = cmd.softwareStatement?.expiresAt ?? null;
    const secret = await this.assignSecret(client, cmd.clientSecret, cmd.dcr?.secretLifetime);
    client.ratHash = cmd.registrationAccessToken?.hash ?? null;
    client.ratExpiresAt = cmd.registrationAccessToken?.expiresAt ?? null;
    client.createdAt = client.updatedAt = new Date();
    if (client.secretHash) client.secretCreatedAt = client.createdAt;
    try {
      await (cmd.store ?? ((c: ClientEntity) => this.clients.insert(c)))(client);
    } catch (err) {
      if (isUniqueViolation(err)) throw new OAuthError('conflict', `a client with client_id ${client.id} already exists`);
      throw err;
    }
    return { client, secret };
  }

  /**
   * A client by id, from the cache when fresh; callers must not modify it. A
   * stored client wins; otherwise an https client_id may name a client
   * described by its metadata document (README, "Client ID Metadata
   * Documents"), and one whose document cannot be used is not found.
   */
  async find(id: string): Promise<ClientEntity | null> {
    return (
      (await this.findStored(id)) ??
      this.documents.resolve(id).catch((err: unknown) => {
        if (err instanceof MetadataDocumentError) return null;
        throw err;
      })
    );
  }

  /**
   * `find` for where a client presents its client_id (the authorization
   * endpoint, client authentication): a metadata document that cannot be used
   * throws invalid_client saying why.
   */
  async findPresented(id: string): Promise<ClientEntity | null> {
    return (await this.findStored(id)) ?? this.documents.resolve(id);
  }

  /**
   * Whether a stored client is suspended, from the cache when fresh (README
   * "Operating a fleet of dynamic clients"); a client described by a metadata
   * document, or one that does not exist, is not.
   */
  async suspended(id: string): Promise<boolean> {
    return isSuspended(await this.findStored(id));
  }

  /**
   * A stored client by id, from the cache when fresh (callers must not modify
   * it); null for one that does not exist or is described by a metadata document.
   */
  stored(id: string): Promise<ClientEntity | null> {
    return this.findStored(id);
  }

  private async findStored(id: string): Promise<ClientEntity | null> {
    // Without a live notification channel another instance's change could go unseen: read through.
    const cacheable = this.events.live;
    const hit = cacheable ? this.cache.get(id) : undefined;
    if (hit && Date.now() - hit.loadedAt < CLIENT_CACHE_MS) return hit.client;
    const generation = this.generation;
    const client = await this.clients.findById(id);
    if (client && cacheable && generation === this.generation) {
      if (this.cache.size >= CLIENT_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(id, { client, loadedAt: Date.now() });
    }
    return client;
  }

  /** Reads a client and holds its row lock until the ambient transaction ends. */
  lockForUpdate(id: string): Promise<ClientEntity | null> {
    return this.clients.findByIdForUpdate(id);
  }

  async get(id: string): Promise<ClientEntity> {
    const client = await this.clients.findById(id);
    if (!client) throw new OAuthError('not_found', `client ${id} does not exist`);
    return client;
  }

  /** One page of clients plus one extra row, which tells the caller whether more follow. */
  list(page: PageRequest, filter: ClientFilter): Promise<ClientEntity[]> {
    return this.clients.page(page, filter);
  }

  /**
   * Replaces a client's metadata with validated fields (plus `keep`). The
   * secret is kept unless a new one is given (or the auth method stops using
   * one); provenance, strategy and the registration access token are not
   * touched here. The caller calls invalidate once the change committed.
   */
  async replace(client: ClientEntity, fields: ValidatedFields, options: ReplaceOptions = {}): Promise<IssuedClient> {
    client.fields = { ...fields, ...options.keep };
    const before = secretState(client);
    const secret = await this.assignSecret(client, options.clientSecret, options.secretLifetime, options.presentedSecret);
    client.updatedAt = new Date();
    await this.clients.updateMetadata(client, secretState(client) !== before);
    return { client, secret };
  }

  /**
   * Issues a new secret for a client whose row the caller locked (in its
   * transaction); the current one joins the rotated secrets for the overlap.
   * Two rotations at once take turns on the row lock, so each sees what the
   * other left. The caller calls invalidate once the change committed.
   */
  async rotateSecret(client: ClientEntity, options: RotateOptions): Promise<IssuedClient> {
    this.assertRotatable(client);
    client.rotatedSecrets = rotatedAfterRotation(client, options.overlap);
    const secret = randomToken(32);
    await this.setSecret(client, secret, true, options.secretLifetime);
    client.updatedAt = new Date();
    await this.clients.updateSecrets(client);
    return { client, secret };
  }

  /** Ends every rotated secret at once (Hydra's DELETE .../secrets/rotate); the current one stays. */
  async dropRotatedSecrets(client: ClientEntity): Promise<IssuedClient> {
    this.assertRotatable(client);
    client.rotatedSecrets = [];
    client.updatedAt = new Date();
    await this.clients.updateSecrets(client);
    return { client };
  }

  private assertRotatable(client: ClientEntity): void {
    if (!usesClientSecret(client.fields)) {
      throw new OAuthError(
        'invalid_request',
        `client ${client.id} authenticates with token_endpoint_auth_method ${String(client.fields.token_endpoint_auth_method)}, which uses no client secret: there is no secret to rotate`,
      );
    }
  }

  /** Records the client's software statement after an RFC 7592 update, inside its transaction. */
  async setSoftwareStatement(client: ClientEntity, statement: StatementProvenance | undefined): Promise<void> {
    client.softwareStatementIssuer = statement?.issuer ?? null;
    client.softwareStatementExpiresAt = statement?.expiresAt ?? null;
    await this.clients.setSoftwareStatement(client.id, client.softwareStatementIssuer, client.softwareStatementExpiresAt);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.clients.deleteById(id))) throw new OAuthError('not_found', `client ${id} does not exist`);
    await this.invalidate(id);
  }

  /** Every field of a client, as the admin API (and the login and consent apps) see it. */
  adminView(issued: IssuedClient): Record<string, unknown> {
    return adminClientView(issued, registrationClientUri(this.config.issuer(), issued.client));
  }

  /**
   * Decides the secret after an update. A new secret (chosen, or generated when
   * the client has none) replaces every rotated one, as in Hydra. A client on
   * client_secret_jwt needs its secret itself: when it switches to that method
   * it keeps the secret it presented, or else gets a new one (returned).
   */
  private async assignSecret(
    client: ClientEntity,
    chosen: string | undefined,
    lifetime: number | undefined,
    presented?: string,
  ): Promise<string | undefined> {
    if (!usesClientSecret(client.fields)) {
      if (chosen !== undefined) {
        throw clientMetadataError(
          `client_secret cannot be used with token_endpoint_auth_method ${String(client.fields.token_endpoint_auth_method)}`,
        );
      }
      client.secretHash = null;
      client.secretExpiresAt = null;
      client.secretCreatedAt = null;
      client.secretEncrypted = null;
      client.rotatedSecrets = [];
      return undefined;
    }
    const hmac = client.fields.token_endpoint_auth_method === 'client_secret_jwt';
    if (chosen !== undefined) {
      if (hmac && chosen.length < MIN_HMAC_SECRET_LENGTH) {
        throw clientMetadataError(`client_secret must have at least ${MIN_HMAC_SECRET_LENGTH} characters for client_secret_jwt`);
      }
      await this.setSecret(client, chosen, false, lifetime);
      client.rotatedSecrets = [];
      return chosen;
    }
    if (client.secretHash) {
      if (!hmac) {
        // Not on client_secret_jwt (any more): no secret is kept other than as a hash.
        client.secretEncrypted = null;
        client.rotatedSecrets = (client.rotatedSecrets ?? []).map(({ encrypted: _dropped, ...rest }) => rest);
        return undefined;
      }
      if (client.secretEncrypted) return undefined;
      if (presented !== undefined && presented.length >= MIN_HMAC_SECRET_LENGTH) {
        client.secretEncrypted = this.encrypt(presented);
        return undefined;
      }
    }
    const generated = randomToken(32);
    await this.setSecret(client, generated, true, lifetime);
    client.rotatedSecrets = [];
    return generated;
  }

  /** Makes `secret` the current one: its hash, its issue and expiry times and, for client_secret_jwt, its ciphertext. */
  private async setSecret(client: ClientEntity, secret: string, generated: boolean, lifetime: number | undefined): Promise<void> {
    client.secretHash = await hashClientSecret(secret, generated);
    client.secretCreatedAt = new Date();
    client.secretExpiresAt = lifetime ? new Date(Date.now() + lifetime * 1000) : null;
    client.secretEncrypted = client.fields.token_endpoint_auth_method === 'client_secret_jwt' ? this.encrypt(secret) : null;
  }

  private encrypt(secret: string): string {
    return encryptWithSecret(secret, this.config.systemSecrets()[0]);
  }
}

/** Everything stored about a client's secrets, to tell whether an update changed them. */
function secretState(client: ClientEntity): string {
  return JSON.stringify([client.secretHash, client.secretExpiresAt, client.secretEncrypted, client.rotatedSecrets]);
}
