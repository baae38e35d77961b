import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { invalidBearer } from '../common/bearer.js';
import { OAuthError, clientMetadataError, redirectUriError } from '../common/oauth-error.js';
import { FetchBusyError, FetchError, ServerFetcher, tooManyFetches } from '../common/safe-fetch.js';
import type { PageRequest } from '../common/pagination.js';
import { hashClientSecret, randomToken, tokenHash } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { isUniqueViolation } from '../database/db-errors.js';
import { DatabaseEvents } from '../database/database-events.js';
import { AppLogger } from '../common/logging.js';
import { ACCESS_TOKEN_STRATEGIES, type AccessTokenStrategy } from '../config/schema.js';
import { strategyAtCreation } from './access-token-strategy.js';
import { fieldDef } from './client-metadata.js';
import { usesClientSecret, validateClientMetadata, type ValidationOptions } from './client-validator.js';
import { ClientEntity, type CreatedVia } from './client.entity.js';
import { ClientsRepository, type ClientFilter } from './clients.repository.js';
import { applyJsonPatch } from './json-patch.js';

declare const validated: unique symbol;

/**
 * Client metadata that passed every check, the remote ones included. Only
 * ClientsService.validate makes one, so nothing is stored unchecked.
 */
export type ValidatedFields = Record<string, unknown> & { readonly [validated]: true };

export interface CreateClientCommand {
  fields: ValidatedFields;
  via: CreatedVia;
  clientId?: string;
  /** An operator-chosen secret; otherwise one is generated when the auth method needs it. */
  clientSecret?: string;
  /** The admin's choice; ignored for DCR clients, whose strategy comes from configuration only. */
  accessTokenStrategy?: AccessTokenStrategy | null;
  registrationPolicies?: string[];
  initialAccessTokenId?: string | null;
  /** Join the caller's transaction (registration counts an IAT use in the same one). */
  manager?: EntityManager;
  /**
   * Count one use of this initial access token in the same statement as the
   * insert (no caller transaction needed); a used-up or expired token stores nothing.
   */
  consumeIatId?: string;
}

/** A client together with the credentials that exist in plain text only in this response. */
export interface IssuedClient {
  client: ClientEntity;
  secret?: string;
  registrationAccessToken?: string;
}

const CLIENT_ID = /^[A-Za-z0-9._~-]{1,255}$/;
const TOUCH_INTERVAL_S = 3600;
const CLIENT_CHANGED = 'client-changed';
const CLIENT_CACHE_MS = 30_000;
const CLIENT_CACHE_MAX = 10_000;
const MIN_SECRET_LENGTH = 6;
const ADMIN_VALIDATION: ValidationOptions = { defaultScope: '', allowLocalhostRedirects: true };


/** Reads `access_token_strategy` from an admin body: a strategy, or null to clear it. */
function adminStrategy(input: Record<string, unknown>): AccessTokenStrategy | null {
  const value = input.access_token_strategy;
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string' && (ACCESS_TOKEN_STRATEGIES as readonly string[]).includes(value)) {
    return value as AccessTokenStrategy;
  }
  throw clientMetadataError(`access_token_strategy must be one of ${ACCESS_TOKEN_STRATEGIES.join(', ')}, or empty`);
}

function adminSecret(input: Record<string, unknown>): string | undefined {
  const value = input.client_secret;
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH || value.length > 512) {
    throw clientMetadataError(`client_secret must be a string of ${MIN_SECRET_LENGTH} to 512 characters`);
  }
  return value;
}


