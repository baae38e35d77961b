import { describe, expect, it } from '@jest/globals';
import {
  usesClientSecret,
  validateClientMetadata,
  type ValidationOptions,
} from '../../src/clients/client-validator.js';
import { OAuthError, type OAuthErrorCode } from '../../src/common/oauth-error.js';
import { thrownOAuthError as errorOf } from '../support/expect.js';

const DEFAULT_OPTIONS: ValidationOptions = {
  defaultScope: 'openid offline_access',
  allowLocalhostRedirects: false,
};

/** A public EC P-256 key (the private half is not known). */
const EC_KEY = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
  kid: 'ec-1',
};
const RSA_KEY = { kty: 'RSA', n: 'sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1Wl', e: 'AQAB', kid: 'rsa-1' };
const OKP_KEY = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'okp-1' };

function validate(input: Record<string, unknown>, options: Partial<ValidationOptions> = {}) {
  return validateClientMetadata(input, { ...DEFAULT_OPTIONS, ...options });
}

/** A web client that is valid as it stands. */
function web(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { redirect_uris: ['https://app.example.com/callback'], ...overrides };
}

/** A machine client that is valid as it stands. */
function machine(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { grant_types: ['client_credentials'], ...overrides };
}


function expectRefused(
  input: Record<string, unknown>,
  code: OAuthErrorCode,
  field: string,
  options: Partial<ValidationOptions> = {},
): OAuthError {
  const error = errorOf(() => validate(input, options));
  expect(error.code).toBe(code);
  expect(error.description).toContain(field);
  return error;
}

const refusedMetadata = (input: Record<string, unknown>, field: string, options: Partial<ValidationOptions> = {}) =>
  expectRefused(input, 'invalid_client_metadata', field, options);
const refusedRedirect = (input: Record<string, unknown>, field = 'redirect_uris', options: Partial<ValidationOptions> = {}) =>
  expectRefused(input, 'invalid_redirect_uri', field, options);

describe('validateClientMetadata: defaults', () => {
  it('gives grant_types ["authorization_code"] and response_types ["code"] when both are omitted', () => {
    const out = validate(web());
    expect(out.grant_types).toEqual(['authorization_code']);
    expect(out.response_types).toEqual(['code']);
  });

  it('defaults token_endpoint_auth_method to client_secret_basic', () => {
    expect(validate(web()).token_endpoint_auth_method).toBe('client_secret_basic');
  });

  it('defaults application_type to web', () => {
    expect(validate(web()).application_type).toBe('web');
  });

  it('gives a client that asks for no scope the configured default scope', () => {
    expect(validate(web(), { defaultScope: 'read write' }).scope).toBe('read write');
    expect(validate(machine(), { defaultScope: 'api:read' }).scope).toBe('api:read');
  });

  it('keeps a requested scope instead of the default one', () => {
    expect(validate(web({ scope: 'profile' }), { defaultScope: 'read write' }).scope).toBe('profile');
  });

  it('gives a machine client with only client_credentials response_types [] and needs no redirect_uris', () => {
    const out = validate({ grant_types: ['client_credentials'] });
    expect(out.grant_types).toEqual(['client_credentials']);
    expect(out.response_types).toEqual([]);
    expect(out.redirect_uris).toEqual([]);
  });

  it('keeps the values a registrant gives instead of the defaults', () => {
    const out = validate(
      web({
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
        application_type: 'native',
        redirect_uris: ['com.example.app:/callback'],
      }),
    );
    expect(out.grant_types).toEqual(['authorization_code', 'refresh_token']);
    expect(out.token_endpoint_auth_method).toBe('client_secret_post');
    expect(out.application_type).toBe('native');
    expect(out.redirect_uris).toEqual(['com.example.app:/callback']);
  });

  it('requires redirect_uris for the default authorization_code grant', () => {
    refusedRedirect({});
    refusedRedirect({ redirect_uris: [] });
  });

  it('requires redirect_uris for the implicit grant', () => {
    refusedRedirect({ grant_types: ['implicit'], response_types: ['token'] });
  });

  it('does not modify the input object', () => {
    const input = web({ scope: 'a a b', unknown_field: 1 });
    const copy = structuredClone(input);
    validate(input);
    expect(input).toEqual(copy);
  });
});

