import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { OAuthError } from '../../src/common/oauth-error.js';
import { renderOpenApiDocument } from '../../src/openapi.js';

interface Schema {
  type?: string;
  $ref?: string;
}
interface Example {
  value: { error: string; error_description?: string };
}
interface Response {
  headers?: Record<string, { schema?: Schema }>;
  content?: Record<string, { examples?: Record<string, Example> }>;
}
interface Operation {
  parameters?: Array<{ name: string; in: string; schema?: Schema }>;
  security?: Array<Record<string, string[]>>;
  responses: Record<string, Response>;
}
interface Document {
  info: { contact?: { name?: string; url?: string; email?: string }; license?: { name?: string } };
  servers?: Array<{ url: string; variables?: Record<string, { default: string }> }>;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme?: string; bearerFormat?: string }> };
}

const committed = readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8');
const doc = JSON.parse(committed) as Document;
const operations = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
  Object.entries(byMethod).map(([method, operation]) => ({ path, method, operation })),
);
const operation = (method: string, path: string): Operation => {
  const found = doc.paths[path]?.[method];
  if (!found) throw new Error(`${method} ${path} is not in openapi.json`);
  return found;
};

describe('the committed openapi.json', () => {
  it('matches what the code generates (regenerate with npm run openapi)', async () => {
    const generated = await renderOpenApiDocument();
    expect(JSON.parse(generated)).toEqual(JSON.parse(committed));
  });

  it('gives every path, query and header parameter a typed schema', () => {
    const parameters = operations.flatMap(({ path, method, operation: op }) =>
      (op.parameters ?? []).map((p) => ({ at: `${method} ${path} ${p.in} ${p.name}`, typed: Boolean(p.schema?.type || p.schema?.$ref) })),
    );
    expect(parameters.length).toBeGreaterThan(30);
    expect(parameters.filter((p) => !p.typed).map((p) => p.at)).toEqual([]);
  });

  it('says where the API is served, and who maintains it under which licence', () => {
    expect(doc.servers?.map((s) => s.url)).toEqual(['/', '{issuer}']);
    expect(doc.servers?.[1].variables?.issuer.default).toMatch(/^https?:\/\//);
    expect(doc.info.contact?.name).toBeTruthy();
    expect(doc.info.license?.name).toBe('Apache-2.0');
  });

  it('offers HTTP Basic client authentication (or body credentials) on the token, introspection and revocation endpoints', () => {
    expect(doc.components.securitySchemes['client-basic']).toMatchObject({ type: 'http', scheme: 'basic' });
    for (const path of ['/oauth2/token', '/oauth2/introspect', '/oauth2/revoke']) {
      expect(operation('post', path).security).toEqual([{ 'client-basic': [] }, {}]);
    }
    const usingBasic = operations.filter(({ operation: op }) => (op.security ?? []).some((s) => 'client-basic' in s)).map((o) => o.path);
    expect(usingBasic.sort()).toEqual(['/oauth2/introspect', '/oauth2/revoke', '/oauth2/token']);
  });

  it('claims no token format for the bearer credentials, which are opaque to their holders', () => {
    const bearers = Object.entries(doc.components.securitySchemes).filter(([, s]) => s.scheme === 'bearer');
    expect(bearers.map(([name]) => name).sort()).toEqual([
      'access-token',
      'admin-api-key',
      'initial-access-token',
      'registration-access-token',
      'registration-scoped-access-token',
    ]);
    for (const [, scheme] of bearers) expect(scheme).not.toHaveProperty('bearerFormat');
  });

  it('declares the Link header on every paginated admin list', () => {
    const paginated = operations.filter(({ operation: op }) => (op.parameters ?? []).some((p) => p.name === 'page_token'));
    expect(paginated.map((o) => `${o.method} ${o.path}`).sort()).toEqual([
      'get /admin/clients',
      'get /admin/events',
      'get /admin/initial-access-tokens',
      'get /admin/policies',
      'get /admin/trust/grants/jwt-bearer/issuers',
    ]);
    for (const { operation: op } of paginated) {
      expect(op.responses['200'].headers?.Link?.schema).toEqual({ type: 'string' });
    }
  });

  it('declares Retry-After on the 429 and 503 answers of registration and update', () => {
    const retryAfter = (op: Operation, status: string) => op.responses[status]?.headers?.['Retry-After']?.schema?.type;
    expect(retryAfter(operation('post', '/oauth2/register'), '429')).toBe('integer');
    expect(retryAfter(operation('post', '/oauth2/register'), '503')).toBe('integer');
    expect(retryAfter(operation('put', '/oauth2/register/{client_id}'), '503')).toBe('integer');
    const withRetryAfter = operations.flatMap(({ operation: op }) => Object.keys(op.responses).filter((status) => retryAfter(op, status)));
    expect(new Set(withRetryAfter)).toEqual(new Set(['429', '503']));
  });

  // Registration and management (RFC 7591/7592), the client-authenticated token endpoints, and the admin client routes (bulk actions included).
  const ERROR_ROUTES = operations
    .filter(({ path }) => /^\/(oauth2\/(register|token|introspect|revoke)|admin\/clients|admin\/bulk\/clients)(\/|$)/.test(path))
    .map(({ method, path }): [string, string] => [method, path]);

  it('covers the registration, management, token and admin client operations', () => {
    expect(ERROR_ROUTES).toHaveLength(20);
  });

  it.each(ERROR_ROUTES)('gives every error answer of %s %s an example whose code has that status', (method, path) => {
    const errors = Object.entries(operation(method, path).responses).filter(([status]) => Number(status) >= 400);
    expect(errors.length).toBeGreaterThan(0);
    for (const [status, response] of errors) {
      const examples = Object.values(response.content?.['application/json']?.examples ?? {});
      expect({ status, examples: examples.length > 0 }).toEqual({ status, examples: true });
      for (const { value } of examples) {
        expect(OAuthError.isCode(value.error)).toBe(true);
        expect({ error: value.error, status: new OAuthError(value.error as never).status }).toEqual({ error: value.error, status: Number(status) });
        expect(value.error_description).toBeTruthy();
      }
    }
  });

  it('names the offending field in the invalid_client_metadata examples', () => {
    const metadataExamples = ERROR_ROUTES.flatMap(([method, path]) =>
      Object.values(operation(method, path).responses['400']?.content?.['application/json']?.examples ?? {}),
    ).filter(({ value }) => value.error === 'invalid_client_metadata');
    expect(metadataExamples.length).toBeGreaterThanOrEqual(4);
    for (const { value } of metadataExamples) expect(value.error_description).toMatch(/^[a-z_]+ /);
  });
});
