// Recovering a lost registration access token (an RFC 7592 extension, README
// "Re-registration and recovering a registration access token"): a client that
// authenticates with private_key_jwt proves itself with a client assertion
// (RFC 7523 §2.2) and gets a new token; the previous one stops working.
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { registrantClientView } from '../clients/client-views.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientActivityService } from '../clients/client-activity.service.js';
import { ClientsService } from '../clients/clients.service.js';
import { AppLogger } from '../common/logging.js';
import { OAuthError } from '../common/oauth-error.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { ClientAuthenticationService, JWT_BEARER_ASSERTION } from '../tokens/client-authentication.service.js';
import { RegistrationAccessTokensService } from './registration-access-tokens.service.js';

/** The parameters the recovery request takes; any other is refused, naming it. */
const PARAMETERS = ['client_assertion_type', 'client_assertion', 'client_id'];
const MAX_ASSERTION = 16_384;
/** The same answer for every failure, as at the token endpoint (README "Securing open registration"). */
const AUTHENTICATION_FAILED = 'client authentication failed';

export const RECOVERY_PATH = 'registration-access-token';

@Injectable()
export class RegistrationAccessTokenRecoveryService {
  constructor(
    private readonly database: Database,
    private readonly clients: ClientsService,
    private readonly authentication: ClientAuthenticationService,
    private readonly tokens: RegistrationAccessTokensService,
    private readonly activity: ClientActivityService,
    private readonly config: ConfigService,
    private readonly logger: AppLogger,
    private readonly audit: AuditService,
  ) {}

  /** Served while registration access tokens are issued and recovery is not turned off. */
  enabled(): boolean {
    return this.tokens.enabled() && this.config.get('oidc.dynamic_client_registration.registration_access_token.recovery');
  }

  /**
   * Checks the request's form parameters, authenticates the client named in
   * the path by its assertion, and gives it a new registration access token.
   * Answers as an RFC 7592 read, plus the new token.
   */
  async recover(clientId: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    const assertion = this.assertionOf(clientId, params);
    const fail = (why: string): never => {
      this.logger.info({ client_id: clientId, reason: why }, 'registration access token recovery refused');
      throw new OAuthError('invalid_client', AUTHENTICATION_FAILED);
    };
    // A NUL or broken UTF-8 names no client (and PostgreSQL refuses it in a query).
    if (clientId.includes('\u0000') || !clientId.isWellFormed()) fail('malformed client_id');
    const client = await this.clients.get(clientId).catch((err: unknown) => {
      if (err instanceof OAuthError && err.code === 'not_found') return fail('unknown client');
      throw err;
    });
    // Clients an operator created keep their registration access token the operator's to hand over.
    if (client.createdVia !== 'dcr') fail(`the client was created through ${client.createdVia}, not dynamic registration`);
    // Verification may fetch the client's jwks_uri, so it runs before the transaction; it records the jti.
    await this.authentication.verifyPrivateKeyJwt(client, assertion, this.endpoint(clientId));
    const next = this.tokens.mint()!;
    const response = await this.database.transaction(async () => {
      const locked = await this.clients.lockForUpdate(clientId);
      // Keys or method changed (or the client went) between the check and the lock: the assertion proved nothing about the client now.
      if (!locked || !sameKeys(client, locked)) return fail('the client changed during the recovery');
      await this.tokens.reissue(locked, next);
      // The client proved itself with its own key (README "Audit events").
      await this.audit.record({ type: 'client.rat_recovered', clientId, actor: { type: 'client', client_id: clientId } });
      return registrantClientView({ client: locked, registrationAccessToken: next.token }, this.tokens.clientUri(locked));
    });
    await this.clients.invalidate(clientId);
    await this.activity.touch(client);
    return response;
  }

  /** The URL an assertion may name as its audience, besides the issuer. */
  endpoint(clientId: string): string {
    return `${this.config.issuer()}/oauth2/register/${encodeURIComponent(clientId)}/${RECOVERY_PATH}`;
  }

  private assertionOf(clientId: string, params: Record<string, string>): string {
    const unknown = Object.keys(params).filter((name) => !PARAMETERS.includes(name));
    if (unknown.length > 0) throw new OAuthError('invalid_request', `unknown parameter ${unknown.join(', ')}; this request takes client_assertion_type and client_assertion`);
    if (params.client_assertion_type !== JWT_BEARER_ASSERTION) {
      throw new OAuthError('invalid_request', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
    }
    const assertion = params.client_assertion;
    if (!assertion) throw new OAuthError('invalid_request', 'client_assertion is required');
    if (assertion.length > MAX_ASSERTION) throw new OAuthError('invalid_request', `client_assertion must be at most ${MAX_ASSERTION} characters`);
    if (params.client_id !== undefined && params.client_id !== clientId) {
      throw new OAuthError('invalid_request', 'client_id differs from the client_id in the path');
    }
    return assertion;
  }
}

function sameKeys(checked: ClientEntity, locked: ClientEntity): boolean {
  const keys = (c: ClientEntity) => JSON.stringify([c.fields.token_endpoint_auth_method, c.fields.jwks ?? null, c.fields.jwks_uri ?? null]);
  return keys(checked) === keys(locked);
}
