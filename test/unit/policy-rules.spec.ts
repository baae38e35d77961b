// Declarative registration policies (README, Policies) and the
// built-in native-app policy, as plain functions: no app, no database.
import { describe, expect, it } from '@jest/globals';
import { OAuthError } from '../../src/common/oauth-error.js';
import { NativeAppPolicy } from '../../src/policy/native-app.policy.js';
import { applyPolicyRules, hostMatches, parsePolicyRules, type PolicyRules } from '../../src/policy/policy-rules.js';
import { thrownOAuthError as errorOf } from '../support/expect.js';

type Json = Record<string, unknown>;


/** Deep-freezes a value so that any attempt to modify it in place throws (ESM code runs in strict mode). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value as object)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Applies `rules` as policy `name`, checking that neither the input nor the rules are modified. */
function apply(rules: PolicyRules, input: Json, name = 'partners'): Json {
  const inputBefore = structuredClone(input);
  const rulesBefore = structuredClone(rules);
  try {
    return applyPolicyRules(name, deepFreeze(structuredClone(rules)), deepFreeze(structuredClone(input)));
  } finally {
    expect(input).toEqual(inputBefore);
    expect(rules).toEqual(rulesBefore);
  }
}

/** The policy must refuse the input with invalid_client_metadata naming the policy and the rule. */
function expectViolation(rules: PolicyRules, input: Json, rule: string, mentions?: string, name = 'partners'): OAuthError {
  const error = errorOf(() => applyPolicyRules(name, rules, input));
  expect(error.code).toBe('invalid_client_metadata');
  expect(error.status).toBe(400);
  expect(error.description).toContain(`policy "${name}"`);
  expect(error.description).toContain(rule);
  if (mentions !== undefined) expect(error.description).toContain(mentions);
  return error;
}

/** The rules must be refused when saved with invalid_request naming the rule. */
function expectParseError(raw: unknown, rule: string, mentions?: string): OAuthError {
  const error = errorOf(() => parsePolicyRules(raw));
  expect(error.code).toBe('invalid_request');
  expect(error.status).toBe(400);
  expect(error.description).toContain(rule);
  if (mentions !== undefined) expect(error.description).toContain(mentions);
  return error;
}

const machine = (overrides: Json = {}): Json => ({ grant_types: ['client_credentials'], ...overrides });
const web = (overrides: Json = {}): Json => ({ redirect_uris: ['https://app.example.com/cb'], ...overrides });

