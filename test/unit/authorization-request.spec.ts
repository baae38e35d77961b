import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  authorizationResponseUrl,
  matchesRegisteredRedirect,
  RedirectableError,
  validateAuthorizationRequest,
  type RequestPolicy,
} from '../../src/authorization/authorization-request.js';
import type { ClientEntity } from '../../src/clients/client.entity.js';
import { OAuthError } from '../../src/common/oauth-error.js';
import { signCookieValue, verifyCookieValue } from '../../src/common/cookies.js';
import { accessTokenHash, extraClaims } from '../../src/tokens/id-tokens.service.js';

const CHALLENGE = createHash('sha256').update('v'.repeat(43)).digest('base64url');
const POLICY: RequestPolicy = { pkceEnforced: false, requestUrl: 'https://as.example.com/oauth2/auth?x' };

function client(fields: Record<string, unknown> = {}): ClientEntity {
  return {
    id: 'c1',
    fields: {
      redirect_uris: ['https://app.example.com/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid offline_access read',
      audience: ['https://api.example.com'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...fields,
    },
  } as unknown as ClientEntity;
}

function validate(params: Record<string, string> | string, c = client(), policy = POLICY) {
  const query = typeof params === 'string' ? new URLSearchParams(params) : new URLSearchParams({ response_type: 'code', ...params });
  return validateAuthorizationRequest(c, query, policy);
}

function redirected(fn: () => unknown): RedirectableError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RedirectableError) return err;
    throw err;
  }
  throw new Error('expected a RedirectableError');
}

function jsonError(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
  throw new Error('expected an OAuthError');
}

describe('redirect URI matching (RFC 6749 §3.1.2, RFC 8252 §7.3)', () => {
  const WEB = { native: false };
  const NATIVE = { native: true };
  const registered = ['https://app.example.com/cb', 'http://127.0.0.1/native', 'http://[::1]:8080/v6', 'http://localhost/cb'];

  it('matches registered URIs exactly', () => {
    expect(matchesRegisteredRedirect('https://app.example.com/cb', registered, WEB)).toBe(true);
    expect(matchesRegisteredRedirect('https://app.example.com/cb/', registered, WEB)).toBe(false);
    expect(matchesRegisteredRedirect('https://app.example.com/cb?x=1', registered, WEB)).toBe(false);
    expect(matchesRegisteredRedirect('https://app.example.com:8443/cb', registered, WEB)).toBe(false);
    expect(matchesRegisteredRedirect('HTTPS://app.example.com/cb', registered, WEB)).toBe(false);
  });

  it('lets a native client\'s loopback redirect URIs use any port, but nothing else', () => {
    expect(matchesRegisteredRedirect('http://127.0.0.1:51234/native', registered, NATIVE)).toBe(true);
    expect(matchesRegisteredRedirect('http://[::1]:1/v6', registered, NATIVE)).toBe(true);
    expect(matchesRegisteredRedirect('http://localhost:3000/cb', registered, NATIVE)).toBe(true);
    expect(matchesRegisteredRedirect('http://127.0.0.1:51234/other', registered, NATIVE)).toBe(false);
    expect(matchesRegisteredRedirect('http://127.0.0.2:51234/native', registered, NATIVE)).toBe(false);
    expect(matchesRegisteredRedirect('http://user@127.0.0.1:5/native', registered, NATIVE)).toBe(false);
    expect(matchesRegisteredRedirect('not a url', registered, NATIVE)).toBe(false);
    expect(matchesRegisteredRedirect('http://127.0.0.1:51234/native#frag', registered, NATIVE)).toBe(false);
    expect(matchesRegisteredRedirect('http://127.0.0.1:51234/native#', registered, NATIVE)).toBe(false);
  });

  it('gives a web client\'s loopback redirect URIs no port flexibility', () => {
    expect(matchesRegisteredRedirect('http://127.0.0.1/native', registered, WEB)).toBe(true);
    expect(matchesRegisteredRedirect('http://[::1]:8080/v6', registered, WEB)).toBe(true);
    expect(matchesRegisteredRedirect('http://127.0.0.1:51234/native', registered, WEB)).toBe(false);
    expect(matchesRegisteredRedirect('http://[::1]:1/v6', registered, WEB)).toBe(false);
    expect(matchesRegisteredRedirect('http://localhost:3000/cb', registered, WEB)).toBe(false);
  });
});