describe('validateClientMetadata: redirect URIs of web clients', () => {
  it('accepts https redirect URIs', () => {
    const uris = ['https://app.example.com/callback', 'https://app.example.com:8443/cb?x=1'];
    expect(validate(web({ redirect_uris: uris })).redirect_uris).toEqual(uris);
  });

  it('accepts http on 127.0.0.1 and [::1]', () => {
    const uris = ['http://127.0.0.1/callback', 'http://127.0.0.1:8080/callback', 'http://[::1]:8080/callback'];
    expect(validate(web({ redirect_uris: uris })).redirect_uris).toEqual(uris);
  });

  it('refuses http on any other host', () => {
    refusedRedirect(web({ redirect_uris: ['http://app.example.com/callback'] }));
    refusedRedirect(web({ redirect_uris: ['http://127.0.0.1.example.com/callback'] }));
  });

  it('refuses http://localhost unless allowLocalhostRedirects is set', () => {
    refusedRedirect(web({ redirect_uris: ['http://localhost:3000/callback'] }));
    const out = validate(web({ redirect_uris: ['http://localhost:3000/callback'] }), { allowLocalhostRedirects: true });
    expect(out.redirect_uris).toEqual(['http://localhost:3000/callback']);
  });

  it('refuses a redirect URI with a fragment', () => {
    refusedRedirect(web({ redirect_uris: ['https://app.example.com/callback#section'] }));
  });

  it('refuses a redirect URI with an empty fragment', () => {
    refusedRedirect(web({ redirect_uris: ['https://app.example.com/callback#'] }));
  });

  it('refuses relative redirect URIs', () => {
    refusedRedirect(web({ redirect_uris: ['/callback'] }));
    refusedRedirect(web({ redirect_uris: ['callback'] }));
    refusedRedirect(web({ redirect_uris: ['//app.example.com/callback'] }));
  });

  it('refuses a private-use scheme for a web client', () => {
    refusedRedirect(web({ redirect_uris: ['com.example.app:/callback'] }));
  });

  it('refuses every list in which one redirect URI is bad', () => {
    refusedRedirect(web({ redirect_uris: ['https://app.example.com/callback', 'http://app.example.com/callback'] }));
  });

  it('applies the same rules to post_logout_redirect_uris', () => {
    refusedRedirect(web({ post_logout_redirect_uris: ['http://app.example.com/bye'] }), 'post_logout_redirect_uris');
    const out = validate(web({ post_logout_redirect_uris: ['https://app.example.com/bye'] }));
    expect(out.post_logout_redirect_uris).toEqual(['https://app.example.com/bye']);
  });

  it('refuses redirect URIs that are not strings', () => {
    refusedMetadata(web({ redirect_uris: [42] }), 'redirect_uris');
    refusedMetadata(web({ redirect_uris: 'https://app.example.com/callback' }), 'redirect_uris');
  });
});

describe('validateClientMetadata: redirect URIs of native clients', () => {
  const native = (uris: string[]) => ({ application_type: 'native', redirect_uris: uris });

  it('accepts loopback http on 127.0.0.1, [::1] and localhost', () => {
    const uris = ['http://127.0.0.1:51004/callback', 'http://[::1]/callback', 'http://localhost:8400/callback'];
    expect(validate(native(uris)).redirect_uris).toEqual(uris);
  });

  it('accepts https', () => {
    expect(validate(native(['https://app.example.com/callback'])).redirect_uris).toEqual([
      'https://app.example.com/callback',
    ]);
  });

  it('accepts a private-use scheme in reverse domain notation such as com.example.app:/cb', () => {
    expect(validate(native(['com.example.app:/cb'])).redirect_uris).toEqual(['com.example.app:/cb']);
  });

  it('refuses a private-use scheme without a dot', () => {
    refusedRedirect(native(['myapp:/cb']));
  });

  it('refuses http on a host that is not loopback', () => {
    refusedRedirect(native(['http://app.example.com/callback']));
  });

  it('refuses a fragment, also on a private-use scheme', () => {
    refusedRedirect(native(['com.example.app:/cb#x']));
    refusedRedirect(native(['http://127.0.0.1/cb#x']));
  });

  it('refuses relative redirect URIs', () => {
    refusedRedirect(native(['/callback']));
  });
});

