// Registrar's TypeScript SDK: the generated types (schema.d.ts, from openapi.json)
// behind a typed client, and helpers for the common flows.
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';
export type ClientMetadata = components['schemas']['ClientRegistrationRequest'];
export type RegisteredClientMetadata = components['schemas']['ClientRegistrationResponse'];
export type InitialAccessToken = components['schemas']['InitialAccessTokenDto'];
export type TokenResponse = components['schemas']['TokenResponseDto'];
export type OAuth2Client = components['schemas']['OAuth2Client'];

/** An error answered by Registrar: `{"error", "error_description"}` with the HTTP status. */
export class RegistrarError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description?: string,
  ) {
    super(description ? `${error}: ${description}` : error);
    this.name = 'RegistrarError';
  }
}

export type RegistrarClient = Client<paths>;

export interface RegistrarOptions {
  /** The issuer URL, e.g. https://registrar.example.com */
  baseUrl: string;
  fetch?: typeof fetch;
}

/** The typed low-level client: every route of openapi.json, checked at compile time. */
export function createRegistrarClient(options: RegistrarOptions): RegistrarClient {
  return createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), fetch: options.fetch });
}

function bearer(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}

function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    const body = (result.error ?? {}) as { error?: string; error_description?: string };
    throw new RegistrarError(result.response.status, body.error ?? 'http_error', body.error_description);
  }
  return result.data as T;
}

/**
 * A client registered through RFC 7591, managed through RFC 7592. It keeps the
 * registration access token and replaces it with the rotated one after every update.
 */
export class RegisteredClient {
  constructor(
    private readonly api: RegistrarClient,
    public metadata: RegisteredClientMetadata,
    public registrationAccessToken: string,
  ) {}

  get clientId(): string {
    return this.metadata.client_id as string;
  }

  async read(): Promise<RegisteredClientMetadata> {
    const result = await this.api.GET('/oauth2/register/{client_id}', {
      params: { path: { client_id: this.clientId } },
      headers: bearer(this.registrationAccessToken),
    });
    this.metadata = { ...this.metadata, ...unwrap(result) };
    return this.metadata;
  }

  /** Full replacement (RFC 7592 §2.2); fields left out fall back to the server's defaults. */
  async update(metadata: ClientMetadata): Promise<RegisteredClientMetadata> {
    const result = await this.api.PUT('/oauth2/register/{client_id}', {
      params: { path: { client_id: this.clientId } },
      headers: bearer(this.registrationAccessToken),
      body: { ...metadata, client_id: this.clientId },
    });
    const updated = unwrap(result);
    if (updated.registration_access_token) this.registrationAccessToken = updated.registration_access_token;
    this.metadata = { ...updated, client_secret: this.metadata.client_secret };
    return this.metadata;
  }

  async delete(): Promise<void> {
    const result = await this.api.DELETE('/oauth2/register/{client_id}', {
      params: { path: { client_id: this.clientId } },
      headers: bearer(this.registrationAccessToken),
    });
    unwrap(result);
  }
}

/** Helpers for the flows most integrations need. */
export class Registrar {
  readonly api: RegistrarClient;

  constructor(options: RegistrarOptions) {
    this.api = createRegistrarClient(options);
  }

  /** RFC 7591 registration with an initial access token (omit it where anonymous registration is open). */
  async register(metadata: ClientMetadata, initialAccessToken?: string): Promise<RegisteredClient> {
    const result = await this.api.POST('/oauth2/register', {
      body: metadata,
      headers: initialAccessToken ? bearer(initialAccessToken) : {},
    });
    const created = unwrap(result);
    return new RegisteredClient(this.api, created, created.registration_access_token as string);
  }

  /** Resumes managing a client whose registration access token was kept elsewhere. */
  manage(clientId: string, registrationAccessToken: string): RegisteredClient {
    return new RegisteredClient(this.api, { client_id: clientId }, registrationAccessToken);
  }

  /** Operator: mint an initial access token with the admin API key. */
  async mintInitialAccessToken(
    adminKey: string,
    request: components['schemas']['MintInitialAccessTokenDto'] = {},
  ): Promise<InitialAccessToken & { token: string }> {
    const result = await this.api.POST('/admin/initial-access-tokens', { body: request, headers: bearer(adminKey) });
    return unwrap(result) as InitialAccessToken & { token: string };
  }

  /** The client_credentials grant, authenticating with client_secret_basic (or client_secret_post). */
  async clientCredentials(options: {
    clientId: string;
    clientSecret: string;
    scope?: string;
    audience?: string[];
    authMethod?: 'client_secret_basic' | 'client_secret_post';
  }): Promise<TokenResponse> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (options.scope !== undefined) form.set('scope', options.scope);
    for (const a of options.audience ?? []) form.append('audience', a);
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (options.authMethod === 'client_secret_post') {
      form.set('client_id', options.clientId);
      form.set('client_secret', options.clientSecret);
    } else {
      // RFC 6749 §2.3.1: each part is form-urlencoded before Base64.
      const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
      headers.Authorization = `Basic ${btoa(`${encode(options.clientId)}:${encode(options.clientSecret)}`)}`;
    }
    const result = await this.api.POST('/oauth2/token', {
      body: form as never,
      headers,
      bodySerializer: (body: unknown) => String(body),
    });
    return unwrap(result);
  }
}
