// The admin door to the one create path: operator-only fields (client_id,
// client_secret, access_token_strategy) are read here, then ClientsService
// validates, stores and shows the client.
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { OAuthError, clientMetadataError } from '../common/oauth-error.js';
import { ConfigService } from '../config/config.service.js';
import { parseDuration } from '../config/parsers.js';
import { PoliciesService } from '../policy/policies.service.js';
import { Database } from '../database/database.js';
import { ACCESS_TOKEN_STRATEGIES, type AccessTokenStrategy } from '../config/schema.js';
import { mintRegistrationToken } from '../registration/registration-access-token.js';
import type { RotateClientSecretDto } from './client-secret-rotation.dto.js';
import type { ValidationOptions } from './client-validator.js';
import type { IssuedClient } from './client-views.js';
import { ClientsService } from './clients.service.js';
import { applyJsonPatch } from './json-patch.js';

const CLIENT_ID = /^[A-Za-z0-9._~-]{1,255}$/;
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

@Injectable()
export class AdminClientsService {
  constructor(
    private readonly clients: ClientsService,
    private readonly config: ConfigService,
    private readonly database: Database,
    private readonly policies: PoliciesService,
    private readonly audit: AuditService,
  ) {}

  async create(input: Record<string, unknown>): Promise<IssuedClient> {
    const clientId = input.client_id;
    if (clientId !== undefined && clientId !== '' && (typeof clientId !== 'string' || !CLIENT_ID.test(clientId))) {
      throw clientMetadataError('client_id must be 1 to 255 characters of A-Z a-z 0-9 . _ ~ -');
    }
    const clientSecret = adminSecret(input);
    const accessTokenStrategy = adminStrategy(input);
    const fields = await this.clients.validate(input, ADMIN_VALIDATION);
    await this.assertPoliciesExist(fields);
    // Clients the admin creates may be managed through RFC 7592 too.
    const rat = mintRegistrationToken(this.config.dcr().registrationAccessToken);
    const issued = await this.database.transaction(async () => {
      const created = await this.clients.create({
        fields,
        clientId: clientId ? (clientId as string) : undefined,
        clientSecret,
        accessTokenStrategy,
        registrationAccessToken: rat,
      });
      await this.audit.record({ type: 'admin.client.created', clientId: created.client.id });
      return created;
    });
    return { ...issued, registrationAccessToken: rat?.token };
  }

  async replace(id: string, input: Record<string, unknown>): Promise<IssuedClient> {
    if (input.client_id !== undefined && input.client_id !== id) {
      throw new OAuthError('invalid_request', 'client_id in the body must equal the client_id in the path');
    }
    const client = await this.clients.get(id);
    client.accessTokenStrategy = adminStrategy(input);
    const clientSecret = adminSecret(input);
    const fields = await this.clients.validate(input, ADMIN_VALIDATION);
    await this.assertPoliciesExist(fields);
    const secretLifetime = this.secretLifetime(client.createdVia);
    const issued = await this.database.transaction(async () => {
      const replaced = await this.clients.replace(client, fields, { clientSecret, secretLifetime });
      await this.audit.record({ type: 'admin.client.updated', clientId: id, details: { secret_issued: replaced.secret !== undefined } });
      return replaced;
    });
    await this.clients.invalidate(id);
    return issued;
  }

  /** RFC 6902 JSON Patch applied to the admin view, then replaced as a PUT would. */
  async patch(id: string, operations: unknown): Promise<IssuedClient> {
    const client = await this.clients.get(id);
    const patched = applyJsonPatch(this.clients.adminView({ client }), operations) as unknown;
    if (patched === null || typeof patched !== 'object' || Array.isArray(patched)) {
      throw new OAuthError('invalid_request', 'JSON Patch: the result must be a client object');
    }
    const body = patched as Record<string, unknown>;
    if (body.client_id !== id) throw new OAuthError('invalid_request', 'JSON Patch: client_id cannot be changed');
    return this.replace(id, body);
  }

  /**
   * Issues a new secret; the current one keeps authenticating for the overlap
   * (the body's previous_secret_expires_in, else oauth2.client_secret.rotation_overlap).
   */
  async rotateSecret(id: string, body: RotateClientSecretDto): Promise<IssuedClient> {
    const requested = body.previous_secret_expires_in;
    const overlap = requested === undefined ? this.config.get('oauth2.client_secret.rotation_overlap') : parseDuration(requested)!;
    const issued = await this.database.transaction(async () => {
      const client = await this.lockedClient(id);
      const rotated = await this.clients.rotateSecret(client, { overlap, secretLifetime: this.secretLifetime(client.createdVia) });
      await this.audit.record({ type: 'client.secret_rotated', clientId: id, details: { previous_secret_expires_in: overlap } });
      return rotated;
    });
    await this.clients.invalidate(id);
    return issued;
  }

  /** Ends every rotated secret at once; the current one stays. */
  async dropRotatedSecrets(id: string): Promise<IssuedClient> {
    const issued = await this.database.transaction(async () => {
      const dropped = await this.clients.dropRotatedSecrets(await this.lockedClient(id));
      await this.audit.record({ type: 'client.secret_rotated', clientId: id, details: { previous_secrets_ended: true } });
      return dropped;
    });
    await this.clients.invalidate(id);
    return issued;
  }

  async delete(id: string): Promise<void> {
    await this.database.transaction(async () => {
      await this.clients.delete(id);
      await this.audit.record({ type: 'admin.client.deleted', clientId: id });
    });
  }

  private async lockedClient(id: string) {
    const client = await this.clients.lockForUpdate(id);
    if (!client) throw new OAuthError('not_found', `client ${id} does not exist`);
    return client;
  }

  /** registered_client_policies names policies that exist (README "Registering with an access token"). */
  private async assertPoliciesExist(fields: Record<string, unknown>): Promise<void> {
    const names = fields.registered_client_policies;
    if (!Array.isArray(names) || names.length === 0) return;
    const missing = await this.policies.unknown(names as string[]);
    if (missing.length > 0) {
      throw clientMetadataError(`registered_client_policies names policies that do not exist: ${missing.map((n) => JSON.stringify(n)).join(', ')}`);
    }
  }

  /** A secret an operator gives a registered client lives as long as one the client got itself. */
  private secretLifetime(createdVia: string): number | undefined {
    return createdVia === 'dcr' ? this.config.get('oidc.dynamic_client_registration.client_secret.expires_in') : undefined;
  }
}
