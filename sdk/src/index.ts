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
export type Introspection = components['schemas']['IntrospectionResponseDto'];
export type Policy = components['schemas']['PolicyDto'];
export type PolicyInput = components['schemas']['PolicyInputDto'];
export type SigningKey = components['schemas']['SigningKeyDto'];
export type TrustedJwtGrantIssuer = components['schemas']['TrustedJwtGrantIssuerDto'];
export type TrustJwtGrantIssuer = components['schemas']['TrustJwtGrantIssuerDto'];
export type ClientFilter = components['schemas']['ClientFilterDto'];
export type BulkClientAction = components['schemas']['BulkClientActionDto'];
export type BulkClientActionResult = components['schemas']['BulkClientActionResult'];
export type AuditEvent = components['schemas']['AuditEventDto'];
/** GET /admin/events filters: `type` (one or several), `client_id`, `actor_type`, `since` and `until` (RFC 3339). */
export type AuditEventFilter = Omit<NonNullable<paths['/admin/events']['get']['parameters']['query']>, 'page_token'>;

/** How a client authenticates at the token, introspection and revocation endpoints. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  /** Default client_secret_basic, as Registrar registers clients by default. */
  authMethod?: 'client_secret_basic' | 'client_secret_post';
}

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

  /**
   * Rotates the client secret: the new one lands in `metadata.client_secret`; the
   * previous one keeps working for the server's overlap, so running instances can switch over.
   */
  async rotateSecret(): Promise<RegisteredClientMetadata> {
    const result = await this.api.POST('/oauth2/register/{client_id}/secrets/rotate', {
      params: { path: { client_id: this.clientId } },
      headers: bearer(this.registrationAccessToken),
    });
    this.metadata = { ...this.metadata, ...unwrap(result) };
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

  /**
   * Recovers a lost registration access token of a private_key_jwt client
   * (README "Re-registration and recovering a registration access token"):
   * `clientAssertion` is a JWT the client signs with one of its registered
   * keys, with iss = sub = clientId, aud = the issuer (or this route's URL), a
   * fresh jti and exp at most 10 minutes ahead. The previous token stops working.
   */
  async recoverRegistrationAccessToken(clientId: string, clientAssertion: string): Promise<RegisteredClient> {
    const form = new URLSearchParams({
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion,
    });
    const recovered = unwrap(
      await this.api.POST('/oauth2/register/{client_id}/registration-access-token', {
        params: { path: { client_id: clientId } },
        body: form as never,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        bodySerializer: (body: unknown) => String(body),
      }),
    );
    return new RegisteredClient(this.api, recovered, recovered.registration_access_token as string);
  }

  /** Operator: mint an initial access token with the admin API key. */
  async mintInitialAccessToken(
    adminKey: string,
    request: components['schemas']['MintInitialAccessTokenDto'] = {},
  ): Promise<InitialAccessToken & { token: string }> {
    return this.admin(adminKey).mintInitialAccessToken(request);
  }

  /** The client_credentials grant (RFC 6749 §4.4). */
  async clientCredentials(options: ClientCredentials & { scope?: string; audience?: string[] }): Promise<TokenResponse> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (options.scope !== undefined) form.set('scope', options.scope);
    for (const a of options.audience ?? []) form.append('audience', a);
    return unwrap(await this.api.POST('/oauth2/token', this.authenticated(options, form)));
  }

  /** Token introspection (RFC 7662) of a token issued to, or addressed to, the calling client. */
  async introspect(credentials: ClientCredentials, token: string): Promise<Introspection> {
    return unwrap(await this.api.POST('/oauth2/introspect', this.authenticated(credentials, new URLSearchParams({ token }))));
  }

  /** Token revocation (RFC 7009); unknown or inactive tokens are not an error. */
  async revoke(credentials: ClientCredentials, token: string): Promise<void> {
    unwrap(await this.api.POST('/oauth2/revoke', this.authenticated(credentials, new URLSearchParams({ token }))));
  }

  /** The operator's side: the admin API with an admin key. */
  admin(adminKey: string): RegistrarAdmin {
    return new RegistrarAdmin(this.api, adminKey);
  }

  /** A form body with the client's credentials, the way its authentication method sends them. */
  private authenticated(credentials: ClientCredentials, form: URLSearchParams) {
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (credentials.authMethod === 'client_secret_post') {
      form.set('client_id', credentials.clientId);
      form.set('client_secret', credentials.clientSecret);
    } else {
      // RFC 6749 §2.3.1: each part is form-urlencoded before Base64.
      const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
      headers.Authorization = `Basic ${btoa(`${encode(credentials.clientId)}:${encode(credentials.clientSecret)}`)}`;
    }
    return { body: form as never, headers, bodySerializer: (body: unknown) => String(body) };
  }
}