/**
 * The one create/update path for clients. The admin API calls it directly; the
 * registration module applies its own restrictions first and then calls it too.
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
  ) {
    events.subscribe(CLIENT_CHANGED, (id) => {
      this.generation += 1;
      if (id === undefined) this.cache.clear();
      else this.cache.delete(id);
    });
  }

  /**
   * Forgets a changed or deleted client here and in every other instance; call
   * it after the change committed. The change stands even if the signal cannot
   * be sent (the other instances' entries then expire within CLIENT_CACHE_MS).
   */
  async invalidate(id: string): Promise<void> {
    this.generation += 1;
    this.cache.delete(id);
    await this.events.publish(CLIENT_CHANGED, id).catch((err: Error) => {
      this.logger.warn({ client_id: id, error: err.message }, 'could not signal a client change to other instances');
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
    client.createdVia = cmd.via;
    client.accessTokenStrategy = strategyAtCreation(cmd.via, this.config.dcrAccessTokenStrategy(), cmd.accessTokenStrategy ?? null);
    client.fields = cmd.fields;
    client.secretExpiresAt = null;
    client.registrationPolicies = cmd.registrationPolicies ?? [];
    client.initialAccessTokenId = cmd.initialAccessTokenId ?? null;
    client.lastUsedAt = null;
    const secret = await this.assignSecret(client, cmd.clientSecret);
    const rat = this.newRegistrationToken();
    client.ratHash = rat?.hash ?? null;
    client.ratExpiresAt = rat?.expiresAt ?? null;
    client.createdAt = client.updatedAt = new Date();
    try {
      if (cmd.consumeIatId === undefined) await this.clients.insert(client, cmd.manager);
      else if (!(await this.clients.insertConsumingIatUse(client, cmd.consumeIatId))) {
        throw invalidBearer(true, 'the initial access token is unknown, expired, revoked or used up');
      }
    } catch (err) {
      if (isUniqueViolation(err)) throw new OAuthError('conflict', `a client with client_id ${client.id} already exists`);
      throw err;
    }
    return { client, secret, registrationAccessToken: rat?.token };
  }

  /** A client by id, from the cache when fresh; callers must not modify it. */
  async find(id: string): Promise<ClientEntity | null> {
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

  /**
   * Records that a DCR client was used (a token, a management call), for
   * inactive_client_ttl; written at most once an hour per client.
   */
  async touch(client: ClientEntity): Promise<void> {
    const ttl = this.config.get('oidc.dynamic_client_registration.inactive_client_ttl');
    if (client.createdVia !== 'dcr' || !ttl) return;
    // Often enough that a client in use never looks inactive, rarely enough to cost nothing.
    const interval = Math.min(TOUCH_INTERVAL_S, Math.floor(ttl / 4));
    if (client.lastUsedAt && Date.now() - client.lastUsedAt.getTime() < interval * 1000) return;
    await this.clients.touch(client.id, interval);
    client.lastUsedAt = new Date();
  }

  /** Reads a client and holds its row lock until the caller's transaction ends. */
  lockForUpdate(id: string, manager: EntityManager): Promise<ClientEntity | null> {
    return this.clients.findByIdForUpdate(id, manager);
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
   * Replaces a client's metadata with validated fields (plus `keep`, fields the
   * caller carries over from the stored client). The secret is kept unless a
   * new one is given (or the auth method stops using one); provenance,
   * strategy and the registration access token are not touched here.
   */
  async replace(
    client: ClientEntity,
    fields: ValidatedFields,
    options: { clientSecret?: string; manager?: EntityManager; keep?: Record<string, unknown> } = {},
  ): Promise<IssuedClient> {
    client.fields = { ...fields, ...options.keep };
    const secret = await this.assignSecret(client, options.clientSecret);
    client.updatedAt = new Date();
    await this.clients.updateMetadata(client, options.manager);
    // Inside a caller's transaction, the caller invalidates once it committed.
    if (!options.manager) await this.invalidate(client.id);
    return { client, secret };
  }

  async delete(id: string): Promise<void> {
    if (!(await this.clients.deleteById(id))) throw new OAuthError('not_found', `client ${id} does not exist`);
    await this.invalidate(id);
  }

  /**
   * Replaces the registration access token, provided it is still `expectedHash`;
   * returns the new token, or undefined when rotation is off.
   */
  async rotateRegistrationToken(client: ClientEntity, expectedHash: string, manager: EntityManager): Promise<string | undefined> {
    if (!this.config.get('oidc.dynamic_client_registration.registration_access_token.rotate')) return undefined;
    const rat = this.newRegistrationToken();
    if (!rat) return undefined;
    if (!(await this.clients.rotateRegistrationToken(client.id, expectedHash, rat, manager))) {
      throw new OAuthError('invalid_token', 'the registration access token changed during the update');
    }
    client.ratHash = rat.hash;
    client.ratExpiresAt = rat.expiresAt;
    return rat.token;
  }

  /** Deletes a client if `ratHash` is still its registration access token; false otherwise. */
  async deleteWithRegistrationToken(id: string, ratHash: string): Promise<boolean> {
    const deleted = await this.clients.deleteByIdAndRegistrationToken(id, ratHash);
    if (deleted) await this.invalidate(id);
    return deleted;
  }

  /** A fresh registration access token, or undefined when RFC 7592 management is off. */
  newRegistrationToken(): { token: string; hash: string; expiresAt: Date | null } | undefined {
    if (!this.config.get('oidc.dynamic_client_registration.registration_access_token.enabled')) return undefined;
    const token = randomToken(32);
    const ttl = this.config.get('oidc.dynamic_client_registration.registration_access_token.ttl');
    return { token, hash: tokenHash(token), expiresAt: ttl ? new Date(Date.now() + ttl * 1000) : null };
  }

  // --- the admin door -------------------------------------------------------

  async adminCreate(input: Record<string, unknown>): Promise<IssuedClient> {
    const clientId = input.client_id;
    if (clientId !== undefined && clientId !== '' && (typeof clientId !== 'string' || !CLIENT_ID.test(clientId))) {
      throw clientMetadataError('client_id must be 1 to 255 characters of A-Z a-z 0-9 . _ ~ -');
    }
    const clientSecret = adminSecret(input);
    const accessTokenStrategy = adminStrategy(input);
    return this.create({
      fields: await this.validate(input, ADMIN_VALIDATION),
      via: 'admin',
      clientId: clientId ? (clientId as string) : undefined,
      clientSecret,
      accessTokenStrategy,
    });
  }

  async adminReplace(id: string, input: Record<string, unknown>): Promise<IssuedClient> {
    if (input.client_id !== undefined && input.client_id !== id) {
      throw new OAuthError('invalid_request', 'client_id in the body must equal the client_id in the path');
    }
    const client = await this.get(id);
    client.accessTokenStrategy = adminStrategy(input);
    const clientSecret = adminSecret(input);
    return this.replace(client, await this.validate(input, ADMIN_VALIDATION), { clientSecret });
  }

  async adminPatch(id: string, operations: unknown): Promise<IssuedClient> {
    const client = await this.get(id);
    const patched = applyJsonPatch(this.adminView({ client }), operations) as unknown;
    if (patched === null || typeof patched !== 'object' || Array.isArray(patched)) {
      throw new OAuthError('invalid_request', 'JSON Patch: the result must be a client object');
    }
    const body = patched as Record<string, unknown>;
    if (body.client_id !== id) throw new OAuthError('invalid_request', 'JSON Patch: client_id cannot be changed');
    return this.adminReplace(id, body);
  }

  private async assignSecret(client: ClientEntity, chosen: string | undefined): Promise<string | undefined> {
    if (!usesClientSecret(client.fields)) {
      if (chosen !== undefined) {
        throw clientMetadataError(
          `client_secret cannot be used with token_endpoint_auth_method ${String(client.fields.token_endpoint_auth_method)}`,
        );
      }
      client.secretHash = null;
      client.secretExpiresAt = null;
      return undefined;
    }
    if (chosen !== undefined) {
      client.secretHash = await hashClientSecret(chosen, false);
      client.secretExpiresAt = this.secretExpiry(client);
      return chosen;
    }
    if (client.secretHash) return undefined;
    const generated = randomToken(32);
    client.secretHash = await hashClientSecret(generated, true);
    client.secretExpiresAt = this.secretExpiry(client);
    return generated;
  }

  /** When a new secret of this client expires: DCR clients follow client_secret.expires_in; others never. */
  private secretExpiry(client: ClientEntity): Date | null {
    const expiresIn = this.config.get('oidc.dynamic_client_registration.client_secret.expires_in');
    return client.createdVia === 'dcr' && expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
  }

  // --- views ----------------------------------------------------------------

  registrationClientUri(id: string): string {
    return `${this.config.issuer()}/oauth2/register/${encodeURIComponent(id)}`;
  }

  /** Every field of a client, as the admin API shows it (Hydra's OAuth2Client shape). */
  adminView(issued: IssuedClient): Record<string, unknown> {
    const { client } = issued;
    const view = this.baseView(issued, client.fields);
    view.client_name ??= '';
    view.owner ??= '';
    view.access_token_strategy = client.accessTokenStrategy ?? '';
    view.created_via = client.createdVia;
    view.created_at = client.createdAt.toISOString();
    view.updated_at = client.updatedAt.toISOString();
    return view;
  }

  /** What a registrant sees (RFC 7591 §3.2.1, RFC 7592 §3): no metadata, no strategy, no stored secret. */
  registrantView(issued: IssuedClient): Record<string, unknown> {
    const visible = Object.entries(issued.client.fields).filter(([name]) => fieldDef(name)?.dcrVisible !== false);
    return this.baseView(issued, Object.fromEntries(visible));
  }

  private baseView(issued: IssuedClient, fields: Record<string, unknown>): Record<string, unknown> {
    const { client, secret, registrationAccessToken } = issued;
    const view: Record<string, unknown> = { client_id: client.id };
    if (secret !== undefined) view.client_secret = secret;
    Object.assign(view, fields);
    view.client_id_issued_at = epochSeconds(client.createdAt);
    view.client_secret_expires_at = epochSeconds(client.secretExpiresAt);
    if (registrationAccessToken !== undefined) view.registration_access_token = registrationAccessToken;
    if (client.ratHash !== null) view.registration_client_uri = this.registrationClientUri(client.id);
    return view;
  }
}

function epochSeconds(date: Date | null): number {
  return date ? Math.floor(date.getTime() / 1000) : 0;
}
