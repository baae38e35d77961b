// The `reregistration` policy rule (README "Re-registration and recovering a
// registration access token"): how a registration under the policy is
// recognised as the same registrant registering again.
import { CLIENT_FIELDS } from '../clients/client-metadata.js';
import { OAuthError } from '../common/oauth-error.js';

export const REREGISTRATION_KEYS = ['software_statement', 'software_id_and_instance'] as const;
export type ReregistrationKey = (typeof REREGISTRATION_KEYS)[number];

export interface ReregistrationRule {
  /**
   * `software_statement`: the verified statement's issuer and its software_id claim;
   * `software_id_and_instance`: software_id and the value of `instance_field`.
   */
  key: ReregistrationKey;
  /**
   * The metadata field that tells instances of the software apart. Required
   * (default software_instance_id) with `software_id_and_instance`; optional
   * with `software_statement`, where it makes one client per instance of a statement.
   */
  instance_field?: string;
}

export const DEFAULT_INSTANCE_FIELD = 'software_instance_id';

/** Fields that identify the software itself, so they cannot also tell its instances apart. */
const NOT_INSTANCE_FIELDS = ['software_id', 'software_statement'];

/** Fields an instance key may be read from: single strings a registrant sets. */
export function instanceFieldAllowed(name: string): boolean {
  const def = Object.hasOwn(CLIENT_FIELDS, name) ? CLIENT_FIELDS[name] : undefined;
  return def !== undefined && def.setBy === 'registrant' && def.kind === 'string' && !NOT_INSTANCE_FIELDS.includes(name);
}

/** Checks the rule when its policy is saved; a malformed one is refused naming the rule and the member. */
export function parseReregistrationRule(rule: string, value: unknown): ReregistrationRule {
  const refuse = (message: string): never => {
    throw new OAuthError('invalid_request', `rule ${rule}: ${message}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) refuse('must be an object such as {"key": "software_statement"}');
  const raw = value as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((member) => member !== 'key' && member !== 'instance_field');
  if (unknown.length > 0) refuse(`unknown member ${unknown.join(', ')}; known members: key, instance_field`);
  if (!REREGISTRATION_KEYS.includes(raw.key as ReregistrationKey)) refuse(`key must be one of ${REREGISTRATION_KEYS.join(', ')}`);
  const key = raw.key as ReregistrationKey;
  if (raw.instance_field === undefined) return key === 'software_id_and_instance' ? { key, instance_field: DEFAULT_INSTANCE_FIELD } : { key };
  if (typeof raw.instance_field !== 'string' || !instanceFieldAllowed(raw.instance_field)) {
    refuse(`instance_field must name client metadata a registrant sets as one string (such as ${DEFAULT_INSTANCE_FIELD}), other than software_id`);
  }
  return { key, instance_field: raw.instance_field as string };
}