/** The page_token of the rel="next" link of a paginated admin list (RFC 8288), if more remain. */
export function nextPageToken(response: Response): string | undefined {
  const next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
  return next ? (new URL(next, 'http://link.invalid').searchParams.get('page_token') ?? undefined) : undefined;
}

type Page<T> = { data?: T[]; error?: unknown; response: Response };

/** Every item of a paginated admin list, page after page, following the Link header. */
export async function* pages<T>(fetchPage: (pageToken: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
  let token: string | undefined;
  do {
    const result = await fetchPage(token);
    yield* unwrap(result);
    token = nextPageToken(result.response);
  } while (token !== undefined);
}

/** The admin API (clients, initial access tokens, policies, keys, trusted JWT grant issuers), authenticated with an admin key. */
export class RegistrarAdmin {
  private readonly headers: { Authorization: string };

  constructor(
    private readonly api: RegistrarClient,
    adminKey: string,
  ) {
    this.headers = bearer(adminKey);
  }

  /**
   * Every client the filters match (owner, client_name, and the provenance filters: initial_access_token_id,
   * policy, software_id, software_statement_issuer, created_via, last_used_before/after, suspended), across all pages.
   */
  clients(filter: ClientFilter & { page_size?: number } = {}): AsyncGenerator<OAuth2Client> {
    return pages((page_token) =>
      this.api.GET('/admin/clients', { params: { query: { ...filter, ...(page_token ? { page_token } : {}) } }, headers: this.headers }),
    );
  }

  /** Audit events, newest first, across all pages (README "Audit events"). */
  events(filter: AuditEventFilter = {}): AsyncGenerator<AuditEvent> {
    return pages((page_token) =>
      this.api.GET('/admin/events', { params: { query: { ...filter, ...(page_token ? { page_token } : {}) } }, headers: this.headers }),
    );
  }

  async getClient(id: string): Promise<OAuth2Client> {
    return unwrap(await this.api.GET('/admin/clients/{id}', { params: { path: { id } }, headers: this.headers }));
  }

  async createClient(client: OAuth2Client): Promise<OAuth2Client> {
    return unwrap(await this.api.POST('/admin/clients', { body: client, headers: this.headers }));
  }

  /**
   * Issues a new client secret (in the answer's client_secret, shown this once); the previous one
   * keeps working for `previous_secret_expires_in` (seconds or e.g. '1h'), or the server's configured overlap.
   */
  async rotateClientSecret(id: string, options: components['schemas']['RotateClientSecretDto'] = {}): Promise<OAuth2Client> {
    return unwrap(await this.api.POST('/admin/clients/{id}/secrets/rotate', { params: { path: { id } }, body: options, headers: this.headers }));
  }

  /** Suspends a client (README "Operating a fleet of dynamic clients"); the reason is shown to its registrant too. */
  async suspendClient(id: string, reason?: string): Promise<OAuth2Client> {
    const body = reason === undefined ? {} : { reason };
    return unwrap(await this.api.POST('/admin/clients/{id}/suspend', { params: { path: { id } }, body, headers: this.headers }));
  }

  async resumeClient(id: string): Promise<OAuth2Client> {
    return unwrap(await this.api.POST('/admin/clients/{id}/resume', { params: { path: { id } }, headers: this.headers }));
  }

  /**
   * Applies an action to every client a filter matches. `dryRun` only counts them ({matched, sample});
   * an empty filter is refused unless `all: true`.
   */
  async bulkClients(request: {
    action: BulkClientAction['action'];
    filter?: ClientFilter;
    dryRun?: boolean;
    reason?: string;
    all?: boolean;
  }): Promise<BulkClientActionResult> {
    const { dryRun, ...rest } = request;
    const body: BulkClientAction = { ...rest, ...(dryRun !== undefined ? { dry_run: dryRun } : {}) };
    return unwrap(await this.api.POST('/admin/bulk/clients', { body, headers: this.headers }));
  }

  async deleteClient(id: string): Promise<void> {
    unwrap(await this.api.DELETE('/admin/clients/{id}', { params: { path: { id } }, headers: this.headers }));
  }

  async mintInitialAccessToken(request: components['schemas']['MintInitialAccessTokenDto'] = {}): Promise<InitialAccessToken & { token: string }> {
    return unwrap(await this.api.POST('/admin/initial-access-tokens', { body: request, headers: this.headers })) as InitialAccessToken & { token: string };
  }

  initialAccessTokens(): AsyncGenerator<InitialAccessToken> {
    return pages((page_token) =>
      this.api.GET('/admin/initial-access-tokens', { params: { query: page_token ? { page_token } : {} }, headers: this.headers }),
    );
  }

  async revokeInitialAccessToken(id: string): Promise<void> {
    unwrap(await this.api.DELETE('/admin/initial-access-tokens/{id}', { params: { path: { id } }, headers: this.headers }));
  }

  async createPolicy(policy: PolicyInput): Promise<Policy> {
    return unwrap(await this.api.POST('/admin/policies', { body: policy, headers: this.headers }));
  }

  async getPolicy(name: string): Promise<Policy> {
    return unwrap(await this.api.GET('/admin/policies/{name}', { params: { path: { name } }, headers: this.headers }));
  }

  async deletePolicy(name: string): Promise<void> {
    unwrap(await this.api.DELETE('/admin/policies/{name}', { params: { path: { name } }, headers: this.headers }));
  }

  async signingKeys(): Promise<SigningKey[]> {
    return unwrap(await this.api.GET('/admin/keys', { headers: this.headers }));
  }

  async rotateSigningKey(): Promise<SigningKey> {
    return unwrap(await this.api.POST('/admin/keys/rotate', { headers: this.headers }));
  }

  /** Trusts an issuer's key for the JWT bearer grant (RFC 7523 §2.1), for one subject or any. */
  async trustJwtGrantIssuer(trust: TrustJwtGrantIssuer): Promise<TrustedJwtGrantIssuer> {
    return unwrap(await this.api.POST('/admin/trust/grants/jwt-bearer/issuers', { body: trust, headers: this.headers }));
  }

  /** Every trusted JWT grant issuer, optionally only those of one issuer, across all pages. */
  trustedJwtGrantIssuers(filter: { issuer?: string; page_size?: number } = {}): AsyncGenerator<TrustedJwtGrantIssuer> {
    return pages((page_token) =>
      this.api.GET('/admin/trust/grants/jwt-bearer/issuers', { params: { query: { ...filter, ...(page_token ? { page_token } : {}) } }, headers: this.headers }),
    );
  }

  async getTrustedJwtGrantIssuer(id: string): Promise<TrustedJwtGrantIssuer> {
    return unwrap(await this.api.GET('/admin/trust/grants/jwt-bearer/issuers/{id}', { params: { path: { id } }, headers: this.headers }));
  }

  async deleteTrustedJwtGrantIssuer(id: string): Promise<void> {
    unwrap(await this.api.DELETE('/admin/trust/grants/jwt-bearer/issuers/{id}', { params: { path: { id } }, headers: this.headers }));
  }
}
