// Declarative policy rules (README, "Policies"): checked when a policy is saved, applied
// to a registrant's metadata before field validation.
import { AUTH_METHODS, GRANT_TYPES, RESPONSE_TYPES, fieldDef, splitLocalized } from '../clients/client-metadata.js';
import { normaliseField } from '../clients/client-validator.js';
import { OAuthError, clientMetadataError } from '../common/oauth-error.js';
import { parseReregistrationRule, type ReregistrationRule } from './reregistration-rule.js';

export interface PolicyRules {
  allowed_grant_types?: string[];
  allowed_response_types?: string[];
  allowed_token_endpoint_auth_methods?: string[];
  allowed_scopes?: string[];
  allowed_redirect_uri_hosts?: string[];
  allowed_audiences?: string[];
  defaults?: Record<string, unknown>;
  force?: Record<string, unknown>;
  forbidden_fields?: string[];
  max_clients?: number;
  /** Applied by the registration service, not here (README "Re-registration and recovering a registration access token"). */
  reregistration?: ReregistrationRule;
}

const HOST_PATTERN = /^(\*\.)?([a-z0-9-]+\.)*[a-z0-9-]+$|^\d{1,3}(\.\d{1,3}){3}$|^\[[0-9a-f:.]+\]$/i;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** An audience is sent space-separated at the token endpoint, so it has no spaces. */
const AUDIENCE = /^[\x21-\x7E]{1,2000}$/;
const MAX_LIST = 100;

type RuleCheck = (rule: string, value: unknown) => unknown;

function ruleError(rule: string, message: string): never {
  throw new OAuthError('invalid_request', `rule ${rule}: ${message}`);
}

function stringList(rule: string, value: unknown, allowed?: readonly string[], pattern?: RegExp): string[] {
  if (!Array.isArray(value) || value.length > MAX_LIST) ruleError(rule, `must be an array of at most ${MAX_LIST} strings`);
  for (const item of value) {
    if (typeof item !== 'string') ruleError(rule, 'must contain only strings');
    if (allowed && !allowed.includes(item)) ruleError(rule, `${JSON.stringify(item)} is not one of ${allowed.join(', ')}`);
    if (pattern && !pattern.test(item)) ruleError(rule, `${JSON.stringify(item)} is malformed`);
  }
  return [...new Set(value as string[])];
}

function registrantFields(rule: string, names: string[]): void {
  for (const name of names) {
    if (fieldDef(name)?.setBy !== 'registrant') ruleError(rule, `${name} is not client metadata a registrant may set`);
  }
}

function fieldValues(rule: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) ruleError(rule, 'must be an object of client metadata');
  const out: Record<string, unknown> = {};
  registrantFields(rule, Object.keys(value));
  for (const [name, v] of Object.entries(value)) {
    try {
      out[name] = normaliseField(name, v);
    } catch (err) {
      ruleError(rule, (err as OAuthError).description ?? `${name} is invalid`);
    }
  }
  return out;
}

const RULES: Record<keyof PolicyRules, RuleCheck> = {
  allowed_grant_types: (rule, v) => stringList(rule, v, GRANT_TYPES),
  allowed_response_types: (rule, v) => stringList(rule, v, RESPONSE_TYPES),
  allowed_token_endpoint_auth_methods: (rule, v) => stringList(rule, v, AUTH_METHODS),
  allowed_scopes: (rule, v) => stringList(rule, v, undefined, SCOPE_TOKEN),
  allowed_redirect_uri_hosts: (rule, v) => stringList(rule, v, undefined, HOST_PATTERN).map((h) => h.toLowerCase()),
  allowed_audiences: (rule, v) => stringList(rule, v, undefined, AUDIENCE),
  defaults: fieldValues,
  force: fieldValues,
  forbidden_fields: (rule, v) => {
    const names = stringList(rule, v);
    registrantFields(rule, names);
    return names;
  },
  max_clients: (rule, v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) ruleError(rule, 'must be a positive integer');
    return v;
  },
  reregistration: parseReregistrationRule,
};

