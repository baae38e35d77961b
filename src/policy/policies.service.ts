import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { AppLogger } from '../common/logging.js';
import { OAuthError, clientMetadataError } from '../common/oauth-error.js';
import type { PageRequest } from '../common/pagination.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { isUniqueViolation } from '../database/db-errors.js';
import { PoliciesRepository } from './policies.repository.js';
import { applyPolicyRules, parsePolicyRules, type PolicyContext, type PolicyRules } from './policy-rules.js';
import { POLICY_NAME_RULE, type PolicyInputDto } from './policy.dto.js';
import type { ReregistrationRule } from './reregistration-rule.js';
import { PolicyEntity } from './policy.entity.js';

/**
 * A named registration policy. It receives the registrant's metadata before
 * field validation and returns it, possibly with defaults or forced values; it
 * rejects by throwing an OAuthError (invalid_client_metadata naming itself and the rule).
 */
export interface RegistrationPolicy {
  readonly name: string;
  apply(metadata: Record<string, unknown>, context: PolicyContext): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/** Policies provided in code: add a provider `{ provide: REGISTRATION_POLICIES, useValue: [...] }`. */
export const REGISTRATION_POLICIES = Symbol('REGISTRATION_POLICIES');

export interface ResolvedPolicy extends RegistrationPolicy {
  maxClients?: number;
  /** Set when the policy decides which audiences its registrants may name (instead of the configured list). */
  allowedAudiences?: string[];
  /** Set when a registration under the policy may be the same registrant registering again. */
  reregistration?: ReregistrationRule;
}


/** Resolves policy names (code first, then the database) and applies them in order. */
@Injectable()
export class PoliciesService {
  private readonly code: Map<string, RegistrationPolicy>;

  constructor(
    @Inject(REGISTRATION_POLICIES) codePolicies: RegistrationPolicy[],
    private readonly repo: PoliciesRepository,
    private readonly config: ConfigService,
    private readonly logger: AppLogger,
    private readonly database: Database,
    private readonly audit: AuditService,
  ) {
    this.code = new Map(codePolicies.map((p) => [p.name, p]));
  }

  /** Refuses names that resolve to no policy (400 invalid_request naming them); used when minting an IAT. */
  async assertKnown(names: readonly string[]): Promise<void> {
    const missing = await this.unknown(names);
    if (missing.length > 0) throw new OAuthError('invalid_request', `unknown policy: ${missing.join(', ')}`);
  }

  /** The names that resolve to no policy, in code or in the database. */
  async unknown(names: readonly string[]): Promise<string[]> {
    const found = await this.resolve(names, 'skip');
    return names.filter((n) => !found.some((p) => p.name === n));
  }

  /**
   * The policies for a registration request: those configured for every DCR
   * request, then `own` (the IAT's at registration, the client's stored ones
   * at update). Configured names are resolved now, so they may be created
   * after start. A policy that does not exist refuses the request (fail
   * closed): a configured or IAT-named one is the operator's mistake (500,
   * logged); one stored on the client is refused with 400 naming it.
   */
  async forRequest(own: readonly string[], ownMissing: 'fail' | 'refuse'): Promise<ResolvedPolicy[]> {
    const configured = this.config.get('oidc.dynamic_client_registration.policies');
    const first = await this.resolve(configured, 'fail');
    const rest = await this.resolve(own.filter((n) => !configured.includes(n)), ownMissing);
    return [...first, ...rest];
  }

  /** Whether any of these policies, as stored now, limits the scopes a registrant may ask for. */
  async limitScopes(names: readonly string[]): Promise<boolean> {
    const stored = await this.repo.findByNames(names.filter((n) => !this.code.has(n)));
    return stored.some((p) => (p.rules as PolicyRules).allowed_scopes !== undefined);
  }

  async apply(policies: readonly RegistrationPolicy[], metadata: Record<string, unknown>): Promise<Record<string, unknown>> {
    const context: PolicyContext = { defaultScope: this.config.get('oidc.dynamic_client_registration.default_scope').join(' ') };
    let current = metadata;
    for (const policy of policies) current = await policy.apply(current, context);
    return current;
  }

  /** Counts the new client against every applied policy with max_clients, inside the registration's transaction. */
  async takeClientSlots(policies: readonly ResolvedPolicy[]): Promise<void> {
    // In name order, so that registrations under [A, B] and [B, A] cannot deadlock on the rows.
    for (const p of [...policies].sort((a, b) => a.name.localeCompare(b.name))) {
      if (p.maxClients !== undefined && !(await this.repo.takeClientSlot(p.name, p.maxClients))) {
        throw clientMetadataError(`policy "${p.name}" rule max_clients: no more than ${p.maxClients} clients may be registered under it`);
      }
    }
  }

