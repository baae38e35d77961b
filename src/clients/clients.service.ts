import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { OAuthError, clientMetadataError } from '../common/oauth-error.js';
import { hashClientSecret, randomToken } from '../common/secrets.js';
import { ACCESS_TOKEN_STRATEGIES, type AccessTokenStrategy } from '../config/schema.js';
import { CLIENT_FIELDS, type ClientFields } from './client-metadata.js';
import { usesClientSecret, validateClientMetadata, type ValidationOptions } from './client-validator.js';
import { ClientEntity, type CreatedVia } from './client.entity.js';
import { ClientsRepository } from './clients.repository.js';
import { applyJsonPatch } from './json-patch.js';

export interface CreateClientCommand {
  input: Record<string, unknown>;
  via: CreatedVia;
  validation: ValidationOptions;
  clientId?: string;
  /** An operator-chosen secret; otherwise one is generated when the auth method needs it. */
  clientSecret?: string;
  accessTokenStrategy?: AccessTokenStrategy | null;
  secretExpiresAt?: Date | null;
  /** Join the caller's transaction (the registration path counts an IAT use in the same one). */
  manager?: EntityManager;
}

export interface ClientWithSecret {
  client: ClientEntity;
  /** The plain secret, present only when it was just created or replaced. */
  secret?: string;
}

export interface ClientPage {
  items: ClientEntity[];
  nextPageToken?: string;
}