describe('validateClientMetadata: grant types and response types', () => {
  it('refuses response type code without the authorization_code grant', () => {
    refusedMetadata(web({ grant_types: ['implicit'], response_types: ['code'] }), 'response_types');
  });

  it('refuses response type token without the implicit grant', () => {
    refusedMetadata(web({ grant_types: ['authorization_code'], response_types: ['token'] }), 'response_types');
  });

  it('refuses response type id_token without the implicit grant', () => {
    refusedMetadata(web({ grant_types: ['authorization_code'], response_types: ['id_token'] }), 'response_types');
  });

  it('refuses a hybrid response type unless both grants are registered', () => {
    refusedMetadata(web({ grant_types: ['authorization_code'], response_types: ['code id_token'] }), 'response_types');
    refusedMetadata(web({ grant_types: ['implicit'], response_types: ['code id_token'] }), 'response_types');
    const out = validate(web({ grant_types: ['authorization_code', 'implicit'], response_types: ['code id_token'] }));
    expect(out.response_types).toEqual(['code id_token']);
  });

  it('accepts token and id_token with the implicit grant', () => {
    const out = validate(web({ grant_types: ['implicit'], response_types: ['token', 'id_token', 'id_token token'] }));
    expect(out.response_types).toEqual(['token', 'id_token', 'id_token token']);
  });

  it('refuses refresh_token without authorization_code', () => {
    refusedMetadata(machine({ grant_types: ['client_credentials', 'refresh_token'] }), 'grant_types');
  });

  it('accepts refresh_token together with authorization_code', () => {
    expect(validate(web({ grant_types: ['authorization_code', 'refresh_token'] })).grant_types).toEqual([
      'authorization_code',
      'refresh_token',
    ]);
  });

  it('refuses an unsupported grant type', () => {
    refusedMetadata(web({ grant_types: ['authorization_code', 'password'] }), 'grant_types');
    refusedMetadata(machine({ grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] }), 'grant_types');
  });

  it('refuses an unsupported response type', () => {
    refusedMetadata(web({ response_types: ['code', 'magic'] }), 'response_types');
    refusedMetadata(web({ response_types: ['token code'] }), 'response_types');
  });

  it('refuses grant_types and response_types that are not arrays of strings', () => {
    refusedMetadata(machine({ grant_types: 'client_credentials' }), 'grant_types');
    refusedMetadata(machine({ grant_types: [1] }), 'grant_types');
    refusedMetadata(web({ response_types: 'code' }), 'response_types');
  });

  it('removes duplicate grant types', () => {
    expect(validate(machine({ grant_types: ['client_credentials', 'client_credentials'] })).grant_types).toEqual([
      'client_credentials',
    ]);
  });
});