describe('parsePolicyRules: rules are checked when a policy is saved', () => {
  it('accepts every rule kind with well-formed values and returns them', () => {
    const raw = {
      allowed_grant_types: ['authorization_code', 'refresh_token', 'client_credentials', 'implicit'],
      allowed_response_types: ['code', 'id_token', 'code id_token'],
      allowed_token_endpoint_auth_methods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      allowed_scopes: ['openid', 'invoices.read', 'api:write'],
      allowed_redirect_uri_hosts: ['*.example.com', 'app.partner.test', '127.0.0.1', '[::1]'],
      defaults: { scope: 'invoices.read', application_type: 'web', contacts: ['ops@example.com'] },
      force: { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt' },
      forbidden_fields: ['jwks_uri', 'client_name'],
      max_clients: 50,
    };
    const before = structuredClone(raw);
    const parsed = parsePolicyRules(raw);
    expect(parsed).toEqual(raw);
    expect(raw).toEqual(before);
  });

  it('accepts an empty rule set', () => {
    expect(parsePolicyRules({})).toEqual({});
  });

  it('accepts max_clients 1, the smallest limit', () => {
    expect(parsePolicyRules({ max_clients: 1 })).toEqual({ max_clients: 1 });
  });

  it('keeps a parsed max_clients as a number', () => {
    const parsed = parsePolicyRules({ max_clients: 3 });
    expect(typeof parsed.max_clients).toBe('number');
    expect(parsed.max_clients).toBe(3);
  });

  it('refuses rules that are not an object', () => {
    for (const raw of [null, [], 'allowed_scopes', 42]) {
      const error = errorOf(() => parsePolicyRules(raw));
      expect(error.code).toBe('invalid_request');
      expect(error.description).toContain('rules');
    }
  });

  it('refuses an unknown rule, naming it', () => {
    expectParseError({ allowed_scopes: ['a'], allowed_resources: ['x'] }, 'allowed_resources');
  });

  it('refuses a misspelled rule name rather than ignoring it', () => {
    expectParseError({ allowed_grant_type: ['client_credentials'] }, 'allowed_grant_type');
  });

  it.each([
    ['allowed_grant_types', 'client_credentials'],
    ['allowed_grant_types', [42]],
    ['allowed_response_types', { code: true }],
    ['allowed_token_endpoint_auth_methods', null],
    ['allowed_scopes', 'a b'],
    ['allowed_scopes', [true]],
    ['allowed_redirect_uri_hosts', '*.example.com'],
    ['forbidden_fields', 'jwks_uri'],
    ['defaults', ['scope']],
    ['defaults', 'scope=a'],
    ['force', null],
    ['max_clients', '3'],
  ])('refuses %s with a value of the wrong type (%j), naming the rule', (rule, value) => {
    expectParseError({ [rule]: value }, rule);
  });

  it('refuses an unsupported grant type in allowed_grant_types, naming it', () => {
    expectParseError({ allowed_grant_types: ['client_credentials', 'password'] }, 'allowed_grant_types', 'password');
  });

  it('refuses an unsupported response type in allowed_response_types', () => {
    expectParseError({ allowed_response_types: ['code', 'bogus'] }, 'allowed_response_types', 'bogus');
  });

  it('refuses an unsupported auth method in allowed_token_endpoint_auth_methods', () => {
    expectParseError({ allowed_token_endpoint_auth_methods: ['tls_client_auth'] }, 'allowed_token_endpoint_auth_methods', 'tls_client_auth');
  });

  it('refuses a malformed scope token in allowed_scopes', () => {
    expectParseError({ allowed_scopes: ['a"b'] }, 'allowed_scopes');
  });

  it('refuses a URL or a malformed host in allowed_redirect_uri_hosts', () => {
    expectParseError({ allowed_redirect_uri_hosts: ['https://app.example.com'] }, 'allowed_redirect_uri_hosts');
    expectParseError({ allowed_redirect_uri_hosts: ['app.*.example.com'] }, 'allowed_redirect_uri_hosts');
  });

  it.each(['metadata', 'access_token_strategy', 'client_secret', 'owner', 'skip_consent', 'client_id'])(
    'refuses defaults and force that set %s, which a registrant may not set',
    (field) => {
      const value = field === 'metadata' ? { tier: 'gold' } : field === 'skip_consent' ? true : 'x';
      expectParseError({ defaults: { [field]: value } }, 'defaults', field);
      expectParseError({ force: { [field]: value } }, 'force', field);
    },
  );

  it('refuses defaults and force with an invalid value such as grant_types ["password"]', () => {
    expectParseError({ defaults: { grant_types: ['password'] } }, 'defaults', 'grant_types');
    expectParseError({ force: { grant_types: ['password'] } }, 'force', 'grant_types');
  });

  it('refuses defaults and force with values of the wrong shape', () => {
    expectParseError({ defaults: { token_endpoint_auth_method: 'magic' } }, 'defaults', 'token_endpoint_auth_method');
    expectParseError({ force: { client_uri: 'http://insecure.example.com' } }, 'force', 'client_uri');
    expectParseError({ force: { scope: 42 } }, 'force', 'scope');
  });

  it('refuses forbidden_fields naming a field that is not registrant metadata', () => {
    expectParseError({ forbidden_fields: ['metadata'] }, 'forbidden_fields', 'metadata');
    expectParseError({ forbidden_fields: ['no_such_field'] }, 'forbidden_fields', 'no_such_field');
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses max_clients %p, naming the rule', (value) => {
    expectParseError({ max_clients: value }, 'max_clients');
  });
});

describe('hostMatches: wildcard redirect URI hosts', () => {
  it('matches *.example.com against a direct subdomain', () => {
    expect(hostMatches('a.example.com', '*.example.com')).toBe(true);
  });

  it('matches *.example.com against a deeper subdomain', () => {
    expect(hostMatches('a.b.example.com', '*.example.com')).toBe(true);
  });

  it('does not match *.example.com against example.com itself', () => {
    expect(hostMatches('example.com', '*.example.com')).toBe(false);
  });

  it('does not match *.example.com against evil-example.com or example.com.evil.test', () => {
    expect(hostMatches('evil-example.com', '*.example.com')).toBe(false);
    expect(hostMatches('example.com.evil.test', '*.example.com')).toBe(false);
    expect(hostMatches('.example.com', '*.example.com')).toBe(false);
  });

  it('matches a host without a wildcard exactly, ignoring the case of the host', () => {
    expect(hostMatches('app.example.com', 'app.example.com')).toBe(true);
    expect(hostMatches('APP.Example.com', 'app.example.com')).toBe(true);
    expect(hostMatches('x.app.example.com', 'app.example.com')).toBe(false);
    expect(hostMatches('example.com', 'app.example.com')).toBe(false);
  });
});

describe('applyPolicyRules: allow-lists', () => {
  it('accepts grant types on allowed_grant_types and refuses others, naming the policy and the rule', () => {
    const rules = { allowed_grant_types: ['client_credentials'] };
    expect(apply(rules, machine()).grant_types).toEqual(['client_credentials']);
    expectViolation(rules, machine({ grant_types: ['client_credentials', 'authorization_code'] }), 'allowed_grant_types', 'authorization_code');
  });

  it('judges an absent grant_types as the RFC 7591 default ["authorization_code"]', () => {
    expectViolation({ allowed_grant_types: ['client_credentials'] }, web(), 'allowed_grant_types', 'authorization_code');
    expect(apply({ allowed_grant_types: ['authorization_code'] }, web())).toEqual(web());
  });

  it('accepts response types on allowed_response_types and refuses others', () => {
    const rules = { allowed_response_types: ['code'] };
    expect(apply(rules, web({ response_types: ['code'] })).response_types).toEqual(['code']);
    expectViolation(rules, web({ grant_types: ['authorization_code', 'implicit'], response_types: ['code', 'id_token'] }), 'allowed_response_types', 'id_token');
  });

  it('judges an absent response_types as the default: ["code"] with authorization_code, [] without', () => {
    expectViolation({ allowed_response_types: ['id_token'] }, web(), 'allowed_response_types', 'code');
    expect(apply({ allowed_response_types: [] }, machine())).toEqual(machine());
  });

  it('accepts an auth method on allowed_token_endpoint_auth_methods and refuses others', () => {
    const rules = { allowed_token_endpoint_auth_methods: ['private_key_jwt'] };
    expect(apply(rules, machine({ token_endpoint_auth_method: 'private_key_jwt' })).token_endpoint_auth_method).toBe('private_key_jwt');
    expectViolation(rules, machine({ token_endpoint_auth_method: 'client_secret_post' }), 'allowed_token_endpoint_auth_methods', 'client_secret_post');
  });

  it('judges an absent token_endpoint_auth_method as the default client_secret_basic', () => {
    expectViolation({ allowed_token_endpoint_auth_methods: ['private_key_jwt'] }, machine(), 'allowed_token_endpoint_auth_methods', 'client_secret_basic');
    expect(apply({ allowed_token_endpoint_auth_methods: ['client_secret_basic'] }, machine())).toEqual(machine());
  });

  it('accepts scopes on allowed_scopes and refuses a scope outside it, naming it', () => {
    const rules = { allowed_scopes: ['invoices.read', 'invoices.write'] };
    expect(apply(rules, machine({ scope: 'invoices.read invoices.write' })).scope).toBe('invoices.read invoices.write');
    expectViolation(rules, machine({ scope: 'invoices.read admin' }), 'allowed_scopes', 'admin');
  });

  it('accepts redirect URIs whose host matches allowed_redirect_uri_hosts', () => {
    const rules = { allowed_redirect_uri_hosts: ['*.example.com', 'partner.test'] };
    const input = web({ redirect_uris: ['https://a.example.com/cb', 'https://a.b.example.com/cb', 'https://partner.test/cb'] });
    expect(apply(rules, input).redirect_uris).toEqual(input.redirect_uris);
  });

  it.each(['https://example.com/cb', 'https://evil-example.com/cb', 'https://example.com.evil.test/cb', 'https://sub.partner.test/cb'])(
    'refuses the redirect URI %s whose host no pattern of allowed_redirect_uri_hosts matches',
    (uri) => {
      const rules = { allowed_redirect_uri_hosts: ['*.example.com', 'partner.test'] };
      expectViolation(rules, web({ redirect_uris: ['https://a.example.com/cb', uri] }), 'allowed_redirect_uri_hosts', uri);
    },
  );

  it('leaves everything through when the rule set is empty, returning an equal copy', () => {
    const input = web({ client_name: 'x', scope: 'anything at all' });
    const out = apply({}, input);
    expect(out).toEqual(input);
    expect(out).not.toBe(input);
  });
});

describe('applyPolicyRules: defaults, force and forbidden fields', () => {
  it('applies defaults only to fields that are absent', () => {
    const rules = { defaults: { scope: 'invoices.read', contacts: ['ops@example.com'] } };
    expect(apply(rules, machine())).toEqual(machine({ scope: 'invoices.read', contacts: ['ops@example.com'] }));
    expect(apply(rules, machine({ scope: 'mine' }))).toEqual(machine({ scope: 'mine', contacts: ['ops@example.com'] }));
  });

  it('forces values over what the registrant sent', () => {
    const rules = { force: { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post' } };
    const out = apply(rules, web({ grant_types: ['authorization_code'], token_endpoint_auth_method: 'client_secret_basic' }));
    expect(out.grant_types).toEqual(['client_credentials']);
    expect(out.token_endpoint_auth_method).toBe('client_secret_post');
    expect(out.redirect_uris).toEqual(['https://app.example.com/cb']);
  });

  it('forces a value over a default of the same policy', () => {
    const out = apply({ defaults: { scope: 'a' }, force: { scope: 'b' } }, machine());
    expect(out.scope).toBe('b');
  });

  it('judges the allow-lists on forced values, not on what the registrant sent', () => {
    const rules = { force: { grant_types: ['client_credentials'] }, allowed_grant_types: ['client_credentials'] };
    expect(apply(rules, web({ grant_types: ['authorization_code'] })).grant_types).toEqual(['client_credentials']);
    expectViolation(
      { force: { scope: 'admin' }, allowed_scopes: ['read'] },
      machine({ scope: 'read' }),
      'allowed_scopes',
      'admin',
    );
  });

  it('judges the allow-lists on defaulted values', () => {
    expectViolation({ defaults: { scope: 'admin' }, allowed_scopes: ['read'] }, machine(), 'allowed_scopes', 'admin');
  });

  it('does not share default or forced values with the result (mutating the result leaves the rules intact)', () => {
    const rules: PolicyRules = { defaults: { contacts: ['a@example.com'] }, force: { grant_types: ['client_credentials'] } };
    const out = applyPolicyRules('p', rules, {});
    (out.contacts as string[]).push('b@example.com');
    (out.grant_types as string[]).push('authorization_code');
    expect(rules).toEqual({ defaults: { contacts: ['a@example.com'] }, force: { grant_types: ['client_credentials'] } });
  });

  it('refuses a forbidden field when present, naming it', () => {
    const rules = { forbidden_fields: ['jwks_uri'] };
    expectViolation(rules, machine({ jwks_uri: 'https://app.example.com/jwks.json' }), 'forbidden_fields', 'jwks_uri');
    expect(apply(rules, machine())).toEqual(machine());
  });

  it('refuses a language-tagged variant (client_name#fr) when client_name is forbidden', () => {
    const rules = { forbidden_fields: ['client_name'] };
    expectViolation(rules, machine({ 'client_name#fr': 'Mon client' }), 'forbidden_fields', 'client_name');
    expectViolation(rules, machine({ client_name: 'My client' }), 'forbidden_fields', 'client_name');
  });

  it('does not modify the input object, even when it applies defaults and forced values', () => {
    const input = deepFreeze(web({ scope: 'a', contacts: ['x@example.com'] }));
    const out = applyPolicyRules('p', { defaults: { client_name: 'n' }, force: { scope: 'b' } }, input);
    expect(input).toEqual(web({ scope: 'a', contacts: ['x@example.com'] }));
    expect(out).toEqual(web({ scope: 'b', contacts: ['x@example.com'], client_name: 'n' }));
  });

  it('does not modify the input when it refuses it', () => {
    const input = machine({ scope: 'a z' });
    const before = structuredClone(input);
    expectViolation({ allowed_scopes: ['a'], force: { client_name: 'n' } }, input, 'allowed_scopes', 'z');
    expect(input).toEqual(before);
  });
});

describe('applyPolicyRules with parsed rules', () => {
  it('applies rules exactly as parsePolicyRules returned them (a round trip through the admin API)', () => {
    const rules = parsePolicyRules(JSON.parse(JSON.stringify({
      allowed_redirect_uri_hosts: ['*.Example.com'],
      allowed_grant_types: ['authorization_code', 'refresh_token'],
      defaults: { grant_types: ['authorization_code', 'refresh_token'] },
    })));
    const out = apply(rules, web({ redirect_uris: ['https://app.example.com/cb'] }));
    expect(out.grant_types).toEqual(['authorization_code', 'refresh_token']);
    expectViolation(rules, web({ redirect_uris: ['https://example.org/cb'] }), 'allowed_redirect_uri_hosts');
  });
});

describe('NativeAppPolicy: the built-in native-app policy', () => {
  const policy = new NativeAppPolicy();

  function applyNative(input: Json): Json {
    const before = structuredClone(input);
    const out = policy.apply(deepFreeze(structuredClone(input))) as Json;
    expect(input).toEqual(before);
    return out;
  }

  function expectNativeViolation(input: Json, mentions: string): OAuthError {
    const error = errorOf(() => policy.apply(input));
    expect(error.code).toBe('invalid_client_metadata');
    expect(error.description).toContain('policy "native-app"');
    expect(error.description).toContain(mentions);
    return error;
  }

  it('is named native-app', () => {
    expect(policy.name).toBe('native-app');
  });

  it('makes a public native client: token_endpoint_auth_method none and application_type native', () => {
    const out = applyNative({ redirect_uris: ['com.example.app:/cb'] });
    expect(out).toMatchObject({
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['com.example.app:/cb'],
    });
  });

  it('forces none and native over what the registrant asked for', () => {
    const out = applyNative({ redirect_uris: ['com.example.app:/cb'], token_endpoint_auth_method: 'client_secret_basic', application_type: 'web' });
    expect(out.token_endpoint_auth_method).toBe('none');
    expect(out.application_type).toBe('native');
  });

  it('keeps grant_types and response_types the registrant chose among the allowed ones', () => {
    const out = applyNative({ redirect_uris: ['http://127.0.0.1/cb'], grant_types: ['authorization_code'], response_types: ['code'] });
    expect(out.grant_types).toEqual(['authorization_code']);
  });

  it.each(['com.example.app:/cb', 'http://127.0.0.1/cb', 'http://127.0.0.1:51004/oauth/callback', 'http://[::1]/cb', 'http://localhost:8080/cb'])(
    'accepts the redirect URI %s',
    (uri) => {
      expect(applyNative({ redirect_uris: [uri] }).redirect_uris).toEqual([uri]);
    },
  );

  it.each(['https://evil.example.com/cb', 'http://evil.example.com/cb', 'myapp:/cb'])('refuses the redirect URI %s, naming the policy', (uri) => {
    expectNativeViolation({ redirect_uris: ['http://127.0.0.1/cb', uri] }, uri);
  });

  it('refuses the client_credentials grant', () => {
    expectNativeViolation({ redirect_uris: ['http://127.0.0.1/cb'], grant_types: ['client_credentials'] }, 'client_credentials');
  });

  it('refuses the implicit grant and response types other than code', () => {
    expectNativeViolation({ redirect_uris: ['http://127.0.0.1/cb'], grant_types: ['authorization_code', 'implicit'] }, 'implicit');
    expectNativeViolation({ redirect_uris: ['http://127.0.0.1/cb'], response_types: ['code', 'token'] }, 'response_types');
  });
});
