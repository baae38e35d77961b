// Idempotent registration (README "Re-registration and recovering a
// registration access token"): under a policy with a reregistration rule, a
// registration that carries the key of a client registered earlier under that
// policy, with the same initial access token, gets that client back instead of a
// duplicate: its metadata replaced as an RFC 7592 update would, a new client
// secret and a new registration access token.
import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { fieldDef } from '../clients/client-metadata.js';
import { assertNotSuspended } from '../clients/client-suspension.js';
import { usesClientSecret } from '../clients/client-validator.js';
import type { IssuedClient } from '../clients/client-views.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientsService, type CreateClientCommand } from '../clients/clients.service.js';
import { OAuthError, clientMetadataError } from '../common/oauth-error.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import type { InitialAccessTokenEntity } from '../policy/initial-access-token.entity.js';
import { InitialAccessTokensService } from '../policy/initial-access-tokens.service.js';
import { PoliciesService, type ResolvedPolicy } from '../policy/policies.service.js';
import type { ReregistrationRule } from '../policy/reregistration-rule.js';
import { RegistrationAccessTokensService } from './registration-access-tokens.service.js';
import { ReregistrationKeyTaken, ReregistrationsRepository } from './reregistrations.repository.js';
import type { VerifiedStatement } from './software-statement.verifier.js';

/** The policy whose reregistration rule decides for a request: the first applied one that has a rule. */
export interface Reregistration {
  policy: string;
  rule: ReregistrationRule;
}

/** Attempts before giving up on a key that keeps being taken (each attempt after the first finds the winner's client). */
const ATTEMPTS = 3;

@Injectable()
export class ReregistrationService {
  constructor(
    private readonly database: Database,
    private readonly clients: ClientsService,
    private readonly repo: ReregistrationsRepository,
    private readonly tokens: RegistrationAccessTokensService,
    private readonly iats: InitialAccessTokensService,
    private readonly policies: PoliciesService,
    private readonly config: ConfigService,
  ) {}

  /** The rule that applies to a request under these policies, if any. */
  ruleOf(policies: readonly ResolvedPolicy[]): Reregistration | undefined {
    const policy = policies.find((p) => p.reregistration !== undefined);
    return policy ? { policy: policy.name, rule: policy.reregistration! } : undefined;
  }

  /**
   * The key of a registration, as stored (a SHA-256, so that its parts, up to
   * a few kilobytes, fit the unique index). It is scoped to the policy and to
   * what authorised the registration (the initial access token, or the access
   * token's client; none under open registration): two holders of different
   * tokens never get each other's client. A request that lacks what
   * the rule names is refused, naming it.
   */
  key(reregistration: Reregistration, fields: Record<string, unknown>, statement: VerifiedStatement | undefined, scope: string | null): string {
    const { policy, rule } = reregistration;
    const required = (what: string): never => {
      throw clientMetadataError(`policy "${policy}" rule reregistration: ${what}`);
    };
    const parts: string[] = [];
    if (rule.key === 'software_statement') {
      if (!statement) required('a software_statement is required');
      // The statement's own claim, verified: the body's software_id does not count here.
      const softwareId = statement!.claims.software_id;
      if (typeof softwareId !== 'string' || softwareId === '') {
        throw new OAuthError('invalid_software_statement', `policy "${policy}" rule reregistration: the software_statement must carry software_id`);
      }
      parts.push(statement!.issuer, softwareId);
    } else {
      const softwareId = fields.software_id;
      if (typeof softwareId !== 'string' || softwareId === '') required('software_id is required');
      parts.push(softwareId as string);
    }
    if (rule.instance_field !== undefined) {
      const instance = fields[rule.instance_field];
      if (typeof instance !== 'string' || instance === '') required(`${rule.instance_field} is required`);
      parts.push(instance as string);
    }
    const scoped = [policy, scope, rule.key, rule.instance_field ?? null, ...parts];
    return createHash('sha256').update(JSON.stringify(scoped)).digest('base64url');
  }

  /**
   * Registers the client, or re-registers the one with this key. The lookup
   * and the insert run in one transaction; should two registrations with one
   * key both find none, the unique index lets one insert and the other
   * starts again and re-registers that client. Only a new client takes a
   * slot of max_clients and a use of the initial access token.
   */
  async register(
    command: CreateClientCommand,
    key: string,
    policies: readonly ResolvedPolicy[],
    iat: InitialAccessTokenEntity | undefined,
  ): Promise<{ issued: IssuedClient; created: boolean }> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const outcome = await this.database.transaction(async () => {
          const existing = await this.repo.lockByKey(key);
          if (existing) {
            // The guard's token may come from its cache (README "Performance"); nothing else here reads it.
            if (iat) await this.iats.assertStillUnexpired(iat);
            return { issued: await this.reregister(existing, command), created: false };
          }
          // A used-up token re-registers only (the use itself is counted last, as at any registration).
          if (iat) this.iats.assertUsesLeft(iat);
          const issued = await this.clients.create({ ...command, reregistrationKey: key, store: (client) => this.repo.insert(client) });
          await this.policies.takeClientSlots(policies);
          if (iat) await this.iats.consumeUse(iat);
          return { issued, created: true };
        });
        if (!outcome.created) await this.clients.invalidate(outcome.issued.client.id);
        return outcome;
      } catch (err) {
        if (!(err instanceof ReregistrationKeyTaken) || attempt === ATTEMPTS) throw err;
      }
    }
  }

  /**
   * The registrant registers again: its metadata replaces the stored one as an
   * RFC 7592 update would (operator fields, the access token strategy and the
   * policies stay), a client that uses a secret gets a new one (the previous
   * one keeps working for oauth2.client_secret.rotation_overlap, so running
   * instances can switch over), and the registration access token is replaced.
   */
  private async reregister(client: ClientEntity, command: CreateClientCommand): Promise<IssuedClient> {
    // A suspended client stays as the operator left it (README "Operating a fleet of dynamic clients").
    assertNotSuspended(client);
    const statement = command.softwareStatement;
    const operatorFields = Object.fromEntries(Object.entries(client.fields).filter(([name]) => fieldDef(name)?.setBy === 'admin'));
    const secretLifetime = this.config.get('oidc.dynamic_client_registration.client_secret.expires_in');
    const issued = await this.clients.replace(client, command.fields, { keep: operatorFields, secretLifetime });
    if (issued.secret === undefined && usesClientSecret(client.fields)) {
      issued.secret = (await this.clients.rotateSecret(client, { overlap: this.config.get('oauth2.client_secret.rotation_overlap'), secretLifetime })).secret;
    }
    if (command.registrationAccessToken) await this.tokens.reissue(client, command.registrationAccessToken);
    // As at an RFC 7592 update, the statement sent now (or none) is the client's statement.
    await this.clients.setSoftwareStatement(client, statement);
    return issued;
  }
}