describe('authorization request validation', () => {
  it('accepts a minimal request and settles the only registered redirect URI', () => {
    const r = validate({ scope: 'openid read', state: 's', nonce: 'n' });
    expect(r).toMatchObject({ redirect_uri: 'https://app.example.com/cb', redirect_uri_sent: false, scope: ['openid', 'read'], state: 's', nonce: 'n' });
  });

  it('answers client and redirect URI problems as JSON, never as a redirect', () => {
    expect(jsonError(() => validate({ redirect_uri: 'https://evil.example.com/cb' })).code).toBe('invalid_request');
    const two = client({ redirect_uris: ['https://a.example.com/cb', 'https://b.example.com/cb'] });
    expect(jsonError(() => validate({}, two)).description).toContain('redirect_uri is required');
    expect(jsonError(() => validate('client_id=c1&redirect_uri=https://app.example.com/cb&redirect_uri=https://app.example.com/cb')).description).toContain('redirect_uri must not be repeated');
  });

  it('sends the other problems back to the redirect URI with the state', () => {
    const cases: Array<[Record<string, string> | string, string]> = [
      ['state=s', 'invalid_request'],
      [{ response_type: 'token', state: 's' }, 'unsupported_response_type'],
      [{ scope: 'admin', state: 's' }, 'invalid_scope'],
      [{ audience: 'https://other.example.com', state: 's' }, 'invalid_request'],
      [{ code_challenge: CHALLENGE, code_challenge_method: 'plain', state: 's' }, 'invalid_request'],
      [{ code_challenge: 'short', code_challenge_method: 'S256', state: 's' }, 'invalid_request'],
      [{ code_challenge_method: 'S256', state: 's' }, 'invalid_request'],
      [{ prompt: 'none login', state: 's' }, 'invalid_request'],
      [{ prompt: 'sometimes', state: 's' }, 'invalid_request'],
      [{ max_age: '-1', state: 's' }, 'invalid_request'],
      [{ response_mode: 'fragment', state: 's' }, 'invalid_request'],
      [{ request: 'eyJ', state: 's' }, 'request_not_supported'],
      [{ request_uri: 'https://x', state: 's' }, 'request_uri_not_supported'],
      ['response_type=code&scope=a&scope=b&state=s', 'invalid_request'],
    ];
    for (const [params, code] of cases) {
      const err = redirected(() => validate(params));
      expect([params, err.code]).toEqual([params, code]);
      expect(err.redirectUri).toBe('https://app.example.com/cb');
      expect(err.state).toBe('s');
    }
  });

  it('refuses clients not registered for the code flow with unauthorized_client', () => {
    expect(redirected(() => validate({}, client({ grant_types: ['client_credentials'] }))).code).toBe('unauthorized_client');
    expect(redirected(() => validate({}, client({ response_types: [] }))).code).toBe('unauthorized_client');
  });

  it('requires PKCE S256 from public clients, and from all clients when enforced', () => {
    const pub = client({ token_endpoint_auth_method: 'none' });
    expect(redirected(() => validate({}, pub)).description).toContain('code_challenge is required');
    expect(validate({ code_challenge: CHALLENGE, code_challenge_method: 'S256' }, pub).code_challenge).toBe(CHALLENGE);
    expect(validate({}).code_challenge).toBeUndefined();
    expect(redirected(() => validate({}, client(), { ...POLICY, pkceEnforced: true })).description).toContain('PKCE is required');
  });

  it('reads prompt, max_age (or the client default) and the OIDC hints', () => {
    const r = validate({ prompt: 'login consent', max_age: '60', ui_locales: 'de en', login_hint: 'bob', acr_values: 'a b' });
    expect(r).toMatchObject({ prompt: ['login', 'consent'], max_age: 60, ui_locales: ['de', 'en'], login_hint: 'bob', acr_values: ['a', 'b'] });
    expect(validate({}, client({ default_max_age: 300 })).max_age).toBe(300);
  });
});

describe('authorization responses', () => {
  it('carry iss (RFC 9207) and keep the redirect URI\'s own query', () => {
    const url = new URL(authorizationResponseUrl('https://app.example.com/cb?tenant=7', 'https://as.example.com', { code: 'c', state: undefined }));
    expect(Object.fromEntries(url.searchParams)).toEqual({ tenant: '7', code: 'c', iss: 'https://as.example.com' });
  });
});

describe('signed cookies', () => {
  it('verify with any current secret and refuse tampering', () => {
    const signed = signCookieValue('session-id', ['new', 'old']);
    expect(verifyCookieValue(signed, ['new'])).toBe('session-id');
    expect(verifyCookieValue(signCookieValue('session-id', ['old']), ['new', 'old'])).toBe('session-id');
    expect(verifyCookieValue(signed.replace('session-id', 'other-id'), ['new'])).toBeUndefined();
    expect(verifyCookieValue(signed, ['unrelated'])).toBeUndefined();
    expect(verifyCookieValue('no-signature', ['new'])).toBeUndefined();
    expect(verifyCookieValue(undefined, ['new'])).toBeUndefined();
  });
});

describe('ID token helpers', () => {
  it('computes at_hash as the left half of the hash the signing algorithm uses', () => {
    const sha256 = createHash('sha256').update('token').digest();
    expect(accessTokenHash('token', 'RS256')).toBe(sha256.subarray(0, 16).toString('base64url'));
    expect(accessTokenHash('token', 'ES256')).toBe(sha256.subarray(0, 16).toString('base64url'));
    const sha512 = createHash('sha512').update('token').digest();
    expect(accessTokenHash('token', 'EdDSA')).toBe(sha512.subarray(0, 32).toString('base64url'));
  });

  it('drops extra claims that would replace a claim the server sets', () => {
    expect(extraClaims({ email: 'a@example.com', sub: 'mallory', iss: 'x', nonce: 'n', auth_time: 1 })).toEqual({ email: 'a@example.com' });
    expect(extraClaims(undefined)).toEqual({});
  });
});
