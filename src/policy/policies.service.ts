import { Inject, Injectable } from '@nestjs/common';
import { OAuthError } from '../common/oauth-error.js';

/**
 * A named registration policy. It receives the registrant's metadata before
 * field validation and returns it, possibly with defaults or forced values; it
 * rejects by throwing an OAuthError (invalid_client_metadata).
 */
export interface RegistrationPolicy {
  readonly name: string;
  apply(metadata: Record<string, unknown>): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/** Policies provided in code: `{ provide: REGISTRATION_POLICIES, useValue: [...] }`. */
export const REGISTRATION_POLICIES = Symbol('REGISTRATION_POLICIES');

@Injectable()
export class PoliciesService {
  private readonly byName: Map<string, RegistrationPolicy>;

  constructor(@Inject(REGISTRATION_POLICIES) policies: RegistrationPolicy[]) {
    this.byName = new Map(policies.map((p) => [p.name, p]));
  }

  /** Refuses names that resolve to no policy (400 invalid_request naming them). */
  assertKnown(names: readonly string[]): void {
    const unknown = names.filter((n) => !this.byName.has(n));
    if (unknown.length > 0) throw new OAuthError('invalid_request', `unknown policy: ${unknown.join(', ')}`);
  }

  /** Runs the named policies in order, each on the previous one's output. */
  async apply(names: readonly string[], metadata: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.assertKnown(names);
    let current = metadata;
    for (const name of names) current = await this.byName.get(name)!.apply(current);
    return current;
  }
}
