// The rules of Client ID Metadata Documents that need no network
// (draft-ietf-oauth-client-id-metadata-document §3, §4, §4.1, §5.2; README,
// "Client ID Metadata Documents").
import { describe, expect, it } from '@jest/globals';
import {
  cacheLifetime,
  clientIdUrlProblem,
  documentProblem,
  hostAllowed,
  isJsonMediaType,
} from '../../src/clients/client-id-metadata-document.js';

const URL_ID = 'https://client.example.com/oauth/metadata.json';
const BOUNDS = { minSeconds: 60, maxSeconds: 3600 };

describe('a Client Identifier URL (draft §3)', () => {
  it.each([URL_ID, 'https://client.example.com:8443/c', 'https://client.example.com/c?v=1', 'https://127.0.0.1:4000/c.json'])(
    'accepts %s',
    (id) => {
      expect(clientIdUrlProblem(id)).toBeUndefined();
    },
  );

  it.each([
    ['http://client.example.com/c', 'https scheme'],
    ['https://user:pw@client.example.com/c', 'user name or password'],
    ['https://user@client.example.com/c', 'user name or password'],
    ['https://client.example.com/c#frag', 'fragment'],
    ['https://client.example.com/c#', 'fragment'],
    ['https://client.example.com/a/../c', '. or .. path segments'],
    ['https://client.example.com/./c', '. or .. path segments'],
    ['https://client.example.com/a/%2E%2e/c', '. or .. path segments'],
    ['https://client.example.com/', 'must have a path'],
    ['https://client.example.com', 'must have a path'],
    ['https://Client.Example.com/c', 'normalised form, https://client.example.com/c'],
    ['https://client.example.com:443/c', 'normalised form, https://client.example.com/c'],
    ['https://client.example.com/a b', 'printable ASCII'],
    ['https://client.example.com/é', 'printable ASCII'],
    [`https://client.example.com/${'a'.repeat(300)}`, 'at most 255 characters'],
    ['https://', 'is not a URL'],
  ])('refuses %s (%s)', (id, reason) => {
    expect(clientIdUrlProblem(id)).toContain(reason);
  });
});

describe('the allowed hosts', () => {
  it('match exact names, *.domain subdomains (not the domain itself) and * for any host, case-insensitively', () => {
    expect(hostAllowed('client.example.com', ['client.example.com'])).toBe(true);
    expect(hostAllowed('CLIENT.example.com', ['client.example.com'])).toBe(true);
    expect(hostAllowed('other.example.com', ['client.example.com'])).toBe(false);
    expect(hostAllowed('a.b.example.com', ['*.example.com'])).toBe(true);
    expect(hostAllowed('example.com', ['*.example.com'])).toBe(false);
    expect(hostAllowed('evilexample.com', ['*.example.com'])).toBe(false);
    expect(hostAllowed('anything.test', ['*'])).toBe(true);
    expect(hostAllowed('client.example.com', [])).toBe(false);
  });
});

describe('the response content type (draft §4)', () => {
  it('is application/json or application/<...>+json, parameters allowed', () => {
    expect(isJsonMediaType('application/json')).toBe(true);
    expect(isJsonMediaType('Application/JSON; charset=utf-8')).toBe(true);
    expect(isJsonMediaType('application/client-metadata+json')).toBe(true);
    expect(isJsonMediaType('text/json')).toBe(false);
    expect(isJsonMediaType('text/html')).toBe(false);
    expect(isJsonMediaType('application/jsonp')).toBe(false);
    expect(isJsonMediaType(undefined)).toBe(false);
  });
});

describe('what a document may contain (draft §4, §4.1)', () => {
  const doc = (extra: Record<string, unknown>) => ({ client_id: URL_ID, redirect_uris: ['https://client.example.com/cb'], ...extra });

  it('accepts a public or a private_key_jwt client', () => {
    expect(documentProblem(doc({ token_endpoint_auth_method: 'none' }), URL_ID)).toBeUndefined();
    expect(documentProblem(doc({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://client.example.com/jwks' }), URL_ID)).toBeUndefined();
    expect(documentProblem(doc({}), URL_ID)).toBeUndefined();
  });

  it.each([
    [{ client_id: undefined }, 'has no client_id'],
    [{ client_id: 'https://client.example.com/other' }, 'which is not its URL'],
    [{ client_id: `${URL_ID}/` }, 'which is not its URL'],
    [{ client_secret: 's3cret' }, 'client_secret'],
    [{ client_secret_expires_at: 0 }, 'client_secret_expires_at'],
    [{ token_endpoint_auth_method: 'client_secret_basic' }, 'client_secret_basic'],
    [{ token_endpoint_auth_method: 'client_secret_post' }, 'client_secret_post'],
    [{ token_endpoint_auth_method: 'client_secret_jwt' }, 'client_secret_jwt'],
    [{ access_token_strategy: 'jwt' }, 'access token format'],
    [{ owner: 'me' }, 'owner'],
    [{ skip_consent: true }, 'skip_consent'],
    [{ registration_access_token: 'x' }, 'registration_access_token'],
    [{ software_statement: 'eyJ...' }, 'software_statement'],
    [{ sector_identifier_uri: 'https://client.example.com/sector' }, 'sector_identifier_uri'],
  ])('refuses %j (%s)', (extra, reason) => {
    expect(documentProblem(doc(extra), URL_ID)).toContain(reason);
  });
});

describe('the cache lifetime of a fetched document (draft §5.2, RFC 9111)', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('is 0 for no-store and no-cache, whatever else the response says', () => {
    expect(cacheLifetime({ 'cache-control': 'no-store' }, BOUNDS, now)).toBe(0);
    expect(cacheLifetime({ 'cache-control': 'max-age=600, no-cache' }, BOUNDS, now)).toBe(0);
  });

  it('follows s-maxage, then max-age (less Age), within the configured bounds', () => {
    expect(cacheLifetime({ 'cache-control': 'public, max-age=600' }, BOUNDS, now)).toBe(600);
    expect(cacheLifetime({ 'cache-control': 'max-age=600, s-maxage=900' }, BOUNDS, now)).toBe(900);
    expect(cacheLifetime({ 'cache-control': 'max-age=600', age: '100' }, BOUNDS, now)).toBe(500);
    expect(cacheLifetime({ 'cache-control': 'max-age=5' }, BOUNDS, now)).toBe(60);
    expect(cacheLifetime({ 'cache-control': 'max-age=0' }, BOUNDS, now)).toBe(60);
    expect(cacheLifetime({ 'cache-control': 'max-age=86400' }, BOUNDS, now)).toBe(3600);
  });

  it('uses Expires relative to Date when there is no max-age; an unreadable Expires counts as expired', () => {
    const headers = { date: 'Thu, 01 Jan 2026 00:00:00 GMT', expires: 'Thu, 01 Jan 2026 00:20:00 GMT' };
    expect(cacheLifetime(headers, BOUNDS, now)).toBe(1200);
    expect(cacheLifetime({ expires: 'Thu, 01 Jan 2026 00:10:00 GMT' }, BOUNDS, now)).toBe(600);
    expect(cacheLifetime({ expires: 'yesterday-ish' }, BOUNDS, now)).toBe(60);
  });

  it('is the lower bound when the response says nothing about caching', () => {
    expect(cacheLifetime({}, BOUNDS, now)).toBe(60);
    expect(cacheLifetime({}, { minSeconds: 0, maxSeconds: 3600 }, now)).toBe(0);
  });
});
