import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApp, type RunningApp } from '../support/app.js';

let svc: RunningApp;
let doc: {
  paths: Record<string, Record<string, { security?: Array<Record<string, unknown>>; responses: Record<string, unknown>; requestBody?: unknown }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown> }>; securitySchemes: Record<string, unknown> };
};

beforeAll(async () => {
  svc = await startApp();
  doc = (await (await fetch(`${svc.url}/docs-json`)).json()) as typeof doc;
});
afterAll(async () => {
  await svc?.close();
});

const ROUTES: Array<[string, string]> = [
  ['get', '/health/alive'],
  ['get', '/health/ready'],
  ['post', '/admin/clients'],
  ['get', '/admin/clients'],
  ['get', '/admin/clients/{id}'],
  ['put', '/admin/clients/{id}'],
  ['patch', '/admin/clients/{id}'],
  ['delete', '/admin/clients/{id}'],
  ['post', '/admin/initial-access-tokens'],
  ['get', '/admin/initial-access-tokens'],
  ['get', '/admin/initial-access-tokens/{id}'],
  ['delete', '/admin/initial-access-tokens/{id}'],
  ['post', '/admin/policies'],
  ['get', '/admin/policies'],
  ['get', '/admin/policies/{name}'],
  ['put', '/admin/policies/{name}'],
  ['delete', '/admin/policies/{name}'],
  ['post', '/admin/oauth2/introspect'],
  ['get', '/admin/keys'],
  ['post', '/admin/keys/rotate'],
  ['post', '/oauth2/register'],
  ['get', '/oauth2/register/{client_id}'],
  ['put', '/oauth2/register/{client_id}'],
  ['delete', '/oauth2/register/{client_id}'],
  ['post', '/oauth2/token'],
  ['get', '/oauth2/auth'],
  ['get', '/userinfo'],
  ['post', '/userinfo'],
  ['get', '/oauth2/sessions/logout'],
  ['get', '/admin/oauth2/auth/requests/login'],
  ['put', '/admin/oauth2/auth/requests/login/accept'],
  ['put', '/admin/oauth2/auth/requests/login/reject'],
  ['get', '/admin/oauth2/auth/requests/consent'],
  ['put', '/admin/oauth2/auth/requests/consent/accept'],
  ['put', '/admin/oauth2/auth/requests/consent/reject'],
  ['delete', '/admin/oauth2/auth/sessions/login'],
  ['delete', '/admin/oauth2/auth/sessions/consent'],
  ['post', '/oauth2/introspect'],
  ['post', '/oauth2/revoke'],
  ['get', '/.well-known/openid-configuration'],
  ['get', '/.well-known/oauth-authorization-server'],
  ['get', '/.well-known/jwks.json'],
];

describe('the OpenAPI document and Swagger UI', () => {
  it('serves Swagger UI at /docs', async () => {
    const res = await fetch(`${svc.url}/docs`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('swagger-ui');
  });

  it.each(ROUTES)('documents %s %s with a response schema', (method, path) => {
    const operation = doc.paths[path]?.[method];
    expect(operation).toBeDefined();
    expect(Object.keys(operation.responses).length).toBeGreaterThan(0);
  });

  it('requires the admin key on every /admin operation, a bearer token on the DCR routes and offers Basic client authentication on the token routes', () => {
    const bearerOf = (path: string): string[] =>
      path.startsWith('/admin')
        ? ['admin-api-key']
        : path === '/oauth2/register'
          ? ['initial-access-token', 'registration-scoped-access-token']
          : path === '/oauth2/register/{client_id}' || path === '/oauth2/register/{client_id}/secrets/rotate'
            ? ['registration-access-token']
            : path === '/userinfo'
              ? ['access-token']
              : ['/oauth2/token', '/oauth2/introspect', '/oauth2/revoke'].includes(path)
                ? ['client-basic']
                : [];
    const operations = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
      Object.entries(byMethod).map(([method, operation]) => ({ path, method, schemes: (operation.security ?? []).flatMap((s) => Object.keys(s)) })),
    );
    // Every operation, each with exactly the scheme its path calls for (none on the public OAuth and discovery routes).
    expect(operations).toEqual(operations.map(({ path, method }) => ({ path, method, schemes: bearerOf(path) })));
    for (const path of ['/admin/clients', '/oauth2/register', '/oauth2/register/{client_id}', '/userinfo', '/oauth2/token']) {
      expect(operations.map((o) => o.path)).toContain(path);
    }
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([
      'access-token',
      'admin-api-key',
      'client-basic',
      'initial-access-token',
      'registration-access-token',
      'registration-scoped-access-token',
    ]);
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/dev'))).toEqual([]);
  });

  it('describes clients with every metadata field, and the registration request without operator-only fields', () => {
    const client = doc.components.schemas.OAuth2Client.properties!;
    for (const field of ['client_id', 'redirect_uris', 'metadata', 'access_token_strategy', 'owner', 'jwks', 'skip_consent']) {
      expect(client).toHaveProperty(field);
    }
    const request = doc.components.schemas.ClientRegistrationRequest.properties!;
    expect(request).toHaveProperty('redirect_uris');
    for (const field of ['access_token_strategy', 'metadata', 'owner', 'client_id', 'client_secret', 'skip_consent']) {
      expect(request).not.toHaveProperty(field);
    }
    expect(doc.components.schemas.ClientRegistrationResponse.properties).not.toHaveProperty('access_token_strategy');
  });

  it('serves the same document as the committed openapi.json', () => {
    const committed = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as typeof doc;
    expect(doc).toEqual(committed);
  });

  it('gives every error response the OAuth error schema', () => {
    const error = doc.components.schemas.ErrorResponseDto.properties!;
    expect(Object.keys(error).sort()).toEqual(['error', 'error_description']);
  });
});