describe('validateClientMetadata: token endpoint authentication', () => {
  it('accepts each supported method', () => {
    expect(validate(machine({ token_endpoint_auth_method: 'client_secret_basic' })).token_endpoint_auth_method).toBe(
      'client_secret_basic',
    );
    expect(validate(machine({ token_endpoint_auth_method: 'client_secret_post' })).token_endpoint_auth_method).toBe(
      'client_secret_post',
    );
    expect(
      validate(machine({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [EC_KEY] } }))
        .token_endpoint_auth_method,
    ).toBe('private_key_jwt');
    expect(validate(web({ token_endpoint_auth_method: 'none' })).token_endpoint_auth_method).toBe('none');
    expect(validate(machine({ token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS512' }))).toMatchObject({
      token_endpoint_auth_method: 'client_secret_jwt',
      token_endpoint_auth_signing_alg: 'HS512',
    });
  });

  it('refuses an unsupported method', () => {
    refusedMetadata(machine({ token_endpoint_auth_method: 'self_signed_tls_client_auth' }), 'token_endpoint_auth_method');
    refusedMetadata(machine({ token_endpoint_auth_method: 'tls_client_auth' }), 'token_endpoint_auth_method');
  });

  it('refuses none together with client_credentials', () => {
    refusedMetadata(machine({ token_endpoint_auth_method: 'none' }), 'token_endpoint_auth_method');
    refusedMetadata(
      web({ grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'none' }),
      'token_endpoint_auth_method',
    );
  });

  it('refuses private_key_jwt without jwks or jwks_uri', () => {
    refusedMetadata(machine({ token_endpoint_auth_method: 'private_key_jwt' }), 'private_key_jwt');
  });

  it('accepts private_key_jwt with a jwks_uri', () => {
    const out = validate(
      machine({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://app.example.com/jwks.json' }),
    );
    expect(out.jwks_uri).toBe('https://app.example.com/jwks.json');
  });

  it('refuses jwks and jwks_uri together', () => {
    refusedMetadata(
      machine({
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [EC_KEY] },
        jwks_uri: 'https://app.example.com/jwks.json',
      }),
      'jwks',
    );
  });

  it('refuses token_endpoint_auth_signing_alg for a method other than private_key_jwt', () => {
    refusedMetadata(machine({ token_endpoint_auth_signing_alg: 'RS256' }), 'token_endpoint_auth_signing_alg');
  });

  it('refuses a token_endpoint_auth_signing_alg that is not advertised', () => {
    refusedMetadata(
      machine({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [EC_KEY] }, token_endpoint_auth_signing_alg: 'HS256' }),
      'token_endpoint_auth_signing_alg',
    );
  });
});

describe('validateClientMetadata: jwks', () => {
  it('accepts a JWK Set of public RSA, EC and OKP keys', () => {
    const jwks = { keys: [RSA_KEY, EC_KEY, OKP_KEY] };
    expect(validate(machine({ jwks })).jwks).toEqual(jwks);
  });

  it('refuses a key with the private member d', () => {
    refusedMetadata(machine({ jwks: { keys: [{ ...EC_KEY, d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI' }] } }), 'jwks');
    refusedMetadata(machine({ jwks: { keys: [RSA_KEY, { ...RSA_KEY, d: 'secret' }] } }), 'jwks');
  });

  it('refuses other private RSA members such as p and q', () => {
    refusedMetadata(machine({ jwks: { keys: [{ ...RSA_KEY, p: 'x', q: 'y' }] } }), 'jwks');
  });

  it('refuses a symmetric key (member k)', () => {
    refusedMetadata(machine({ jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }), 'jwks');
  });

  it('refuses a key with an unsupported kty', () => {
    refusedMetadata(machine({ jwks: { keys: [{ ...RSA_KEY, kty: 'DSA' }] } }), 'jwks');
    refusedMetadata(machine({ jwks: { keys: [{ n: RSA_KEY.n, e: RSA_KEY.e }] } }), 'jwks');
  });

  it('refuses a key that lacks a member its kty needs', () => {
    refusedMetadata(machine({ jwks: { keys: [{ kty: 'RSA', e: 'AQAB' }] } }), 'jwks');
    refusedMetadata(machine({ jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: EC_KEY.x }] } }), 'jwks');
  });

  it('refuses a value that is not a JWK Set', () => {
    refusedMetadata(machine({ jwks: [EC_KEY] }), 'jwks');
    refusedMetadata(machine({ jwks: EC_KEY }), 'jwks');
    refusedMetadata(machine({ jwks: { keys: [] } }), 'jwks');
    refusedMetadata(machine({ jwks: { keys: ['key'] } }), 'jwks');
    refusedMetadata(machine({ jwks: 'keys' }), 'jwks');
  });
});

describe('validateClientMetadata: URLs that must be absolute https', () => {
  for (const field of [
    'client_uri',
    'logo_uri',
    'policy_uri',
    'tos_uri',
    'jwks_uri',
    'sector_identifier_uri',
    'initiate_login_uri',
  ]) {
    it(`accepts an https ${field} and refuses http, relative and non-string values`, () => {
      const url = 'https://app.example.com/resource';
      const base = field === 'sector_identifier_uri' ? web() : machine();
      expect(validate({ ...base, [field]: url })[field]).toBe(url);
      refusedMetadata({ ...base, [field]: 'http://app.example.com/resource' }, field);
      refusedMetadata({ ...base, [field]: '/resource' }, field);
      refusedMetadata({ ...base, [field]: 'ftp://app.example.com/resource' }, field);
      refusedMetadata({ ...base, [field]: 7 }, field);
    });
  }

  it('refuses request_uris, https or not, since request objects are not served; an empty list asks for nothing', () => {
    refusedMetadata(web({ request_uris: ['https://app.example.com/r/1', 'https://app.example.com/r/2'] }), 'request_uris');
    refusedMetadata(web({ request_uris: ['http://app.example.com/r/2'] }), 'request_uris');
    expect(validate(web({ request_uris: [] })).request_uris).toEqual([]);
  });
});

describe('validateClientMetadata: default_max_age and require_auth_time', () => {
  it('keeps default_max_age 0', () => {
    const out = validate(web({ default_max_age: 0 }));
    expect(out.default_max_age).toBe(0);
  });

  it('keeps default_max_age null', () => {
    const out = validate(web({ default_max_age: null }));
    expect(Object.hasOwn(out, 'default_max_age')).toBe(true);
    expect(out.default_max_age).toBeNull();
  });

  it('leaves an absent default_max_age absent', () => {
    expect(Object.hasOwn(validate(web()), 'default_max_age')).toBe(false);
  });

  it('keeps a positive integer default_max_age', () => {
    expect(validate(web({ default_max_age: 3600 })).default_max_age).toBe(3600);
  });

  it('refuses a negative default_max_age', () => {
    refusedMetadata(web({ default_max_age: -1 }), 'default_max_age');
  });

  it('refuses a non-integer default_max_age', () => {
    refusedMetadata(web({ default_max_age: 1.5 }), 'default_max_age');
    refusedMetadata(web({ default_max_age: '60' }), 'default_max_age');
    refusedMetadata(web({ default_max_age: Number.NaN }), 'default_max_age');
    refusedMetadata(web({ default_max_age: Number.POSITIVE_INFINITY }), 'default_max_age');
  });

  it('accepts a boolean require_auth_time', () => {
    expect(validate(web({ require_auth_time: true })).require_auth_time).toBe(true);
    expect(validate(web({ require_auth_time: false })).require_auth_time).toBe(false);
  });

  it('refuses a require_auth_time that is not a boolean', () => {
    refusedMetadata(web({ require_auth_time: 'true' }), 'require_auth_time');
    refusedMetadata(web({ require_auth_time: 1 }), 'require_auth_time');
  });

  it('accepts default_acr_values as a list of strings and refuses anything else', () => {
    expect(validate(web({ default_acr_values: ['urn:acr:1', 'urn:acr:2'] })).default_acr_values).toEqual([
      'urn:acr:1',
      'urn:acr:2',
    ]);
    refusedMetadata(web({ default_acr_values: [1] }), 'default_acr_values');
    refusedMetadata(web({ default_acr_values: 'urn:acr:1' }), 'default_acr_values');
  });
});

describe('validateClientMetadata: signing algorithms', () => {
  it('accepts advertised algorithms', () => {
    const out = validate(web({ id_token_signed_response_alg: 'ES256', userinfo_signed_response_alg: 'none' }));
    expect(out.id_token_signed_response_alg).toBe('ES256');
    expect(out.userinfo_signed_response_alg).toBe('none');
  });

  it('refuses algorithms that are not advertised', () => {
    refusedMetadata(web({ id_token_signed_response_alg: 'HS256' }), 'id_token_signed_response_alg');
    refusedMetadata(web({ id_token_signed_response_alg: 'none' }), 'id_token_signed_response_alg');
    refusedMetadata(web({ request_object_signing_alg: 'HS512' }), 'request_object_signing_alg');
  });
});

describe('validateClientMetadata: language-tagged fields (BCP 47)', () => {
  it('accepts client_name#fr and other tagged human-readable fields', () => {
    const out = validate(
      web({
        client_name: 'My App',
        'client_name#fr': 'Mon appli',
        'client_name#zh-Hant-TW': '我的應用',
        'logo_uri#fr': 'https://app.example.com/logo-fr.png',
      }),
    );
    expect(out['client_name#fr']).toBe('Mon appli');
    expect(out['client_name#zh-Hant-TW']).toBe('我的應用');
    expect(out['logo_uri#fr']).toBe('https://app.example.com/logo-fr.png');
  });

  it('refuses a malformed language tag', () => {
    refusedMetadata(web({ 'client_name#fr_FR': 'Mon appli' }), 'client_name#fr_FR');
    refusedMetadata(web({ 'client_name#1': 'x' }), 'client_name#1');
    refusedMetadata(web({ 'client_name#': 'x' }), 'client_name#');
  });

  it('validates the value of a tagged field like the untagged field', () => {
    refusedMetadata(web({ 'logo_uri#fr': 'http://app.example.com/logo.png' }), 'logo_uri#fr');
    refusedMetadata(web({ 'client_name#fr': 12 }), 'client_name#fr');
  });
});

describe('validateClientMetadata: fields that are dropped', () => {
  it('drops unknown fields silently', () => {
    const out = validate(web({ favourite_colour: 'blue', 'scope#fr': 'x' }));
    expect(out).not.toHaveProperty('favourite_colour');
    expect(out).not.toHaveProperty(['scope#fr']);
  });

  it('drops server-set fields such as client_id and created_at silently', () => {
    const out = validate(web({ client_id: 'chosen-by-me', created_at: '2020-01-01T00:00:00Z', client_id_issued_at: 1 }));
    expect(out).not.toHaveProperty('client_id');
    expect(out).not.toHaveProperty('created_at');
    expect(out).not.toHaveProperty('client_id_issued_at');
  });

  it('drops null values of ordinary fields and applies the default', () => {
    const out = validate(web({ token_endpoint_auth_method: null, client_name: null }));
    expect(out.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(out).not.toHaveProperty('client_name');
  });
});

describe('validateClientMetadata: scope', () => {
  it('refuses a scope outside allowedScopes', () => {
    const error = refusedMetadata(web({ scope: 'read admin' }), 'scope', { allowedScopes: ['read', 'write'] });
    expect(error.description).toContain('admin');
  });

  it('accepts a scope inside allowedScopes', () => {
    expect(validate(web({ scope: 'read write' }), { allowedScopes: ['read', 'write'] }).scope).toBe('read write');
  });

  it('accepts any syntactically valid scope when allowedScopes is unset', () => {
    expect(validate(web({ scope: 'urn:example:anything https://api.example.com/x' })).scope).toBe(
      'urn:example:anything https://api.example.com/x',
    );
  });

  it('removes duplicate scope tokens and extra spaces', () => {
    expect(validate(web({ scope: '  read  write read ' })).scope).toBe('read write');
  });

  it('refuses a scope token with a backslash', () => {
    refusedMetadata(web({ scope: 'read wr\\ite' }), 'scope');
  });

  it('refuses a scope token with a double quote', () => {
    refusedMetadata(web({ scope: 'read "write"' }), 'scope');
  });

  it('refuses a scope token with a control character or non-ASCII character', () => {
    refusedMetadata(web({ scope: 'read\twrite' }), 'scope');
    refusedMetadata(web({ scope: 'lecture écriture' }), 'scope');
  });

  it('refuses a scope that is not a string', () => {
    refusedMetadata(web({ scope: ['read', 'write'] }), 'scope');
  });
});

describe('validateClientMetadata: bounded sizes', () => {
  it('refuses a 2001-character client_name with invalid_client_metadata', () => {
    refusedMetadata(web({ client_name: 'a'.repeat(2001) }), 'client_name');
  });

  it('accepts a 2000-character client_name', () => {
    expect(validate(web({ client_name: 'a'.repeat(2000) })).client_name).toHaveLength(2000);
  });

  it('refuses 101 redirect URIs with invalid_client_metadata', () => {
    const uris = Array.from({ length: 101 }, (_, i) => `https://app.example.com/cb/${i}`);
    refusedMetadata(web({ redirect_uris: uris }), 'redirect_uris');
  });

  it('accepts 100 redirect URIs', () => {
    const uris = Array.from({ length: 100 }, (_, i) => `https://app.example.com/cb/${i}`);
    expect(validate(web({ redirect_uris: uris })).redirect_uris).toHaveLength(100);
  });

  it('refuses an overlong URL, an overlong list of contacts and a JWK Set with too many keys', () => {
    refusedMetadata(web({ client_uri: `https://app.example.com/${'a'.repeat(3000)}` }), 'client_uri');
    refusedMetadata(web({ redirect_uris: [`https://app.example.com/${'a'.repeat(3000)}`] }), 'redirect_uris');
    refusedMetadata(web({ contacts: Array.from({ length: 1000 }, (_, i) => `c${i}@example.com`) }), 'contacts');
    refusedMetadata(machine({ jwks: { keys: Array.from({ length: 1000 }, () => EC_KEY) } }), 'jwks');
  });

  it('never throws anything other than an OAuthError, whatever the value of a field', () => {
    const hostile: unknown[] = [
      'a'.repeat(100_000),
      Array.from({ length: 10_000 }, () => 'https://app.example.com/cb'),
      12,
      -1,
      true,
      {},
      { keys: 'x' },
      [null],
      [[]],
      [{}],
      ['http://[::1'],
    ];
    const fields = [
      'redirect_uris',
      'post_logout_redirect_uris',
      'grant_types',
      'response_types',
      'token_endpoint_auth_method',
      'client_name',
      'client_uri',
      'scope',
      'contacts',
      'jwks',
      'jwks_uri',
      'application_type',
      'subject_type',
      'default_max_age',
      'require_auth_time',
      'request_uris',
      'allowed_cors_origins',
      'audience',
    ];
    let refusals = 0;
    for (const field of fields) {
      for (const value of hostile) {
        try {
          validate(web({ [field]: value }));
        } catch (error) {
          expect(error).toBeInstanceOf(OAuthError);
          expect((error as OAuthError).code).toMatch(/^invalid_(client_metadata|redirect_uri)$/);
          refusals += 1;
        }
      }
    }
    expect(refusals).toBeGreaterThan(fields.length * 5);
  });
});

describe('validateClientMetadata: pairwise subject type', () => {
  it('refuses pairwise with redirect URIs on two hosts and no sector_identifier_uri', () => {
    const error = errorOf(() =>
      validate({
        subject_type: 'pairwise',
        redirect_uris: ['https://a.example.com/cb', 'https://b.example.org/cb'],
      }),
    );
    expect(['invalid_redirect_uri', 'invalid_client_metadata']).toContain(error.code);
    expect(error.description).toContain('sector_identifier_uri');
  });

  it('accepts pairwise with redirect URIs on one host', () => {
    const out = validate({
      subject_type: 'pairwise',
      redirect_uris: ['https://a.example.com/cb', 'https://a.example.com/other'],
    });
    expect(out.subject_type).toBe('pairwise');
  });

  it('accepts pairwise with redirect URIs on two hosts when a sector_identifier_uri is given', () => {
    const out = validate({
      subject_type: 'pairwise',
      redirect_uris: ['https://a.example.com/cb', 'https://b.example.org/cb'],
      sector_identifier_uri: 'https://a.example.com/sector.json',
    });
    expect(out.sector_identifier_uri).toBe('https://a.example.com/sector.json');
  });

  it('refuses an unsupported subject_type', () => {
    refusedMetadata(web({ subject_type: 'anonymous' }), 'subject_type');
  });
});

describe('validateClientMetadata: application_type', () => {
  it('refuses an application_type other than web and native', () => {
    refusedMetadata(web({ application_type: 'desktop' }), 'application_type');
  });
});

describe('usesClientSecret', () => {
  it('is true for client_secret_basic and client_secret_post', () => {
    expect(usesClientSecret({ token_endpoint_auth_method: 'client_secret_basic' })).toBe(true);
    expect(usesClientSecret({ token_endpoint_auth_method: 'client_secret_post' })).toBe(true);
  });

  it('is false for private_key_jwt and none', () => {
    expect(usesClientSecret({ token_endpoint_auth_method: 'private_key_jwt' })).toBe(false);
    expect(usesClientSecret({ token_endpoint_auth_method: 'none' })).toBe(false);
  });

  it('is true for validated metadata that took the default method', () => {
    expect(usesClientSecret(validate(machine()))).toBe(true);
  });

  it('is false for validated metadata of a public client', () => {
    expect(usesClientSecret(validate(web({ token_endpoint_auth_method: 'none' })))).toBe(false);
  });
});
