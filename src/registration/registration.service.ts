import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { fieldDef, JWT_BEARER_GRANT, TOKEN_EXCHANGE_GRANT } from '../clients/client-metadata.js';
import type { ValidationOptions } from '../clients/client-validator.js';
import { registrantClientView, type IssuedClient } from '../clients/client-views.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { assertNotSuspended } from '../clients/client-suspension.js';
import { ClientsService, type CreateClientCommand, type StatementProvenance } from '../clients/clients.service.js';
import { MetricsService } from '../common/metrics.js';
import { OAuthError } from '../common/oauth-error.js';
import { verifyClientSecret } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import type { InitialAccessTokenEntity } from '../policy/initial-access-token.entity.js';
import { InitialAccessTokensService } from '../policy/initial-access-tokens.service.js';
import { PoliciesService, type ResolvedPolicy } from '../policy/policies.service.js';
import { AccessTokenRegistration, type TokenRegistrar } from './access-token-registration.js';
import { ReregistrationService } from './reregistration.service.js';
import { SoftwareStatementVerifier, type VerifiedStatement } from './software-statement.verifier.js';
import { assertRegistrantMaySet } from './registration-body.pipe.js';
import { RegistrationAccessTokensService } from './registration-access-tokens.service.js';
import { RegistrationWriter } from './registration-writer.js';

export type RegistrationResponse = Record<string, unknown>;

function withStatement(body: Record<string, unknown>, statement: VerifiedStatement): Record<string, unknown> {
  return { ...body, ...statement.claims, software_statement: body.software_statement };
}

/**
 * RFC 7591 registration and RFC 7592 management. Each operation reads as its
 * steps; the body has already passed RegistrationBodyPipe (no strategy,
 * operator-only or server-managed fields) and the caller's token its guard.
 */
@Injectable()
export class RegistrationService {
  constructor(
    private readonly database: Database,
    private readonly clients: ClientsService,
    private readonly tokens: RegistrationAccessTokensService,
    private readonly iats: InitialAccessTokensService,
    private readonly policies: PoliciesService,
    private readonly statements: SoftwareStatementVerifier,
    private readonly config: ConfigService,
    private readonly metrics: MetricsService,
    private readonly reregistrations: ReregistrationService,
    private readonly byAccessToken: AccessTokenRegistration,
    private readonly audit: AuditService,
    private readonly writer: RegistrationWriter,
  ) {}

  /**
   * `iat` or `registrar` (an access token's client and subject, README
   * "Registering with an access token") names the policies that apply after
   * the configured ones; with neither, registration is open.
   */
  async register(body: Record<string, unknown>, iat: InitialAccessTokenEntity | undefined, registrar?: TokenRegistrar): Promise<RegistrationResponse> {
    const { submitted, statement } = await this.applySoftwareStatement(body);
    const own = iat?.policies ?? registrar?.policies ?? [];
    const policies = await this.policies.forRequest(own, 'fail');
    const reregistration = this.reregistrations.ruleOf(policies);
    // A used-up token creates nothing more; it may still re-register the clients it created.
    if (iat && !reregistration) this.iats.assertUsesLeft(iat);
    const metadata = await this.policies.apply(policies, submitted);
    // Validation may fetch (sector_identifier_uri), so it is done before any transaction.
    const fields = await this.clients.validate(metadata, this.validation(policies));
    this.byAccessToken.assertNotRequested(fields);
    const rat = this.tokens.mint();
    const command: CreateClientCommand = {
      fields,
      dcr: {
        accessTokenStrategy: this.config.dcrAccessTokenStrategy(),
        secretLifetime: this.config.get('oidc.dynamic_client_registration.client_secret.expires_in'),
      },
      registrationAccessToken: rat,
      registrationPolicies: own,
      initialAccessTokenId: iat?.id ?? null,
      registeredBy: registrar ? { clientId: registrar.clientId, subject: registrar.subject } : undefined,
      softwareStatement: statement ? { issuer: statement.issuer, expiresAt: statement.expiresAt } : undefined,
    };
    if (reregistration) {
      // Scoped to what authorised the registration: the IAT, or the access token's client (none when open).
      const key = this.reregistrations.key(reregistration, fields, statement, iat ? iat.id : registrar ? `token:${registrar.clientId}` : null);
      const { issued, created } = await this.reregistrations.register(command, key, policies, iat);
      await this.audit.record({
        type: created ? 'client.registered' : 'client.reregistered',
        clientId: issued.client.id,
        details: { policies: policies.map((p) => p.name), software_statement: body.software_statement !== undefined },
      });
      if (created) this.metrics.registrations.inc();
      if (created && iat) this.metrics.initialAccessTokenUses.inc();
      return this.view({ ...issued, registrationAccessToken: rat?.token });
    }
    const details = { policies: policies.map((p) => p.name), software_statement: body.software_statement !== undefined };
    let issued: IssuedClient;
    if (policies.some((p) => p.maxClients !== undefined)) {
      // Client limits are counted last, so their rows stay locked briefly. The event joins the transaction.
      issued = await this.database.transaction(async () => {
        const created = await this.clients.create(command);
        await this.policies.takeClientSlots(policies);
        if (iat) await this.iats.consumeUse(iat);
        await this.audit.record({ type: 'client.registered', clientId: created.client.id, details });
        return created;
      });
    } else {
      // Otherwise the client, its token's use and its event are written by group commit (README "Performance").
      issued = await this.clients.create({
        ...command,
        store: async (client) => {
          const event = this.audit.prepare({ type: 'client.registered', clientId: client.id, details });
          if (!(await this.writer.store({ client, iatId: iat?.id ?? null, event }))) throw this.iats.unusable();
        },
      });
    }
    this.metrics.registrations.inc();
    if (iat) this.metrics.initialAccessTokenUses.inc();
    return this.view({ ...issued, registrationAccessToken: rat?.token });
  }