  private async resolve(names: readonly string[], onMissing: 'fail' | 'refuse' | 'skip'): Promise<ResolvedPolicy[]> {
    const stored = new Map((await this.repo.findByNames(names.filter((n) => !this.code.has(n)))).map((p) => [p.name, p]));
    const resolved: ResolvedPolicy[] = [];
    for (const name of names) {
      const code = this.code.get(name);
      const row = stored.get(name);
      if (code) resolved.push(code);
      else if (row) resolved.push(declarative(row));
      else if (onMissing === 'fail') {
        this.logger.error({ policy: name }, 'registration refused: a policy it needs does not exist');
        throw new OAuthError('server_error');
      } else if (onMissing === 'refuse') {
        this.logger.error({ policy: name }, 'update refused: a policy the client was registered under does not exist');
        throw clientMetadataError(`policy "${name}", under which this client was registered, no longer exists; the operator must restore it`);
      }
    }
    return resolved;
  }

  // --- the admin API ----------------------------------------------------------

  async create(input: PolicyInputDto): Promise<PolicyEntity> {
    const name = input.name;
    if (name === undefined) throw new OAuthError('invalid_request', POLICY_NAME_RULE);
    if (this.code.has(name)) throw new OAuthError('conflict', `${name} is a built-in policy`);
    const policy = new PolicyEntity();
    policy.name = name;
    this.fill(policy, input);
    policy.clientsCreated = 0;
    policy.createdAt = policy.updatedAt = new Date();
    try {
      await this.database.transaction(async () => {
        await this.repo.insert(policy);
        await this.audit.record({ type: 'admin.policy.created', details: { policy: name } });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new OAuthError('conflict', `a policy named ${name} already exists`);
      throw err;
    }
    return policy;
  }

  async replace(name: string, input: PolicyInputDto): Promise<PolicyEntity> {
    if (input.name !== undefined && input.name !== name) throw new OAuthError('invalid_request', 'name in the body must equal the name in the path');
    const policy = await this.get(name);
    this.fill(policy, input);
    policy.updatedAt = new Date();
    await this.database.transaction(async () => {
      await this.repo.update(policy);
      await this.audit.record({ type: 'admin.policy.updated', details: { policy: name } });
    });
    return policy;
  }

  async get(name: string): Promise<PolicyEntity> {
    const policy = await this.repo.findByName(name);
    if (!policy) throw new OAuthError('not_found', `policy ${name} does not exist`);
    return policy;
  }

  list(page: PageRequest): Promise<PolicyEntity[]> {
    return this.repo.page(page);
  }

  /**
   * Refused (409) while the configuration, an unexpired IAT (even a used-up
   * one) or a client names the policy: RFC 7592 updates apply a client's
   * policies again, so deleting one would open what it closed.
   */
  delete(name: string): Promise<void> {
    return this.database.transaction(async () => {
      await this.deleteUnused(name);
      await this.audit.record({ type: 'admin.policy.deleted', details: { policy: name } });
    });
  }

  private async deleteUnused(name: string): Promise<void> {
    if (this.config.get('oidc.dynamic_client_registration.policies').includes(name)) {
      throw new OAuthError('conflict', `policy ${name} is named by oidc.dynamic_client_registration.policies`);
    }
    if (await this.repo.deleteUnused(name)) return;
    const { tokens, clients } = await this.repo.usage(name);
    if (tokens.length === 0 && clients === 0) {
      // Gone, or freed by a concurrent change since the delete: say which.
      if (!(await this.repo.findByName(name))) throw new OAuthError('not_found', `policy ${name} does not exist`);
      if (await this.repo.deleteUnused(name)) return;
    }
    const named = [
      tokens.length > 0 ? `unexpired initial access tokens (${tokens.join(', ')})` : '',
      clients > 0 ? `${clients} client${clients === 1 ? '' : 's'}` : '',
    ].filter((s) => s !== '');
    throw new OAuthError(
      'conflict',
      `policy ${name} is named by ${named.join(' and ')}; revoke the tokens and delete or reassign the clients first`,
    );
  }

  private fill(policy: PolicyEntity, input: PolicyInputDto): void {
    policy.description = input.description ?? '';
    policy.rules = parsePolicyRules(input.rules ?? {});
  }
}

function declarative(row: PolicyEntity): ResolvedPolicy {
  const rules: PolicyRules = row.rules;
  return {
    name: row.name,
    maxClients: rules.max_clients,
    allowedAudiences: rules.allowed_audiences,
    reregistration: rules.reregistration,
    apply: (metadata, context) => applyPolicyRules(row.name, rules, metadata, context),
  };
}

export function policyView(p: PolicyEntity): Record<string, unknown> {
  return {
    name: p.name,
    description: p.description,
    rules: p.rules,
    clients_created: p.clientsCreated,
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}