const CLIENT_ID = /^[A-Za-z0-9._~-]{1,255}$/;
const MIN_SECRET_LENGTH = 6;
const ADMIN_VALIDATION: ValidationOptions = { defaultScope: '', allowLocalhostRedirects: true };

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  return e?.code === '23505' || e?.driverError?.code === '23505';
}

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
  constructor(private readonly clients: ClientsRepository) {}

  async create(cmd: CreateClientCommand): Promise<ClientWithSecret> {
    const fields = validateClientMetadata(cmd.input, cmd.validation);
    const client = new ClientEntity();
    client.id = cmd.clientId ?? randomUUID();
    client.createdVia = cmd.via;
    client.accessTokenStrategy = cmd.accessTokenStrategy ?? null;
    client.fields = fields;
    client.secretExpiresAt = cmd.secretExpiresAt ?? null;
    const secret = await this.assignSecret(client, cmd.clientSecret);
    client.createdAt = client.updatedAt = new Date();
    try {
      await this.clients.insert(client, cmd.manager);
    } catch (err) {
      if (isUniqueViolation(err)) throw new OAuthError('conflict', `a client with client_id ${client.id} already exists`);
      throw err;
    }
    return { client, secret };
  }

  async get(id: string, manager?: EntityManager): Promise<ClientEntity> {
    const client = await this.clients.findById(id, manager);
    if (!client) throw new OAuthError('not_found', `client ${id} does not exist`);
    return client;
  }

  async list(query: { pageSize: number; pageToken?: string; clientName?: string; owner?: string }): Promise<ClientPage> {
    const after = query.pageToken === undefined ? undefined : decodePageToken(query.pageToken);
    const { items, more } = await this.clients.page({ ...query, after });
    return { items, nextPageToken: more ? encodePageToken(items[items.length - 1].id) : undefined };
  }

  /**
   * Replaces a client's metadata. The secret is kept unless a new one is given
   * (or the auth method stops using one); provenance never changes.
   */
  async replace(
    client: ClientEntity,
    input: Record<string, unknown>,
    options: { validation: ValidationOptions; clientSecret?: string; manager?: EntityManager },
  ): Promise<ClientWithSecret> {
    client.fields = validateClientMetadata(input, options.validation);
    const secret = await this.assignSecret(client, options.clientSecret);
    client.updatedAt = new Date();
    await this.clients.update(client, options.manager);
    return { client, secret };
  }

  async delete(id: string, manager?: EntityManager): Promise<void> {
    if (!(await this.clients.deleteById(id, manager))) throw new OAuthError('not_found', `client ${id} does not exist`);
  }

  // --- the admin door -------------------------------------------------------

  async adminCreate(input: Record<string, unknown>): Promise<ClientWithSecret> {
    const clientId = input.client_id;
    if (clientId !== undefined && clientId !== '' && (typeof clientId !== 'string' || !CLIENT_ID.test(clientId))) {
      throw clientMetadataError('client_id must be 1 to 255 characters of A-Z a-z 0-9 . _ ~ -');
    }
    return this.create({
      input,
      via: 'admin',
      validation: ADMIN_VALIDATION,
      clientId: clientId ? (clientId as string) : undefined,
      clientSecret: adminSecret(input),
      accessTokenStrategy: adminStrategy(input),
    });
  }

  async adminReplace(id: string, input: Record<string, unknown>): Promise<ClientWithSecret> {
    if (input.client_id !== undefined && input.client_id !== id) {
      throw new OAuthError('invalid_request', 'client_id in the body must equal the client_id in the path');
    }
    const client = await this.get(id);
    client.accessTokenStrategy = adminStrategy(input);
    return this.replace(client, input, { validation: ADMIN_VALIDATION, clientSecret: adminSecret(input) });
  }

  async adminPatch(id: string, operations: unknown): Promise<ClientWithSecret> {
    const client = await this.get(id);
    const patched = applyJsonPatch(adminView(client), operations) as Record<string, unknown>;
    if (patched === null || typeof patched !== 'object' || Array.isArray(patched)) {
      throw new OAuthError('invalid_request', 'JSON Patch: the result must be a client object');
    }
    if (patched.client_id !== id) throw new OAuthError('invalid_request', 'JSON Patch: client_id cannot be changed');
    return this.adminReplace(id, patched);
  }

  private async assignSecret(client: ClientEntity, chosen: string | undefined): Promise<string | undefined> {
    if (!usesClientSecret(client.fields)) {
      if (chosen !== undefined) {
        throw clientMetadataError(`client_secret cannot be used with token_endpoint_auth_method ${String(client.fields.token_endpoint_auth_method)}`);
      }
      client.secretHash = null;
      client.secretExpiresAt = null;
      return undefined;
    }
    if (chosen !== undefined) {
      client.secretHash = await hashClientSecret(chosen, false);
      return chosen;
    }
    if (client.secretHash) return undefined;
    const generated = randomToken(32);
    client.secretHash = await hashClientSecret(generated, true);
    return generated;
  }
}

export function encodePageToken(lastId: string): string {
  return Buffer.from(JSON.stringify({ after: lastId })).toString('base64url');
}

function decodePageToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // reported below
  }
  throw new OAuthError('invalid_request', 'page_token is not a token this server issued');
}

function epochSeconds(date: Date | null): number {
  return date ? Math.floor(date.getTime() / 1000) : 0;
}

/** Every field of a client, as the admin API shows it (Hydra's OAuth2Client shape). */
export function adminView(client: ClientEntity, secret?: string): Record<string, unknown> {
  const view: Record<string, unknown> = { client_id: client.id };
  if (secret !== undefined) view.client_secret = secret;
  Object.assign(view, client.fields);
  view.client_name ??= '';
  view.owner ??= '';
  view.client_id_issued_at = epochSeconds(client.createdAt);
  view.client_secret_expires_at = epochSeconds(client.secretExpiresAt);
  view.access_token_strategy = client.accessTokenStrategy ?? '';
  view.created_via = client.createdVia;
  view.created_at = client.createdAt.toISOString();
  view.updated_at = client.updatedAt.toISOString();
  return view;
}

/** The subset of a client's metadata a registrant may see (RFC 7591 §3.2.1, RFC 7592 §3). */
export function registrantView(fields: ClientFields): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([name]) => CLIENT_FIELDS[name.split('#')[0]]?.dcrVisible !== false));
}