  async read(client: ClientEntity): Promise<RegistrationResponse> {
    await this.audit.record({ type: 'client.read', clientId: client.id });
    return this.view({ client });
  }

  async update(registered: ClientEntity, tokenHash: string, body: Record<string, unknown>): Promise<RegistrationResponse> {
    const clientId = registered.id;
    if (body.client_id !== clientId) {
      throw new OAuthError('invalid_request', 'the body must carry client_id, equal to the client_id in the path (RFC 7592 §2.2)');
    }
    // Everything that reads elsewhere happens before the transaction, which holds
    // a connection (the only one, on the embedded database) and the client's row.
    assertNotSuspended(registered);
    const { submitted, statement } = await this.applySoftwareStatement(body);
    const policies = await this.policies.forRequest(registered.registrationPolicies, 'refuse');
    const metadata = await this.policies.apply(policies, submitted);
    // Validation (which may fetch) and the secret check read the client as the
    // token guard found it; the transaction below only re-checks what they relied on.
    const fields = await this.clients.validate(metadata, this.validation(policies, registered.fields.audience, registered.fields.grant_types));
    this.byAccessToken.assertNotRequested(fields, registered.fields.scope);
    await this.checkPresentedSecret(registered, body.client_secret);
    const response = await this.database.transaction(async () => {
      const client = await this.tokens.lockClient(clientId, tokenHash);
      assertNotSuspended(client);
      this.assertUnchangedSince(registered, client, body.client_secret !== undefined);
      // Operator-set fields are not the registrant's to replace (nor to see).
      const operatorFields = Object.fromEntries(Object.entries(client.fields).filter(([name]) => fieldDef(name)?.setBy === 'admin'));
      const secretLifetime = this.config.get('oidc.dynamic_client_registration.client_secret.expires_in');
      // A verified current secret lets a client switching to client_secret_jwt keep it (README "Client authentication").
      const presentedSecret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
      const issued: IssuedClient = await this.clients.replace(client, fields, { keep: operatorFields, secretLifetime, presentedSecret });
      issued.registrationAccessToken = await this.tokens.rotate(client, tokenHash);
      // A full replacement (RFC 7592 §2.2): the statement sent now, or none, is the client's statement.
      await this.clients.setSoftwareStatement(client, statement);
      await this.audit.record({ type: 'client.updated', clientId, details: { secret_issued: issued.secret !== undefined } });
      if (issued.registrationAccessToken !== undefined) await this.audit.record({ type: 'client.rat_rotated', clientId });
      return this.view(issued);
    });
    await this.clients.invalidate(clientId);
    return response;
  }

  /**
   * Issues a new client secret (RFC 7592 §2.2 lets the server do so; README
   * "Rotating client secrets"): the previous one keeps authenticating for
   * oauth2.client_secret.rotation_overlap. The registration access token stays.
   */
  async rotateSecret(registered: ClientEntity, tokenHash: string): Promise<RegistrationResponse> {
    const response = await this.database.transaction(async () => {
      const client = await this.tokens.lockClient(registered.id, tokenHash);
      assertNotSuspended(client);
      const overlap = this.config.get('oauth2.client_secret.rotation_overlap');
      const issued = await this.clients.rotateSecret(client, {
        overlap,
        secretLifetime: this.config.get('oidc.dynamic_client_registration.client_secret.expires_in'),
      });
      await this.audit.record({ type: 'client.secret_rotated', clientId: client.id, details: { previous_secret_expires_in: overlap } });
      return this.view(issued);
    });
    await this.clients.invalidate(registered.id);
    return response;
  }

