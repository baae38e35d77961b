// RFC 8707 §2 resource values, alone and as the authorization request reads them.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { RedirectableError, validateAuthorizationRequest } from '../../src/authorization/authorization-request.js';
import type { ClientEntity } from '../../src/clients/client.entity.js';
import { OAuthError } from '../../src/common/oauth-error.js';
import { checkedResources, isResourceIndicator, MAX_RESOURCES } from '../../src/common/resource-indicators.js';

const API = 'https://api.example.com/';
const BILLING = 'https://billing.example.com/v1';

function refusal(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
  throw new Error('expected an OAuthError');
}

describe('a resource indicator (RFC 8707 §2)', () => {
  it.each([
    'https://api.example.com/',
    'https://api.example.com',
    'https://api.example.com:8443/v1/orders',
    'https://api.example.com/v1?tenant=a',
    'http://127.0.0.1:8080/mcp',
    'urn:example:resource:orders',
    'https://[::1]/x',
    'https://api.example.com/%20encoded',
  ])('accepts the absolute URI %s', (value) => {
    expect(isResourceIndicator(value)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['a fragment', 'https://api.example.com/#x'],
    ['an empty fragment', 'https://api.example.com/#'],
    ['a relative reference', '/api'],
    ['a network-path reference', '//api.example.com/'],
    ['a bare host', 'api.example.com'],
    ['a scheme alone', 'https:'],
    ['a scheme that starts with a digit', '1https://api.example.com/'],
    ['a space', 'https://api.example.com/a b'],
    ['a leading space', ' https://api.example.com/'],
    ['a trailing newline', 'https://api.example.com/\n'],
    ['a NUL', 'https://api.example.com/\u0000'],
    ['a non-ASCII character', 'https://api.exämple.com/'],
    ['a broken percent-encoding', 'https://api.example.com/%zz'],
    ['a truncated percent-encoding', 'https://api.example.com/%4'],
    ['quotes', 'https://api.example.com/"x"'],
    ['angle brackets', 'https://api.example.com/<script>'],
    ['a backslash', 'https://api.example.com\\x'],
    ['an unparseable authority', 'https://exa mple.com/'],
    ['an invalid port', 'https://api.example.com:99999/'],
    ['more than 2048 characters', `https://api.example.com/${'a'.repeat(2048)}`],
  ])('refuses %s', (_why, value) => {
    expect(isResourceIndicator(value)).toBe(false);
  });

  it('never accepts a value with a fragment or without a scheme, whatever surrounds it', () => {
    fc.assert(
      fc.property(fc.webUrl(), fc.string({ maxLength: 20 }), (url, fragment) => {
        expect(isResourceIndicator(`${url}#${fragment}`)).toBe(false);
        expect(isResourceIndicator(url.replace(/^[a-z]+:/, ''))).toBe(false);
      }),
    );
  });

  it('never throws on any string, and accepts only strings of URI characters with a scheme', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (value) => {
        const accepted = isResourceIndicator(value);
        if (accepted) expect(value).toMatch(/^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7E]+$/);
        if (accepted) expect(value).not.toContain('#');
      }),
    );
  });
});

describe('checked resources', () => {
  const allowed = [API, BILLING, 'not-a-uri'];

  it('returns the requested resources without repeats when every one is allowed', () => {
    expect(checkedResources([API, BILLING, API], allowed, 'is not allowed')).toEqual([API, BILLING]);
    expect(checkedResources([], allowed, 'is not allowed')).toEqual([]);
  });

  it('is invalid_target naming a malformed value before any that is not allowed', () => {
    const err = refusal(() => checkedResources(['https://other.example.com/', 'https://api.example.com/#frag'], allowed, 'is not allowed'));
    expect([err.code, err.status]).toEqual(['invalid_target', 400]);
    expect(err.description).toBe('resource "https://api.example.com/#frag" must be an absolute URI without a fragment (RFC 8707 §2)');
  });

  it('is invalid_target naming a value outside the allowed ones, compared exactly', () => {
    expect(refusal(() => checkedResources(['https://other.example.com/'], allowed, 'is not allowed')).description).toBe(
      'resource "https://other.example.com/" is not allowed',
    );
    // No normalisation: a trailing slash or upper case is another resource.
    expect(refusal(() => checkedResources(['https://api.example.com'], allowed, 'is not allowed')).code).toBe('invalid_target');
    expect(refusal(() => checkedResources(['HTTPS://api.example.com/'], allowed, 'is not allowed')).code).toBe('invalid_target');
  });

  it('refuses an audience value that is not a URI even though the client has it', () => {
    expect(refusal(() => checkedResources(['not-a-uri'], allowed, 'is not allowed')).description).toContain('must be an absolute URI');
  });

  it('quotes a long value only in part', () => {
    const long = `https://api.example.com/${'x'.repeat(3000)}`;
    const err = refusal(() => checkedResources([long], allowed, 'is not allowed'));
    expect(err.description!.length).toBeLessThan(300);
  });

  it('bounds the number of resources', () => {
    expect(refusal(() => checkedResources(Array(MAX_RESOURCES + 1).fill(API), allowed, 'is not allowed')).code).toBe('invalid_target');
  });
});

describe('resource on the authorization request', () => {
  const client = {
    id: 'c1',
    fields: {
      redirect_uris: ['https://app.example.com/cb'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid',
      audience: [API, BILLING, 'urn:example:ledger'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  } as unknown as ClientEntity;

  function validate(query: string) {
    return validateAuthorizationRequest(client, new URLSearchParams(`response_type=code&state=s&${query}`), { pkceEnforced: false, requestUrl: 'x' });
  }

  function redirectedError(query: string): RedirectableError {
    try {
      validate(query);
    } catch (err) {
      if (err instanceof RedirectableError) return err;
      throw err;
    }
    throw new Error('expected a RedirectableError');
  }

  it('accepts resource repeated and adds the values to the requested audience after Hydra\'s audience', () => {
    const r = validate(`audience=${encodeURIComponent('urn:example:ledger')}&resource=${encodeURIComponent(API)}&resource=${encodeURIComponent(BILLING)}&resource=${encodeURIComponent(API)}`);
    expect(r.audience).toEqual(['urn:example:ledger', API, BILLING]);
  });

  it('sends invalid_target back to the redirect URI with the state, naming the value', () => {
    for (const [value, text] of [
      ['https://other.example.com/', 'is not a resource the client may request'],
      [`${API}#f`, 'without a fragment'],
      ['/relative', 'absolute URI'],
      [' ', 'absolute URI'],
    ]) {
      const err = redirectedError(`resource=${encodeURIComponent(API)}&resource=${encodeURIComponent(value)}`);
      expect([err.code, err.redirectUri, err.state]).toEqual(['invalid_target', 'https://app.example.com/cb', 's']);
      expect(err.description).toContain(JSON.stringify(value));
      expect(err.description).toContain(text);
    }
  });

  it('treats a resource sent without a value as omitted (RFC 6749 §3.1)', () => {
    expect(validate(`resource=&resource=${encodeURIComponent(API)}`).audience).toEqual([API]);
    expect(validate('resource=').audience).toEqual([]);
  });

  it('still refuses other parameters repeated', () => {
    expect(redirectedError(`resource=${encodeURIComponent(API)}&scope=openid&scope=openid`).code).toBe('invalid_request');
  });
});