/** Validates a policy's rules when it is saved; unknown rules and malformed values are refused naming the rule. */
export function parsePolicyRules(raw: unknown): PolicyRules {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new OAuthError('invalid_request', 'rules must be an object');
  const out: Record<string, unknown> = {};
  for (const [rule, value] of Object.entries(raw)) {
    if (!Object.hasOwn(RULES, rule)) throw new OAuthError('invalid_request', `unknown rule ${rule}; known rules: ${Object.keys(RULES).join(', ')}`);
    out[rule] = RULES[rule as keyof PolicyRules](rule, value);
  }
  return out as PolicyRules;
}

/** `*.example.com` matches any subdomain of example.com (not example.com itself); anything else matches exactly. */
export function hostMatches(host: string, pattern: string): boolean {
  const h = host.toLowerCase();
  return pattern.startsWith('*.') ? h.endsWith(pattern.slice(1)) && h.length > pattern.length - 1 : h === pattern;
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
}

/**
 * Applies one declarative policy: forbidden fields, then defaults, then forced
 * values, then the allow-lists, judged on the values the client would get
 * (RFC 7591 defaults included). Malformed values are left for the validator.
 */
export interface PolicyContext {
  /** The scope the server gives a client that asks for none (oidc.dynamic_client_registration.default_scope). */
  defaultScope?: string;
}

function isEmpty(value: unknown): boolean {
  return value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

export function applyPolicyRules(
  policy: string,
  rules: PolicyRules,
  input: Record<string, unknown>,
  context: PolicyContext = {},
): Record<string, unknown> {
  const violation = (rule: string, message: string): never => {
    throw clientMetadataError(`policy "${policy}" rule ${rule}: ${message}`);
  };
  // An empty value (as echoed back from a read) sets nothing, so it is not a forbidden field's use.
  const present = Object.keys(input)
    .filter((name) => !isEmpty(input[name]))
    .map((name) => splitLocalized(name).base);
  const forbidden = (rules.forbidden_fields ?? []).filter((f) => present.includes(f));
  if (forbidden.length > 0) violation('forbidden_fields', `${forbidden.join(', ')} may not be set`);

  const out: Record<string, unknown> = { ...input };
  // null means absent (the validator drops it and applies its own default), so it gets the policy's default too.
  for (const [name, value] of Object.entries(rules.defaults ?? {})) if (out[name] == null) out[name] = structuredClone(value);
  for (const [name, value] of Object.entries(rules.force ?? {})) out[name] = structuredClone(value);

  const grants = strings(out.grant_types) ?? ['authorization_code'];
  const outside = (rule: string, values: string[], allowed: string[] | undefined, what: string): void => {
    const refused = allowed ? values.filter((v) => !allowed.includes(v)) : [];
    if (refused.length > 0) violation(rule, `${what} ${refused.join(', ')} ${refused.length > 1 ? 'are' : 'is'} not allowed`);
  };
  outside('allowed_grant_types', grants, rules.allowed_grant_types, 'grant type');
  const responseTypes = strings(out.response_types) ?? (grants.includes('authorization_code') ? ['code'] : []);
  outside('allowed_response_types', responseTypes, rules.allowed_response_types, 'response type');
  const method = typeof out.token_endpoint_auth_method === 'string' ? out.token_endpoint_auth_method : 'client_secret_basic';
  outside('allowed_token_endpoint_auth_methods', [method], rules.allowed_token_endpoint_auth_methods, 'token_endpoint_auth_method');
  if (rules.allowed_scopes && out.scope == null && context.defaultScope) {
    // A client that asks for no scope gets the server's default, narrowed to what the policy allows.
    out.scope = context.defaultScope.split(' ').filter((s) => rules.allowed_scopes!.includes(s)).join(' ');
  }
  if (typeof out.scope === 'string') {
    outside('allowed_scopes', out.scope.split(' ').filter((s) => s !== ''), rules.allowed_scopes, 'scope');
  }
  if (rules.allowed_audiences) {
    outside('allowed_audiences', (strings(out.audience) ?? []), rules.allowed_audiences, 'audience');
  }
  const hosts = rules.allowed_redirect_uri_hosts;
  if (hosts) {
    for (const uri of [...(strings(out.redirect_uris) ?? []), ...(strings(out.post_logout_redirect_uris) ?? [])]) {
      let host: string;
      try {
        host = new URL(uri).hostname;
      } catch {
        continue;
      }
      if (!hosts.some((p) => hostMatches(host, p))) violation('allowed_redirect_uri_hosts', `the host of ${uri} is not allowed`);
    }
  }
  return out;
}