  delete(clientId: string, tokenHash: string): Promise<void> {
    return this.database.transaction(async () => {
      await this.tokens.deleteClient(clientId, tokenHash);
      await this.audit.record({ type: 'client.deleted', clientId });
    });
  }

  /** RFC 7591 §3.2.1, RFC 7592 §3: what the registrant sees, with its configuration endpoint. */
  private view(issued: IssuedClient): RegistrationResponse {
    return registrantClientView(issued, this.tokens.clientUri(issued.client));
  }

  /** RFC 7591 §2.3: a verified statement's claims win over the body; the statement itself is kept as sent. */
  private async applySoftwareStatement(body: Record<string, unknown>): Promise<{ submitted: Record<string, unknown>; statement?: VerifiedStatement }> {
    if (body.software_statement === undefined) return { submitted: body };
    const statement = await this.statements.verifyWithIssuer(body.software_statement);
    // A statement may describe the software, never the server's side of the client.
    assertRegistrantMaySet(Object.keys(statement.claims), 'create');
    return { submitted: withStatement(body, statement), statement };
  }

  /** An operator changed what the checks before the lock relied on (the secret, the stored audiences) meanwhile. */
  private assertUnchangedSince(checked: ClientEntity, locked: ClientEntity, secretPresented: boolean): void {
    if (secretPresented && locked.secretHash !== checked.secretHash) {
      throw new OAuthError('invalid_request', 'client_secret does not match the current secret; it cannot be changed here');
    }
    if (JSON.stringify(locked.fields.audience ?? []) !== JSON.stringify(checked.fields.audience ?? [])) {
      throw new OAuthError('conflict', 'the client was changed by an administrator during this update; send it again');
    }
  }

  /** RFC 7592 §2.2: a client_secret in an update must be the current one. */
  private async checkPresentedSecret(client: ClientEntity, presented: unknown): Promise<void> {
    if (presented === undefined) return;
    const matches = typeof presented === 'string' && client.secretHash !== null && (await verifyClientSecret(presented, client.secretHash));
    if (!matches) throw new OAuthError('invalid_request', 'client_secret does not match the current secret; it cannot be changed here');
  }

  /**
   * What a registrant may ask for. Audiences: a policy with allowed_audiences
   * decides for the requests it applies to (applyPolicyRules has checked
   * them); otherwise the configured list, and none when it is unset, so that
   * no registrant can mint tokens for another client's resource server. An
   * update may keep the audiences the client already has (an admin may have
   * set them), but not add others.
   */
  private validation(policies: readonly ResolvedPolicy[], stored: unknown = [], storedGrants: unknown = []): ValidationOptions {
    const policyDecides = policies.some((p) => p.allowedAudiences !== undefined);
    const configured = this.config.get('oidc.dynamic_client_registration.allowed_audiences') ?? [];
    return {
      defaultScope: this.config.get('oidc.dynamic_client_registration.default_scope').join(' '),
      allowLocalhostRedirects: this.config.get('oidc.dynamic_client_registration.allow_localhost_redirects'),
      allowedScopes: this.config.get('oidc.dynamic_client_registration.allowed_scopes'),
      allowedAudiences: policyDecides ? undefined : [...configured, ...(stored as string[])],
      refusedGrantTypes: this.adminOnlyGrantTypes(storedGrants),
    };
  }

  /**
   * Grant types that let a client obtain tokens for subjects other than
   * itself: only an admin gives them (README "JWT bearer grant", "Token
   * exchange"). An update may keep one an admin gave the client.
   */
  private adminOnlyGrantTypes(stored: unknown): Record<string, string> {
    const refused: Record<string, string> = {};
    if (!this.config.get('oauth2.grant.jwt.allow_dynamic_registration')) {
      refused[JWT_BEARER_GRANT] = 'only an administrator can give this grant type (oauth2.grant.jwt.allow_dynamic_registration)';
    }
    refused[TOKEN_EXCHANGE_GRANT] = 'only an administrator can give this grant type';
    for (const grant of Array.isArray(stored) ? (stored as string[]) : []) delete refused[grant];
    return refused;
  }
}
